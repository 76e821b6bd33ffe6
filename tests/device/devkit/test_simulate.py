"""moodbox simulate: personas against the real policy and store, the JSON figures, the table and the PNG."""

from __future__ import annotations

import json

from moodbox.cli import main as cli_main
from moodbox.devkit.simulate import PERSONAS, SONGS_PER_EPISODE, EPISODES_PER_DAY, make_persona, per_day, simulate


def test_personas_want_what_the_issue_says():
    assert make_persona("default-mapping").wants(1, "sad") == {"calm"}
    assert make_persona("upbeat-when-sad").wants(1, "sad") == {"upbeat"}
    assert make_persona("upbeat-when-sad").wants(1, "happy") == {"upbeat"}
    assert make_persona("one-favourite").wants(1, "angry") == {"upbeat"}
    assert make_persona("random-skipper").random_skips
    taste = make_persona("taste-change")
    assert taste.wants(1, "sad") == {"calm"} and taste.wants(14, "sad") == {"upbeat"}


def test_a_run_is_reproducible_and_learning_beats_the_fixed_mapping():
    run = simulate("upbeat-when-sad", seed=1, days=7)
    assert len(run.songs) == 7 * EPISODES_PER_DAY * SONGS_PER_EPISODE
    assert [song.skipped for song in simulate("upbeat-when-sad", seed=1, days=7).songs] == \
        [song.skipped for song in run.songs]
    today = simulate("upbeat-when-sad", seed=1, days=7, learning=False)
    assert all(song.playlist == "calm" for song in today.songs if song.mood == "sad")
    learned_day7 = per_day([run], 7)[-1]
    assert learned_day7["skip_rate"] < per_day([today], 7)[-1]["skip_rate"]
    assert any(song.playlist == "upbeat" for song in run.songs if song.mood == "sad" and song.day == 7)


def test_json_has_the_figures_per_persona_and_the_png_is_written(tmp_path, capsys):
    png = tmp_path / "curves.png"
    assert cli_main(["simulate", "--days", "7", "--seeds", "1", "--persona", "default-mapping",
                     "--persona", "random-skipper", "--json", "--plot", str(png)]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert set(figures) == {"default-mapping", "random-skipper"} <= set(PERSONAS)
    for summary in figures.values():
        assert {"share_preferred", "skip_rate_day1", "skip_rate_day7"} <= set(summary)
        assert 0 <= summary["skip_rate_day1"] <= 1
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_table_has_a_row_per_persona_and_day(tmp_path, capsys):
    assert cli_main(["simulate", "--days", "7", "--seeds", "1", "--persona", "one-favourite", "--plot", ""]) == 0
    out = capsys.readouterr().out
    assert sum(line.startswith("one-favourite ") for line in out.splitlines()) == 7
    assert "target skip_rate_day7_over_day1_mean" in out
