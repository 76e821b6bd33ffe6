"""The listener's preferences as the policy learns them: decayed evidence per (mood, playlist) and per-track memory,
built by replaying the feedback log (:mod:`moodbox.music.policy` chooses with them). Events older than
``state.history_days`` are folded into the store's summary of this state (:func:`compact_feedback`), so that
replaying stays as small as the box is old.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections import Counter, defaultdict
from typing import Iterable

from moodbox.music.store import Event

log = logging.getLogger(__name__)

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

    def export(self) -> str:
        """The learning state as JSON (the store keeps it as the summary of compacted events)."""
        return json.dumps({
            "half_life_days": self.half_life_s / 86400.0, "origin": self._origin,
            "sums": [[mood, playlist, *sums] for (mood, playlist), sums in self._sums.items()],
            "counts": [[mood, playlist, dict(counts)] for (mood, playlist), counts in self.counts.items()],
            "early_skips": self._early_skips, "likes": self._likes})

    def load(self, last_id: int, data: str) -> None:
        """Start from a summary written by :meth:`export` (of events up to ``last_id``). Its sums were faded with
        the half-life of their time; a changed ``music.half_life_days`` applies from then on."""
        state = json.loads(data)
        self.last_id, self._origin = last_id, state["origin"]
        for mood, playlist, success, failure in state["sums"]:
            self._sums[(mood, playlist)] = [success, failure]
        for mood, playlist, counts in state["counts"]:
            self.counts[(mood, playlist)] = Counter(counts)
        self._early_skips, self._likes = dict(state["early_skips"]), dict(state["likes"])

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


COMPACT_BATCH = 10000  # events folded per transaction (a first compaction of years of events stays small)


def compact_feedback(store, *, half_life_days: float, history_days: float, now: float | None = None) -> int:
    """Fold the feedback events older than ``history_days`` into the store's summary of what was learned and
    delete them (and the plays as old); returns how many events were deleted. The policy then starts from the
    summary and replays only the recent events, so its memory and start-up time do not grow with the box's age."""
    before = (time.time() if now is None else now) - history_days * 86400.0
    preferences = Preferences(half_life_days)
    summary = store.summary()
    if summary is not None:
        preferences.load(*summary)
    deleted = 0
    while events := store.events_before(preferences.last_id, before, limit=COMPACT_BATCH):
        preferences.add(events)
        deleted += store.compact(preferences.last_id, preferences.export(), before)
    if deleted:
        log.info("compacted %d feedback events older than %g days into the learning summary", deleted, history_days)
    return deleted
