"""moodbox simulate: the room, the personas, the policies against the real policy, store and mood tracker, the JSON
figures, the table and the PNG."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from moodbox.cli import main as cli_main
from moodbox.config import DEFAULT_PLAYLISTS
from moodbox.devkit.simulate import (PERSONAS, START, Persona, confusion, interval, make_persona, make_room, per_day,
                              simulate)


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


def test_the_room_perceives_moods_through_the_models_confusion_and_has_empty_and_faceless_stretches():
    labels, matrix = confusion()
    assert len(matrix) == len(labels) == 7 and all(len(row) == 7 for row in matrix)
    room = make_room(1, 7)
    hours = Counter(int((start - START) % 86400 // 3600) for start, _ in room.sessions)
    assert min(hours) < 8 and max(hours) >= 18  # mornings and evenings
    seen = [view for view in room.seen if view[0] is not None]
    assert any(not face for _, _, face in seen) and room.away
    minutes = [start + 60.0 * i for start, end in room.sessions for i in range(int((end - start) // 60))]
    agree = [room.view(t)[0] == room.mood(t) for t in minutes if room.view(t)[2]]
    assert 0.6 < sum(agree) / len(agree) < 0.95  # the box misreads some moods, not most
    misread = make_room(1, 7, 0.35)
    assert misread.true_mood == room.true_mood and misread.away == room.away  # the same days, read worse
    assert sum(misread.view(t)[0] == misread.mood(t) for t in minutes if misread.view(t)[2]) < sum(agree)
    start = room.sessions[0][0]
    assert 0 <= room.face_share(start, start + 3600) <= 1


def test_a_run_is_reproducible_and_the_policies_see_the_same_room():
    run = simulate("upbeat-when-sad", seed=1, days=7)
    again = simulate("upbeat-when-sad", seed=1, days=7)
    assert [(song.playlist, song.skipped) for song in again.songs] == \
        [(song.playlist, song.skipped) for song in run.songs]
    fixed = simulate("upbeat-when-sad", seed=1, days=7, policy="fixed")
    assert all(song.playlist == DEFAULT_PLAYLISTS[song.seen_mood][0] for song in fixed.songs)
    assert {song.day for song in run.songs} == set(range(1, 8))
    assert any(not song.heard for song in run.songs)  # songs played to an empty room
    assert per_day([run], 7)[0]["songs"] > 50


def test_learning_finds_upbeat_when_sad():
    runs = {policy: [simulate("upbeat-when-sad", seed, days=7, policy=policy) for seed in (1, 2)]
            for policy in ("moodbox", "fixed")}

    def upbeat_when_sad(policy):
        songs = [song for run in runs[policy] for song in run.songs if song.day >= 5 and song.seen_mood == "sad"]
        return sum(song.playlist == "upbeat" for song in songs) / len(songs)

    assert upbeat_when_sad("fixed") == 0 and upbeat_when_sad("moodbox") > 0.3


def test_interval_is_the_mean_with_a_95_percent_half_width():
    assert interval([0.5, 0.7]) == {"mean": 0.6, "half": pytest.approx(1.96 * 0.1414 / 1.4142, abs=1e-3), "n": 2}
    assert interval([None]) == {"mean": None, "half": None, "n": 0}


def test_json_has_the_figures_per_persona_mood_and_part_of_day_and_the_png_is_written(tmp_path, capsys):
    png = tmp_path / "curves.png"
    assert cli_main(["simulate", "--days", "7", "--seeds", "2", "--persona", "default-mapping",
                     "--persona", "no-upbeat-evenings", "--json", "--plot", str(png)]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert set(figures["personas"]) == {"default-mapping", "no-upbeat-evenings"} <= set(PERSONAS)
    for summary in figures["personas"].values():
        for policy in ("moodbox", "fixed", "epsilon"):
            assert 0 <= summary[policy]["share"]["mean"] <= 1 and summary[policy]["share"]["n"] == 2
            assert {"neutral", "happy", "sad"} <= set(summary[policy]["by_mood"])
            assert {"morning", "evening"} <= set(summary[policy]["by_part_of_day"])
            assert 0 <= summary[policy]["skip_rate"]["day1"] <= 1
    assert "no-upbeat-evenings: evening share >= 0.95" in figures["targets"]
    assert figures["cpu_s"] > 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_table_has_rows_per_persona_and_mood_and_writes_no_png_unless_asked(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli_main(["simulate", "--days", "7", "--seeds", "1", "--persona", "one-favourite"]) == 0
    out = capsys.readouterr().out
    rows = [line.split()[:2] for line in out.splitlines() if line.startswith("one-favourite ")]
    assert rows == [["one-favourite", "all"]]
    assert any(line.split()[:1] == ["happy"] and "±" in line for line in out.splitlines())
    assert "target one-favourite: share >= fixed, epsilon" in out
    assert list(tmp_path.iterdir()) == []
