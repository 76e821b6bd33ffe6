"""The baselines of moodbox simulate: the fixed mapping, epsilon-greedy and the hindsight oracle."""

from __future__ import annotations

import random
from collections import Counter

from moodbox.config import DEFAULT_PLAYLISTS
from moodbox.devkit.baselines import EPSILON, EpsilonGreedy, MappingOnly, MemoryLog, Oracle, hindsight
from moodbox.devkit.listeners import make_persona
from moodbox.devkit.room import START, Room


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


def test_the_oracle_plays_what_the_true_moods_behind_a_perceived_one_make_least_skipped():
    """Day 1, 8-9 h (morning): the box reads sad all along; the listener (upbeat when sad, everyday when neutral) is
    sad for 45 minutes, then neutral. Behind "sad" are mostly sad minutes: upbeat; mostly neutral ones: everyday."""
    def table(sad_minutes):
        start = START + 8 * 3600.0
        room = Room(sessions=[(start, start + 3600.0)], true_at=[start, start + sad_minutes * 60.0],
                    true_mood=["sad", "neutral"], seen_at=[start], seen=[("sad", 0.8, True)])
        names = ["calm", "upbeat", "everyday", "calming"]
        mapped = lambda mood, name: name in DEFAULT_PLAYLISTS[mood]  # noqa: E731
        return hindsight(make_persona("upbeat-when-sad"), room, 1, names, mapped)

    assert table(45) == {("sad", "morning"): "upbeat"}
    assert table(15) == {("sad", "morning"): "everyday"}
    clock = [START + 8 * 3600.0]
    oracle = Oracle(DEFAULT_PLAYLISTS, table(45), {"b.ogg"}, clock)
    assert oracle.choose("sad") == "upbeat" and oracle.choose("happy") == "upbeat"  # not seen: the mapping
    assert oracle.arrange(["a.ogg", "b.ogg"]) == ({1}, []) and oracle.arrange(["b.ogg"]) == (set(), [])
