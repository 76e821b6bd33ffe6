"""`moodbox demo` as a user runs it: a subprocess with the real model, a private MPD and FER2013 test faces."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from moodbox.demo import DEMO_SCRIPT

PLAYLIST_OF = {"happy": "upbeat", "sad": "calm", "angry": "calming", "neutral": "everyday", "surprise": "upbeat",
               "fear": "calming", "disgust": "calm"}


def run_demo(*args, timeout=90) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "moodbox", "demo", *args], capture_output=True, text=True,
                          timeout=timeout)


@pytest.mark.slow
def test_demo_json_for_30_seconds_switches_playlists_following_the_scripted_moods(data_dir):
    result = run_demo("--duration", "30", "--json", "--dataset", str(data_dir))
    assert result.returncode == 0, result.stderr
    ticks = [json.loads(line) for line in result.stdout.splitlines()]
    assert 0 < len(ticks) <= 31  # one line per 1 s tick; slow ticks are skipped, never caught up in a burst
    assert all(t["status"] == "ok" for t in ticks)
    assert sum(t["face"] for t in ticks) >= 0.8 * len(ticks)  # the face finder finds the pasted faces
    switches = [t for t in ticks if t["switched"]]
    following = [t for t in switches if t["playlist"] == PLAYLIST_OF[t["scripted"]]]
    assert len(following) >= 2, switches
    script_order = [label for label, _ in DEMO_SCRIPT]
    order = [script_order.index(t["scripted"]) for t in following]
    assert order == sorted(order) and len(set(order)) >= 2  # happy's music, then sad's or angry's
    assert switches[0]["playlist"] == "upbeat"  # the script starts happy
    for tick in switches:  # what plays is what was switched to
        assert tick["now_playing"].startswith(f"moodbox {tick['playlist']} - ")


def test_demo_says_what_to_provide_without_a_face_source(tmp_path):
    result = run_demo("--duration", "1", "--dataset", str(tmp_path / "nothing-here"), timeout=60)
    assert result.returncode == 1
    assert "no face source" in result.stderr
    assert "fer2013.npz" in result.stderr and "--dataset PATH" in result.stderr and "--source SPEC" in result.stderr


def test_demo_text_lines_show_face_mood_playlist_and_song(data_dir):
    result = run_demo("--duration", "6", "--dataset", str(data_dir))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("moodbox demo: private MPD at ") and "happy 12 s" in lines[0]
    ticks = lines[1:]
    assert len(ticks) >= 4
    assert all(line.startswith("[happy]") and "mood: " in line and "playlist: " in line and "playing: " in line
               for line in ticks)
    assert any("face: " in line for line in ticks)
