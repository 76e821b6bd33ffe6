"""The simulated listeners: what each wants, how it presses buttons."""

from __future__ import annotations

import pytest

from moodbox.config import DEFAULT_PLAYLISTS
from moodbox.devkit.listeners import Persona, make_persona


def test_personas_want_what_the_issue_says():
    assert make_persona("default-mapping").wants(1, "sad", "day") == {"calm"}
    assert make_persona("upbeat-when-sad").wants(1, "sad", "day") == {"upbeat"}
    assert make_persona("one-favourite").wants(1, "angry", "day") == {"upbeat"}
    assert make_persona("random-skipper").random_skips
    taste = make_persona("taste-change")
    assert taste.wants(1, "sad", "day") == {"calm"} and taste.wants(14, "sad", "day") == {"upbeat"}
    assert make_persona("angry-wants-calm").wants(1, "angry", "day") == {"calm"}
    assert all(make_persona("one-for-all").wants(1, mood, "day") == {"everyday"} for mood in DEFAULT_PLAYLISTS)
    evenings = make_persona("no-upbeat-evenings")
    assert evenings.wants(1, "happy", "day") == {"upbeat"} and "upbeat" not in evenings.wants(1, "happy", "evening")
    swaps = make_persona("taste-swaps")
    assert [swaps.wants(day, "sad", "day") for day in (1, 4, 7, 10)] == [{"calm"}, {"upbeat"}, {"calm"}, {"upbeat"}]
    assert make_persona("sparse-buttons").buttons < 0.2 and make_persona("misread").misread == 0.35
    with pytest.raises(ValueError, match="unknown persona 'nobody'"):
        make_persona("nobody")


def test_late_skippers_skip_late_and_quiet_listeners_seldom_press():
    odds = Persona("x", lambda day, mood, part: set(), late_share=0.7).reaction_odds(1, "sad", "day", "calm")
    assert odds[1] == pytest.approx(0.7 * (odds[0] + odds[1]))
    quiet = Persona("y", lambda day, mood, part: set(), buttons=0.1).reaction_odds(1, "sad", "day", "calm")
    assert sum(quiet) == pytest.approx(0.1 * sum(odds))
