"""The music policy: which playlist suits a mood, and when the music must not change.

Each expression maps to one or more MPD stored playlists (config ``music.playlists``). With several, the choice is
weighted by what the listener said: each like of a playlist doubles its weight, each skip halves it (capped), so
liked playlists come back more often without the others disappearing. A hold (long press on like) keeps the
current music for ``music.hold_minutes`` whatever the mood does. Empty playlists, and playlists MPD stops being
able to load (deleted or renamed while running), are skipped with a warning.

Policy "match" plays what suits the mood; "lift" starts a low mood with what suits it and then, every
``lift_step_min`` minutes the mood lasts, moves one step up :data:`LIFT_STEPS`.
"""

from __future__ import annotations

import logging
import random
from typing import TYPE_CHECKING, Callable, Mapping

if TYPE_CHECKING:
    from moodbox.config import Config

log = logging.getLogger("moodbox.music")

MAX_SCORE_EFFECT = 4  # a playlist's weight ranges over 2**-4 .. 2**4 of the others'
LOW_MOODS = frozenset({"angry", "disgust", "fear", "sad"})
LIFT_STEPS = ("neutral", "happy")  # whose music a low mood is lifted through, in order


class MusicPolicy:
    """Maps moods to playlists.

    >>> policy = MusicPolicy({"happy": ("upbeat", "party")}, scores=lambda: {"party": 2.0})
    >>> policy.choose("happy") in ("upbeat", "party")
    True
    """

    def __init__(self, playlists: Mapping[str, tuple[str, ...]], *, hold_minutes: float = 30.0,
                 policy: str = "match", lift_step_min: float = 10.0,
                 scores: Callable[[], dict[str, float]] = dict, rng: random.Random | None = None):
        if policy not in ("match", "lift"):
            raise ValueError(f"music policy must be 'match' or 'lift', got {policy!r}")
        self.playlists = dict(playlists)
        self.policy, self.lift_step_min = policy, lift_step_min
        self.hold_minutes = hold_minutes
        self._scores = scores
        self._rng = rng or random.Random()
        self._skipped: set[str] = set()
        self._held_until = float("-inf")

    @classmethod
    def from_config(cls, config: Config, *, scores: Callable[[], dict[str, float]] = dict) -> MusicPolicy:
        """The policy of ``config.music``; ``scores`` gives the learned playlist scores (the store's)."""
        music = config.music
        return cls(music.playlists, hold_minutes=music.hold_minutes, policy=music.policy,
                   lift_step_min=music.lift_step_min, scores=scores)

    def mark_empty(self, names: list[str]) -> None:
        """Playlists that hold no songs; they are never chosen (warned about once here). Replaces what an
        earlier check marked, so a playlist filled or recreated since comes back."""
        for name in names:
            log.warning("playlist %s is empty: skipped", name)
        self._skipped = set(names)

    def mark_unusable(self, name: str, why: str) -> None:
        """A playlist MPD refused to play; it is never chosen again (until the next playlist check)."""
        log.warning("playlist %s cannot be played (%s): skipped", name, why)
        self._skipped.add(name)

    def music_mood(self, mood: str, mood_for_s: float) -> str:
        """Whose music to play for ``mood`` held for ``mood_for_s`` seconds: the mood itself, or with "lift" a
        step up once a low mood has lasted ``lift_step_min`` minutes, another after twice that."""
        if self.policy != "lift" or mood not in LOW_MOODS:
            return mood
        steps = int(mood_for_s // (self.lift_step_min * 60.0))
        return (mood, *LIFT_STEPS)[min(steps, len(LIFT_STEPS))]

    def candidates(self, mood: str) -> list[str]:
        return [name for name in self.playlists.get(mood, ()) if name not in self._skipped]

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

    def hold(self, now: float) -> None:
        """Keep the current music for ``hold_minutes`` from ``now``."""
        self._held_until = now + self.hold_minutes * 60.0

    def release(self) -> None:
        self._held_until = float("-inf")

    def held(self, now: float) -> bool:
        return now < self._held_until

    def held_for_s(self, now: float) -> float:
        return max(0.0, self._held_until - now)
