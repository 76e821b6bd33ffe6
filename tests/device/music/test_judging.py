"""How the policy judges what it learned: surely better, surely below even, and the skip rate of the listener's
best-served songs that full plays are weighed against."""

from __future__ import annotations

from collections import Counter

import pytest

from moodbox.music.judging import (
    OUTDATED_SONGS, PRIOR_SONGS, best_served_skip_rate, outdated, surely_below_even, surely_better,
)


def pair(heard, early, late=0):
    return Counter(played=heard - early - late, early_skip=early, late_skip=late)


def test_the_best_served_rate_is_the_least_skipped_third_of_the_songs():
    """Three (mood, playlist) pairs of 60 songs each, skipped 5%, 20% and 50%: the best third is the 5% one, its
    rate shrunk towards the listener's average (0.25) by PRIOR_SONGS; the order the pairs come in does not matter."""
    pairs = [pair(60, 20, 10), pair(60, 3), pair(60, 12)]
    expected = (3 + 0.25 * PRIOR_SONGS) / (60 + PRIOR_SONGS)
    assert best_served_skip_rate(pairs, 0.25) == pytest.approx(expected)
    assert best_served_skip_rate(reversed(pairs), 0.25) == pytest.approx(expected)
    assert best_served_skip_rate([], 0.25) == 0.25  # nothing heard yet: the listener's average
    assert best_served_skip_rate([*pairs, Counter(like=3)], 0.25) == pytest.approx(expected)  # no song heard


def test_surely_below_even_and_surely_better_need_enough_evidence():
    assert surely_below_even((2.0, 20.0)) and not surely_below_even((0.4, 0.6)) and not surely_below_even((6.0, 4.0))
    assert surely_better((20.0, 2.0), (2.0, 20.0)) and not surely_better((1.2, 1.0), (1.0, 1.2))


def test_old_evidence_is_outdated_only_when_the_recent_surely_disagrees():
    """20 songs' worth of old evidence, 16 of them yes: overruled by 8 recent no's (then worth OUTDATED_SONGS), not by
    recent evidence that agrees, nor by none."""
    assert outdated((16.0, 4.0), (0.0, 8.0)) == pytest.approx(OUTDATED_SONGS / 20.0)
    assert outdated((4.0, 16.0), (8.0, 0.0)) == pytest.approx(OUTDATED_SONGS / 20.0)
    assert outdated((16.0, 4.0), (7.0, 1.0)) == 1.0 and outdated((16.0, 4.0), (0.0, 0.0)) == 1.0
