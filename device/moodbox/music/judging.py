"""How the music policy judges what it learned: whether one Beta belief surely beats another or falls short of even,
the skip rate a song heard to its end is weighed against (:func:`~moodbox.music.preferences.evidence_weight`), and
when recent evidence overrules the older (a changed taste).

That rate is the listener's skip rate on the music that serves it best, not on all its songs. A listener the mapping
serves badly skips much of what it hears; weighed against that average, a playlist it skips four times as often as
the music it wants looks merely average, and nothing moves. Weighed against the best-served third of its songs, that
playlist is plainly worse and its mood's music is tried elsewhere, while one that serves as well as the best stays
even."""

from __future__ import annotations

import math
from collections import Counter
from typing import Iterable

BEST_SHARE = 1 / 3      # the share of the songs heard, from the least skipped (mood, playlist) pairs, that sets it
RANK_PRIOR_SONGS = 5.0  # a pair's skip rate is ranked after this many songs' worth of the listener's average
PRIOR_SONGS = 20.0      # the best-served songs' rate counts this many songs' worth of the listener's average


def best_served_skip_rate(pairs: Iterable[Counter], skip_rate: float) -> float:
    """The skip rate of the listener's best-served songs: the (mood, playlist) pairs (``pairs``: the evidence
    counts of each, as :attr:`Preferences.counts` keeps them) ranked by their skip rate, the least skipped first,
    until they hold :data:`BEST_SHARE` of the songs heard; their skips per song, shrunk towards ``skip_rate`` (the
    listener's average) by :data:`PRIOR_SONGS`."""
    rated = []
    for counts in pairs:
        skips = counts["early_skip"] + counts["late_skip"]
        heard = counts["played"] + skips
        if heard:
            rated.append(((skips + skip_rate * RANK_PRIOR_SONGS) / (heard + RANK_PRIOR_SONGS), skips, heard))
    rated.sort()
    total = sum(heard for _, _, heard in rated)
    best_skips = best_heard = 0
    for _, skips, heard in rated:
        if best_heard >= BEST_SHARE * total:
            break
        best_skips, best_heard = best_skips + skips, best_heard + heard
    return (best_skips + skip_rate * PRIOR_SONGS) / (best_heard + PRIOR_SONGS)


def _moments(a: float, b: float) -> tuple[float, float]:
    return a / (a + b), a * b / ((a + b) ** 2 * (a + b + 1))


def surely_better(belief: tuple[float, float], than: tuple[float, float], z: float = 0.84) -> bool:
    """Whether Beta ``belief`` beats Beta ``than`` with about 80% certainty (normal approximation)."""
    (mean, var), (other_mean, other_var) = _moments(*belief), _moments(*than)
    return mean - other_mean > z * math.sqrt(var + other_var)


def surely_below_even(belief: tuple[float, float], z: float = 0.84) -> bool:
    """Whether Beta ``belief``'s mean is below 0.5 with about 80% certainty (normal approximation)."""
    mean, var = _moments(*belief)
    return mean + z * math.sqrt(var) < 0.5


CHANGE_Z = 2.5           # how sure recent evidence must be that it disagrees with the older to overrule it
OUTDATED_SONGS = 2.0     # older evidence, once overruled, counts at most this many songs' worth


def outdated(old: tuple[float, float], recent: tuple[float, float]) -> float:
    """The weight left to ``old`` evidence (success, failure) beside ``recent``: 1, or when the two surely
    disagree (:data:`CHANGE_Z`: the listener's taste changed) what leaves it :data:`OUTDATED_SONGS` songs' worth."""
    before, now = (0.5 + old[0], 0.5 + old[1]), (0.5 + recent[0], 0.5 + recent[1])
    if surely_better(before, now, CHANGE_Z) or surely_better(now, before, CHANGE_Z):
        return min(1.0, OUTDATED_SONGS / sum(old))
    return 1.0


def forget_outdated(sums: list[float], old_scale: float, recent_scale: float) -> None:
    """Cut the older evidence in ``sums`` (success, failure, recent success, recent failure; times ``old_scale``,
    ``recent_scale`` now) down for good once the recent surely disagrees with it (:func:`outdated`), so that it does
    not come back once the recent has faded."""
    fresh = sums[2] * recent_scale, sums[3] * recent_scale
    old = max(0.0, sums[0] * old_scale - fresh[0]), max(0.0, sums[1] * old_scale - fresh[1])
    if (keep := outdated(old, fresh)) < 1.0:
        sums[0], sums[1] = ((fresh[i] + old[i] * keep) / old_scale for i in (0, 1))
