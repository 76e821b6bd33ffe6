"""Compaction: the feedback events older than ``state.history_days`` folded into the store's summary of what was
learned from them (:class:`~moodbox.music.preferences.Preferences` exported), so that the policy replays only the
recent events."""

from __future__ import annotations

import logging
import time

from moodbox.music.preferences import Preferences

log = logging.getLogger(__name__)

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
