"""The learning state's listener habits: how consistent its playlists are (random skips), whether its early skips
come in runs, how much exploring is worth, and that summaries written before these habits still load."""

from __future__ import annotations

import json

from moodbox.music.policy import MAPPED_PRIOR
from moodbox.music.preferences import MAX_CONSISTENCY_FACTOR, PRIOR_STRENGTH, Preferences
from moodbox.music.store import Event

NOW = 1.7e9
MOODS = ("happy", "sad", "neutral")
PLAYLISTS = ("upbeat", "calm", "everyday")


def events(pattern):
    """Events from (action, mood, playlist) triples, a song a minute; skips early, full plays with a face in view."""
    return [Event(i, NOW + 60.0 * i, action, mood, playlist, f"{playlist}/{i}.ogg",
                  5.0 if action == "skip" else None, None, 1.0 if action == "played" else None)
            for i, (action, mood, playlist) in enumerate(pattern, 1)]


def learned(pattern) -> Preferences:
    preferences = Preferences()
    preferences.add(events(pattern))
    return preferences


def test_the_prior_strength_is_the_mapped_prior():
    assert PRIOR_STRENGTH == sum(MAPPED_PRIOR)


def test_a_listener_who_skips_every_playlist_alike_gets_stronger_priors():
    """Every playlist in every mood skipped early 3 songs in 10: nothing tells them apart, the priors weigh the
    most; a listener who skips one playlist per mood and hears the others out keeps the usual priors."""
    alike = [("skip" if i % 10 in (1, 4, 7) else "played", mood, playlist)
             for i in range(40) for mood in MOODS for playlist in PLAYLISTS]
    apart = [("skip" if playlist == PLAYLISTS[k] else "played", mood, playlist)
             for i in range(40) for k, mood in enumerate(MOODS) for playlist in PLAYLISTS]
    assert learned(alike).consistency == MAX_CONSISTENCY_FACTOR
    assert learned(apart).consistency == 1.0
    assert learned(alike[:30]).consistency == 1.0  # too little evidence to judge: the usual priors


def test_two_early_skips_say_something_only_for_a_listener_whose_skips_come_in_runs():
    isolated = [("skip" if i % 3 == 0 else "played", "sad", "calm") for i in range(150)]
    runs = [("skip" if i % 9 < 3 else "played", "sad", "calm") for i in range(150)]
    assert not learned(isolated).skips_run
    assert learned(runs).skips_run
    assert Preferences().skips_run  # assumed before the listener has shown otherwise


def test_exploring_is_worth_less_with_rare_buttons_and_stops_with_no_spread():
    assert Preferences().explore_scale == 1.0
    quiet = learned([("played", "happy", "upbeat")] * 100)
    assert quiet.explore_scale < 0.3
    alike = learned([("skip" if i % 10 in (1, 4, 7) else "played", mood, playlist)
                     for i in range(40) for mood in MOODS for playlist in PLAYLISTS])
    assert alike.consistency == MAX_CONSISTENCY_FACTOR and alike.explore_scale == 0.0
    calm_skipped_more = [("skip" if i % 10 in (1, 4, 7) or i % 10 in (2, 5, 8) and playlist == "calm" else "played",
                          mood, playlist) for i in range(40) for mood in MOODS for playlist in PLAYLISTS]
    some = learned(calm_skipped_more)
    assert 1.0 < some.consistency < MAX_CONSISTENCY_FACTOR and 0 < some.explore_scale < 1.0


def test_a_summary_written_before_the_skip_runs_still_loads():
    preferences = learned([("skip" if i % 9 < 3 else "played", "sad", "calm") for i in range(150)])
    state = json.loads(preferences.export())
    state["habits"] = state["habits"][:3]  # songs, skips, likes: the summary of schema version 4
    del state["reference"]  # the best-served skip rate: not in summaries before it
    old = Preferences()
    old.load(150, json.dumps(state))
    assert old.skip_rate == preferences.skip_rate and old.skips_run  # no runs known yet: assumed
    assert old.reference_rate == preferences.reference_rate  # estimated again from the counts
    again = Preferences()
    again.load(150, preferences.export())
    assert again.skips_run == preferences.skips_run and again.consistency == preferences.consistency
    assert again.reference_rate == preferences.reference_rate
