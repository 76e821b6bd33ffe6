"""The figures of moodbox simulate: intervals over seeds."""

from __future__ import annotations

import pytest

from moodbox.devkit.figures import interval, per_day, summarise, targets
from moodbox.devkit.runs import Run, Song


def test_interval_is_the_mean_with_a_95_percent_half_width():
    assert interval([0.5, 0.7]) == {"mean": 0.6, "half": pytest.approx(1.96 * 0.1414 / 1.4142, abs=1e-3), "n": 2}
    assert interval([None]) == {"mean": None, "half": None, "n": 0}


def test_the_last_days_skips_of_songs_started_in_a_misread_mood_are_counted_apart():
    """Day 2: four songs heard, two skipped; one of those started while the box read sad for a neutral listener."""
    def song(day, seen, skipped, heard=True):
        return Song(day, "evening", "neutral", seen, "everyday", seen == "neutral", heard, skipped, skipped)

    run = Run("default-mapping", "fixed", 1, [song(1, "neutral", True), song(1, "neutral", False),
                                               song(2, "sad", True), song(2, "neutral", True),
                                               song(2, "neutral", False), song(2, "sad", False),
                                               song(2, "sad", True, heard=False)])
    rows = per_day([run], 2)
    assert rows[0]["skip_rate"] == 0.5 and rows[0]["misread_skips"] == 0.0
    assert rows[1]["skip_rate"] == 0.5 and rows[1]["misread_skips"] == 0.25
    summary = summarise({"moodbox": [run], "fixed": [run], "epsilon": [run]}, 2)
    assert summary["fixed"]["skip_rate"] == {"day1": 0.5, "last_day": 0.5, "ratio": 1.0, "last_day_misread": 0.25}


def test_the_skip_rate_target_shows_the_oracles_last_day_against_moodboxs_first():
    def song(day, skipped):
        return Song(day, "evening", "neutral", "neutral", "everyday", True, True, skipped, skipped)

    moodbox = Run("default-mapping", "moodbox", 1, [song(1, True), song(1, False), song(2, True), song(2, False)])
    oracle = Run("default-mapping", "oracle", 1, [song(2, True), song(2, False), song(2, False), song(2, False)])
    summary = summarise({"moodbox": [moodbox], "fixed": [moodbox], "epsilon": [moodbox], "oracle": [oracle]}, 2)
    assert summary["oracle_last_day_skip_rate"] == 0.25 and "oracle" not in summary
    row = targets({"default-mapping": summary})["default-mapping: skip rate last day / day 1 <= 0.5"]
    assert row["ratio"] == 1.0 and row["reachable at best"] == 0.5 and not row["holds"]
