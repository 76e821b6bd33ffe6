"""The music policy: mood -> playlist, weighted by likes and skips, holds, empty playlists."""

from __future__ import annotations

import random
from collections import Counter

from moodbox.config import DEFAULT_PLAYLISTS
from moodbox.music import MusicPolicy


def test_default_mapping_matches_the_mood():
    policy = MusicPolicy(DEFAULT_PLAYLISTS)
    assert policy.choose("happy") == "upbeat"
    assert policy.choose("sad") == "calm"
    assert policy.choose("angry") == "calming"
    assert policy.choose("neutral") == "everyday"
    assert policy.choose("nonsense") is None


def test_liked_playlists_are_chosen_more_and_skipped_ones_less():
    scores = {"party": 3.0, "upbeat": 0.0, "disco": -3.0}
    policy = MusicPolicy({"happy": ("upbeat", "party", "disco")}, scores=lambda: scores, rng=random.Random(1))
    picks = Counter(policy.choose("happy") for _ in range(3000))
    assert picks["party"] > picks["upbeat"] > picks["disco"] > 0
    assert 5 < picks["party"] / picks["upbeat"] < 12  # 2**3 = 8 times the weight


def test_scores_are_capped_so_no_playlist_disappears():
    policy = MusicPolicy({"sad": ("calm", "blues")}, scores=lambda: {"blues": -100.0}, rng=random.Random(2))
    picks = Counter(policy.choose("sad") for _ in range(2000))
    assert picks["blues"] > 0


def test_current_playlist_is_kept_when_it_suits_the_mood():
    policy = MusicPolicy({"happy": ("upbeat", "party")}, scores=lambda: {"party": 10.0})
    assert policy.choose("happy", current="upbeat") == "upbeat"
    assert policy.choose("happy", current="calm") in ("upbeat", "party")


def test_empty_playlists_are_skipped_with_a_warning(caplog):
    policy = MusicPolicy({"happy": ("upbeat", "party"), "sad": ("calm",)})
    policy.mark_empty(["party", "calm"])
    assert "playlist party is empty" in caplog.text
    assert all(policy.choose("happy") == "upbeat" for _ in range(20))
    assert policy.choose("sad") is None


def test_a_playlist_mpd_refused_is_never_chosen_again(caplog):
    policy = MusicPolicy({"happy": ("upbeat", "party")})
    policy.mark_unusable("party", "deleted")
    assert "playlist party cannot be played (deleted): skipped" in caplog.text
    assert all(policy.choose("happy") == "upbeat" for _ in range(20))
    policy.mark_empty([])  # a later playlist check (after a reload) gives it another chance
    assert "party" in policy.candidates("happy")


def test_hold_lasts_hold_minutes():
    policy = MusicPolicy(DEFAULT_PLAYLISTS, hold_minutes=10)
    assert not policy.held(0.0)
    policy.hold(100.0)
    assert policy.held(699.0) and not policy.held(700.0)
    assert policy.held_for_s(400.0) == 300.0
    policy.release()
    assert not policy.held(101.0)


def test_lift_moves_a_low_mood_up_step_by_step():
    policy = MusicPolicy(DEFAULT_PLAYLISTS, policy="lift", lift_step_min=10)
    assert [policy.music_mood("sad", minutes * 60) for minutes in (0, 9.9, 10, 19.9, 20, 300)] == \
        ["sad", "sad", "neutral", "neutral", "happy", "happy"]
    assert policy.choose(policy.music_mood("angry", 15 * 60)) == "everyday"
    assert policy.music_mood("surprise", 3600) == "surprise"  # only low moods are lifted
    assert MusicPolicy(DEFAULT_PLAYLISTS).music_mood("sad", 3600) == "sad"  # "match" never lifts
