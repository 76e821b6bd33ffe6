"""The listener's preferences as the policy learns them: decayed evidence per (mood, playlist) and per-track memory,
built by replaying the feedback log (:mod:`moodbox.music.policy` chooses with them).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from typing import Iterable

from moodbox.music.store import Event

EARLY_SKIP_S = 30.0
# evidence kind -> (success, failure) pseudo-counts it adds to the playlist's Beta posterior in that mood
REWARDS = {
    "early_skip": (0.0, 1.0),
    "late_skip": (0.0, 0.5),
    "like": (1.0, 0.0),
    "hold": (0.5, 0.0),
    "played": (0.25, 0.0),
}
_MAX_EXPONENT = 256.0  # decayed sums are kept relative to an origin, moved forward before they overflow


def evidence_kind(event: Event) -> str | None:
    """What an event says about its playlist: a key of :data:`REWARDS`, or None (pause, release, ...).

    A skip with no known position (recorded before schema version 3) counts as a late, weak one."""
    if event.action == "skip":
        early = event.elapsed_s is not None and event.elapsed_s < EARLY_SKIP_S
        return "early_skip" if early else "late_skip"
    return event.action if event.action in REWARDS else None


class Preferences:
    """The learning state: decayed evidence per (mood, playlist) and per-track memory, built from events."""

    def __init__(self, half_life_days: float = 30.0):
        self.half_life_s = half_life_days * 86400.0
        self.last_id = 0
        self._origin: float | None = None
        self._sums: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0.0])
        self.counts: dict[tuple[str, str], Counter] = defaultdict(Counter)
        self._early_skips: dict[str, float] = {}  # track -> when it was last skipped early
        self._likes: dict[str, float] = {}        # track -> when it was last liked

    def add(self, events: Iterable[Event]) -> None:
        for event in events:
            self.last_id = max(self.last_id, event.id)
            kind = evidence_kind(event)
            if kind is None:
                continue
            if event.track is not None and kind in ("early_skip", "like"):
                (self._early_skips if kind == "early_skip" else self._likes)[event.track] = event.at
            if event.mood is None or event.playlist is None:
                continue
            if self._origin is None:
                self._origin = event.at
            exponent = (event.at - self._origin) / self.half_life_s
            if exponent > _MAX_EXPONENT:
                self._rebase(event.at)
                exponent = 0.0
            weight = 2.0 ** exponent
            success, failure = REWARDS[kind]
            sums = self._sums[(event.mood, event.playlist)]
            sums[0] += success * weight
            sums[1] += failure * weight
            self.counts[(event.mood, event.playlist)][kind] += 1

    def _rebase(self, origin: float) -> None:
        scale = 2.0 ** (-(origin - self._origin) / self.half_life_s)
        for sums in self._sums.values():
            sums[0] *= scale
            sums[1] *= scale
        self._origin = origin

    def evidence(self, mood: str, playlist: str, now: float) -> tuple[float, float]:
        """(success, failure) pseudo-counts for ``playlist`` in ``mood``, faded to ``now``."""
        if self._origin is None or (mood, playlist) not in self._sums:
            return 0.0, 0.0
        scale = 2.0 ** (-(now - self._origin) / self.half_life_s)
        success, failure = self._sums[(mood, playlist)]
        return success * scale, failure * scale

    def held_off(self, track: str, now: float, hold_off_s: float) -> float | None:
        """When the hold-off of an early-skipped ``track`` ends, or None when it is not held off."""
        skipped = self._early_skips.get(track)
        if skipped is None or now >= skipped + hold_off_s or self._likes.get(track, -math.inf) > skipped:
            return None
        return skipped + hold_off_s

    def liked(self, track: str) -> bool:
        return self._likes.get(track, -math.inf) > self._early_skips.get(track, -math.inf)

    def held_off_tracks(self, now: float, hold_off_s: float) -> dict[str, float]:
        return {track: until for track in self._early_skips
                if (until := self.held_off(track, now, hold_off_s)) is not None}
