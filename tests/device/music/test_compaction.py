"""Compaction: old feedback folded into the store's summary; what the policy learns stays the same."""

from __future__ import annotations

import random
import sqlite3
import tracemalloc

import pytest

from moodbox.config import DEFAULT_PLAYLISTS
from moodbox.music.compaction import compact_feedback
from moodbox.music.policy import MusicPolicy
from moodbox.music.preferences import PARTS_OF_DAY, Preferences
from moodbox.music.store import Event, FeedbackStore

DAY = 86400.0
NOW = 1.7e9


def test_twenty_years_of_feedback_are_compacted_and_the_learning_state_stays_the_same_size(tmp_path):
    """Issue 25 item 11: the learning state grew with the whole event log (RSS 370 MB and a 7 s first choice after
    20 simulated years, the database ~9.4 MB more a year). A box compacting daily keeps one year of raw events
    (for history) and a summary of the rest: what it learned is the same as replaying everything, and the database
    and the memory the policy needs at start are no bigger after 20 years than after 2."""
    year = 365 * DAY
    start = NOW - 20 * year
    rng = random.Random(7)
    path = tmp_path / "feedback.db"
    FeedbackStore(path).close()
    everything: list[Event] = []
    measured = {}
    for number in range(20):
        rows, plays = [], []
        for _ in range(2000):
            at = start + number * year + rng.random() * year
            mood = rng.choice(["happy", "sad"])
            playlist = rng.choice(["upbeat", "calm", "calming"])
            action = rng.choice(["like", "skip", "played", "played", "hold", "pause"])
            track = f"{playlist}/{rng.randrange(300):03d}.ogg"
            elapsed = rng.random() * 200 if action == "skip" else None
            # what the box knew (schema 4): the mood's confidence, the share of the song seen, a hold
            confidence = rng.choice([None, rng.random()])
            face_share = rng.choice([None, rng.random()]) if action == "played" else None
            held = rng.random() < 0.1
            rows.append((at, action, mood, playlist, track, elapsed, confidence, face_share, held))
            plays.append((at, track, playlist, mood, "next"))
        rows.sort()
        with sqlite3.connect(path) as db:
            first = db.execute("SELECT COALESCE(MAX(id), 0) FROM feedback").fetchone()[0] + 1
            db.executemany("INSERT INTO feedback (at, action, expression, mood, playlist, track, elapsed_s, "
                           "confidence, face_share, held) VALUES (?, ?, NULL, ?, ?, ?, ?, ?, ?, ?)", rows)
            db.executemany("INSERT INTO plays (at, track, playlist, mood, reason) VALUES (?, ?, ?, ?, ?)", plays)
        everything += [Event(first + i, *row) for i, row in enumerate(rows)]
        end = start + (number + 1) * year
        with FeedbackStore(path) as store:
            compact_feedback(store, half_life_days=30.0, history_days=365.0, now=end)
        if number + 1 in (2, 20):
            with FeedbackStore(path) as store:
                tracemalloc.start()
                policy = MusicPolicy(DEFAULT_PLAYLISTS, events=store.events_after, summary=store.summary,
                                     wall_clock=lambda: end)
                policy.refresh()
                peak = tracemalloc.get_traced_memory()[1]
                tracemalloc.stop()
            with sqlite3.connect(path) as db:
                db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                pages = db.execute("PRAGMA page_count").fetchone()[0]
                raw = db.execute("SELECT COUNT(*) FROM feedback").fetchone()[0]
                old_plays = db.execute("SELECT COUNT(*) FROM plays WHERE at < ?", (end - year,)).fetchone()[0]
            measured[number + 1] = peak, pages, raw
            assert raw <= 2000 + 1 and old_plays == 0  # one year of raw events (the newest row is always kept)
    # what it learned is what replaying all 20 years gives
    full = Preferences(30.0)
    full.add(everything)
    learned = policy.preferences
    assert set(learned.counts) == set(full.counts) and len(full.counts) == 2 * 3 * (1 + len(PARTS_OF_DAY))
    for mood, part, playlist in full.counts:
        assert learned.evidence(mood, playlist, end, part) == pytest.approx(
            full.evidence(mood, playlist, end, part), rel=1e-9, abs=1e-12)
        assert learned.counts[(mood, part, playlist)] == full.counts[(mood, part, playlist)]
        assert learned.tolerated_only(mood, playlist) == full.tolerated_only(mood, playlist)
    assert (learned.skip_rate, learned.like_rate) == pytest.approx((full.skip_rate, full.like_rate), rel=1e-9)
    assert all(policy.preferences.held_off(track, end, 7 * DAY) == full.held_off(track, end, 7 * DAY)
               and policy.preferences.liked(track) == full.liked(track) for track in {e.track for e in everything})
    (peak_2, pages_2, _), (peak_20, pages_20, _) = measured[2], measured[20]
    assert peak_20 < 1.3 * peak_2, measured  # flat with age, not 10x
    assert pages_20 < 1.3 * pages_2, measured
