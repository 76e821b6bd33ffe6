"""Fixtures for the device tests: a real private MPD server per test over a library synthesised once per session."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from device_support import write_toml
from moodbox.devkit.mpdserver import PrivateMPD, build_library


@pytest.fixture(scope="session")
def music_library(tmp_path_factory) -> tuple[Path, Path, dict[str, list[str]]]:
    """(music dir, playlists dir, playlist -> tracks): sox-made tagged tracks, 3 per mood playlist, 30 s each."""
    root = tmp_path_factory.mktemp("library")
    tracks = build_library(root / "music", root / "playlists", tracks_per_mood=3, seconds=30)
    return root / "music", root / "playlists", tracks


@pytest.fixture
def mpd_server(music_library, tmp_path):
    """A real MPD on a Unix socket with its own copy of the mood playlists; stopped after the test."""
    music_dir, playlists_dir, _ = music_library
    server = PrivateMPD(tmp_path / "mpd", music_dir=music_dir, playlists_dir=playlists_dir)
    server.start()
    yield server
    server.close()


@pytest.fixture
def mpd_client(mpd_server):
    """A second, independent connection for the test to look at what MPD really does."""
    client = mpd_server.client()
    yield client
    try:
        client.disconnect()
    except OSError:
        pass


@pytest.fixture
def make_config_file(tmp_path, mpd_server):
    """make_config_file(**sections) -> path of a TOML config for this test's MPD and temp state, buttons off.

    ``sections`` override per key, e.g. ``make_config_file(mood={"window_s": 5})``.
    """
    def make(name: str = "moodbox.toml", **sections) -> Path:
        document = {
            "camera": {"source": str(tmp_path / "no-camera"), "interval_s": 1.0, "grab_timeout_s": 1.0},
            "mood": {"window_s": 10.0, "min_confidence": 0.4, "hysteresis": 0.1, "min_dwell_s": 15.0},
            "music": {"switch": "now", "explore": 0.0},  # no random tries of other moods' music in these tests
            "mpd": {"host": mpd_server.socket_path, "timeout_s": 2.0},
            "buttons": {"enabled": False},
            "state": {"dir": str(tmp_path / "state"), "control_socket": str(tmp_path / "run" / "control.sock")},
        }
        for section, values in sections.items():
            document.setdefault(section, {}).update(values)
        return write_toml(tmp_path / name, document)
    return make


@pytest.fixture(autouse=True)
def restore_logging():
    """`moodbox run` in-process sets up logging to the (captured) stderr: undo it after each test."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture(scope="session")
def demo_box(tmp_path_factory, request):
    """A running `moodbox demo` (real model, private MPD, scripted faces) with its state in a temp folder, shared by
    the live-view tests: (control socket, feedback database). Stopped with SIGTERM at the end of the session."""
    import subprocess
    import sys

    from moodbox.frontends.control import ControlError, send_command
    from device_support import wait_until

    data_dir = request.getfixturevalue("data_dir")
    state = tmp_path_factory.mktemp("demo-state")
    log = (state.parent / "demo.log").open("w")
    process = subprocess.Popen([sys.executable, "-m", "moodbox", "demo", "--duration", "900", "--dataset",
                                str(data_dir), "--state-dir", str(state)], stdout=log, stderr=subprocess.STDOUT)
    socket_path = str(state / "control.sock")

    def playing() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"moodbox demo exited: {(state.parent / 'demo.log').read_text()}")
        try:
            return send_command(socket_path, "status").get("now_playing") is not None
        except ControlError:
            return False
    try:
        assert wait_until(playing, timeout_s=90), (state.parent / "demo.log").read_text()
        yield socket_path, state / "feedback.db"
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
