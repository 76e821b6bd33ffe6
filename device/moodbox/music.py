"""The music policy: which playlist suits a mood, and when the music must not change.

Each expression maps to one or more MPD stored playlists (config ``music.playlists``). With several, the choice is
weighted by what the listener said: each like of a playlist doubles its weight, each skip halves it (capped), so
liked playlists come back more often without the others disappearing. A hold (long press on like) keeps the
current music for ``music.hold_minutes`` whatever the mood does. Empty playlists are skipped with a warning.
"""

from __future__ import annotations

import logging
import random
from typing import Callable, Mapping

log = logging.getLogger("moodbox.music")

MAX_SCORE_EFFECT = 4  # a playlist's weight ranges over 2**-4 .. 2**4 of the others'


class MusicPolicy:
    """Maps moods to playlists.

    >>> policy = MusicPolicy({"happy": ("upbeat", "party")}, scores=lambda: {"party": 2.0})
    >>> policy.choose("happy") in ("upbeat", "party")
    True
    """

    def __init__(self, playlists: Mapping[str, tuple[str, ...]], *, hold_minutes: float = 30.0,
                 scores: Callable[[], dict[str, float]] = dict, rng: random.Random | None = None):
        self.playlists = dict(playlists)
        self.hold_minutes = hold_minutes
        self._scores = scores
        self._rng = rng or random.Random()
        self._empty: set[str] = set()
        self._held_until = float("-inf")

    def mark_empty(self, names: list[str]) -> None:
        """Playlists that hold no songs; they are never chosen (warned about once here)."""
        for name in names:
            log.warning("playlist %s is empty: skipped", name)
        self._empty = set(names)

    def candidates(self, mood: str) -> list[str]:
        return [name for name in self.playlists.get(mood, ()) if name not in self._empty]

    def choose(self, mood: str, current: str | None = None) -> str | None:
        """A playlist for ``mood``: ``current`` when it already suits the mood, else a weighted pick; None if
        the mood has no usable playlist."""
        candidates = self.candidates(mood)
        if not candidates:
            return None
        if current in candidates:
            return current
        scores = self._scores()
        weights = [2.0 ** max(-MAX_SCORE_EFFECT, min(MAX_SCORE_EFFECT, scores.get(name, 0.0)))
                   for name in candidates]
        return self._rng.choices(candidates, weights)[0]

    def hold(self, now: float) -> float:
        """Keep the current music for ``hold_minutes`` from ``now``; returns when the hold ends."""
        self._held_until = now + self.hold_minutes * 60.0
        return self._held_until

    def release(self) -> None:
        self._held_until = float("-inf")

    def held(self, now: float) -> bool:
        return now < self._held_until

    def held_for_s(self, now: float) -> float:
        return max(0.0, self._held_until - now)
