"""The baselines of moodbox simulate: the fixed mapping and epsilon-greedy."""

from __future__ import annotations

import random
from collections import Counter

from moodbox.config import DEFAULT_PLAYLISTS
from moodbox.devkit.baselines import EPSILON, EpsilonGreedy, MappingOnly, MemoryLog


def test_the_fixed_mapping_plays_the_mapped_playlist_whatever_happens():
    fixed = MappingOnly(DEFAULT_PLAYLISTS)
    assert [fixed.choose(mood) for mood in ("sad", "happy")] == ["calm", "upbeat"] and not fixed.rejected()


def test_epsilon_greedy_follows_what_is_heard_to_the_end_and_tries_at_random_a_tenth_of_the_time():
    log = MemoryLog()
    greedy = EpsilonGreedy(DEFAULT_PLAYLISTS, log, random.Random(1))
    assert greedy.choose("sad") in ("calm", "upbeat", "calming", "everyday")
    for _ in range(10):
        log.record_feedback(action="played", mood="sad", playlist="upbeat", track="u.ogg", at=1.0)
        log.record_feedback(action="skip", mood="sad", playlist="calm", track="c.ogg", at=1.0, elapsed_s=3.0)
    picks = Counter(greedy.choose("sad") for _ in range(1000))  # nothing playing: a new choice each time
    assert picks["upbeat"] > 850 and 0 < picks["calm"] < 1000 * EPSILON
    playing = greedy.choose("sad")
    assert greedy.choose("sad", playing) == playing and not greedy.rejected()
    for track in ("x.ogg", "y.ogg"):
        log.record_feedback(action="skip", mood="sad", playlist=playing, track=track, at=2.0, elapsed_s=3.0)
    assert greedy.rejected()
