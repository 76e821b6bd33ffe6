"""moodbox top: the live view in a real terminal (tmux, 80x24) against a running demo, and its one-line mode."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
import time

import pytest

from moodbox.frontends.control import send_command
from moodbox.music.store import TimelineEvent as Event
from moodbox.frontends.top import status_line, strip

from device_support import wait_until

FEEDBACK_GAP_S = 0.25  # the daemon takes at most 5 commands a second (more are refused): a listener's pace


def test_strip_colours_each_minute_by_its_mood_and_marks_feedback():
    now = 10_000.0
    events = [Event(now - 30 * 60, "play", "happy", "upbeat", "a", "mood happy"),
              Event(now - 20 * 60 + 1, "like", "happy", "upbeat", "a"),
              Event(now - 10 * 60 + 1, "play", "sad", "calm", "b", "mood sad"),
              Event(now - 5 * 60 + 1, "skip", "sad", "calm", "b")]
    moods, marks = strip(events, now)
    assert moods[:30] == [None] * 30 and moods[30:50] == ["happy"] * 20 and moods[50:] == ["sad"] * 10
    assert marks[30] == "|" and marks[40] == "L" and marks[50] == "|" and marks[55] == "S"
    assert marks.count(" ") == 56


def test_one_line_without_a_daemon_names_the_socket(tmp_path):
    line = status_line({"ok": False, "error": f"moodbox is not running: nothing is listening on {tmp_path}/x"})
    assert "not running" in line and str(tmp_path) in line


@pytest.mark.slow
def test_one_line_per_update_when_not_a_terminal(demo_box):
    socket_path, _ = demo_box
    result = subprocess.run([sys.executable, "-m", "moodbox", "top", "--socket", socket_path, "--count", "2",
                             "--interval", "0.5"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    status = send_command(socket_path, "status")
    assert len(lines) == 2 and all(" | mood " in line and f"| {status['playlist']}: " in line for line in lines)


def tmux(*args) -> str:
    return subprocess.run(["tmux", "-L", "moodbox-test", *args], capture_output=True, text=True, check=True).stdout


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux (apt: tmux)")
def test_top_in_tmux_shows_mood_and_song_and_s_skips(demo_box, tmp_path):
    socket_path, db = demo_box
    tmux("new-session", "-d", "-s", "top", "-x", "80", "-y", "24",
         f"{sys.executable} -m moodbox top --socket {socket_path}")
    try:
        screen = lambda: tmux("capture-pane", "-p", "-t", "top")  # noqa: E731
        assert wait_until(lambda: "Playing" in screen() and "store ok" in screen(), timeout_s=20), screen()
        shown = screen()
        assert max(len(line) for line in shown.splitlines()) <= 80 and len(shown.splitlines()) <= 24

        def shows_the_daemons_state() -> bool:  # the demo's moods change every 12 s: compare one moment
            status, shown = send_command(socket_path, "status"), screen()
            return (f"Mood      {status['mood']}" in shown
                    and f"Playing   {status['playlist']}: {status['now_playing']}" in shown)
        assert wait_until(shows_the_daemons_state, timeout_s=10), screen()
        skips = lambda: sqlite3.connect(db).execute(  # noqa: E731
            "SELECT COUNT(*) FROM feedback WHERE action = 'skip'").fetchone()[0]
        before = skips()
        tmux("send-keys", "-t", "top", "s")
        assert wait_until(lambda: skips() == before + 1, timeout_s=10)
        assert wait_until(lambda: "skip: playlist " in screen(), timeout_s=5), screen()
        (tmp_path / "top.txt").write_text(screen())  # kept as a test artefact

        actions = lambda: [row[0] for row in sqlite3.connect(db).execute(  # noqa: E731
            "SELECT action FROM feedback WHERE action != 'played' ORDER BY id")]  # songs also end by themselves
        before = len(actions())
        for key in "lhhpp":  # like, hold and release, privacy pause and resume
            time.sleep(FEEDBACK_GAP_S)
            tmux("send-keys", "-t", "top", key)
            assert wait_until(lambda: len(actions()) > before, timeout_s=10)
            before += 1
        assert actions()[-5:] == ["like", "hold", "release", "pause", "resume"]
        volume = send_command(socket_path, "status")["volume"]
        time.sleep(FEEDBACK_GAP_S)
        tmux("send-keys", "-t", "top", "-")
        down = max(volume - 5, 0)
        assert wait_until(lambda: send_command(socket_path, "status")["volume"] == down, timeout_s=10)
        time.sleep(FEEDBACK_GAP_S)
        tmux("send-keys", "-t", "top", "+")
        assert wait_until(lambda: send_command(socket_path, "status")["volume"] == down + 5, timeout_s=10)
        tmux("send-keys", "-t", "top", "q")  # q quits: the session ends with its only program
        assert wait_until(lambda: subprocess.run(["tmux", "-L", "moodbox-test", "has-session"],
                                                 capture_output=True).returncode != 0, timeout_s=5)
    finally:
        subprocess.run(["tmux", "-L", "moodbox-test", "kill-server"], capture_output=True)
