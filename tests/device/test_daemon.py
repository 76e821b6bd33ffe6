"""The daemon against a real MPD, real sockets and gpiozero's MockFactory.

The face and expression stages are replaced by fakes of our own where a test scripts expressions (the real model
is exercised by the start-up, subprocess and demo tests); the mood tracker, music policy, player, store, control
socket and camera wrapper are the real ones.
"""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from gpiozero.pins.mock import MockFactory

from moodbox.cli import main as cli_main
from moodbox.config import load_config
from moodbox.control import send_command
from moodbox.daemon import EXIT_CONFIG, EXIT_MODEL, EXIT_PLAYLISTS, Daemon
from moodbox.faces import Face

from device_support import wait_until

LABELS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
PLAYLIST_OF = {"happy": "upbeat", "sad": "calm", "angry": "calming", "neutral": "everyday"}


class FakeClock:
    def __init__(self, start: float = 1000.0):
        self.now = start

    def __call__(self) -> float:
        return self.now


class Frames:
    """A frame source of our own that can be told to work, raise or hang."""

    def __init__(self):
        self.mode = "ok"
        self.grabs = 0
        self.release = threading.Event()

    def grab(self) -> np.ndarray:
        if self.mode == "raise":
            raise OSError("camera unplugged")
        if self.mode == "hang":
            self.release.wait(30)
        self.grabs += 1
        return np.full((120, 160), 100, np.uint8)

    def close(self) -> None:
        pass


class OneFace:
    """Stands in for FaceFinder: the listener is always in view."""

    def find(self, gray):
        return [Face(40.0, 20.0, 60.0, 60.0, 0.9)]


class ScriptedExpressions:
    """Stands in for ExpressionModel: the scripted expression now, with ``noise`` of the frames a random one."""

    labels = LABELS
    input_size = (48, 48)
    face_crop = {"square": True, "scale": 1.25, "interpolation": "area", "border": "replicate"}

    def __init__(self, clock, script, *, noise=0.0, seed=0):
        self.clock, self.script, self.noise = clock, script, noise
        self.rng = np.random.default_rng(seed)
        self.start = clock()

    def expected(self) -> str:
        elapsed = self.clock() - self.start
        for label, seconds in self.script:
            if elapsed < seconds:
                return label
            elapsed -= seconds
        return self.script[-1][0]

    def predict(self, crop):
        assert crop.shape == self.input_size and crop.dtype == np.uint8
        label = self.expected()
        if self.rng.random() < self.noise:
            label = LABELS[self.rng.integers(len(LABELS))]
        probabilities = np.full(len(LABELS), 0.3 / (len(LABELS) - 1), np.float32)
        probabilities[LABELS.index(label)] = 0.7
        return probabilities


def make_daemon(config_path, *, clock=time.monotonic, script=(("happy", 1e9),), noise=0.0, frames=None, **kwargs):
    frames = frames or Frames()
    daemon = Daemon(load_config(config_path), frame_source_factory=lambda: frames, clock=clock,
                    face_finder=OneFace(), expression_model=ScriptedExpressions(clock, list(script), noise=noise),
                    **kwargs)
    return daemon, frames


@pytest.fixture
def notify_socket(tmp_path, monkeypatch):
    """A real NOTIFY_SOCKET: a datagram socket the daemon's sd_notify messages arrive on."""
    path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(0.05)
    monkeypatch.setenv("NOTIFY_SOCKET", str(path))
    yield sock
    sock.close()


def received(sock) -> list[str]:
    messages = []
    while True:
        try:
            messages += sock.recv(4096).decode().split("\n")
        except (socket.timeout, BlockingIOError):
            return messages


def queue_playlist(mpd_server) -> set[str]:
    """Which mood playlists' tracks MPD has queued now."""
    client = mpd_server.client()
    try:
        return {song["file"].split("/")[0] for song in client.playlistinfo()}
    finally:
        client.disconnect()


def test_scripted_moods_with_30_percent_random_frames_switch_once_per_mood_change(make_config_file):
    """Flicker never switches the music; every true mood change does, within window + one interval."""
    config_path = make_config_file(camera={"interval_s": 1.0},
                                   mood={"window_s": 10.0, "min_dwell_s": 15.0, "hysteresis": 0.1})
    script = [("happy", 40), ("sad", 40), ("angry", 40), ("neutral", 40), ("happy", 40)]
    clock = FakeClock()
    daemon, _ = make_daemon(config_path, clock=clock, script=script, noise=0.3)
    daemon.start()
    try:
        switches = []
        for _ in range(sum(seconds for _, seconds in script)):
            tick = daemon.tick()
            if tick.switched:
                switches.append((tick.at - 1000.0, tick.playlist))
            clock.now += 1.0
    finally:
        daemon.close()
    assert [playlist for _, playlist in switches] == [PLAYLIST_OF[label] for label, _ in script]
    changes_at = np.cumsum([0] + [seconds for _, seconds in script[:-1]])
    for (switched_at, _), changed_at in zip(switches, changes_at):
        assert changed_at <= switched_at <= changed_at + 10.0 + 1.0


def test_mpd_killed_and_restarted_mid_run_plays_the_right_playlist_again(make_config_file, mpd_server):
    clock = FakeClock()
    daemon, _ = make_daemon(make_config_file(mood={"window_s": 3.0, "min_dwell_s": 0.0}), clock=clock,
                            script=[("happy", 10), ("sad", 1e9)])
    daemon.start()
    try:
        for _ in range(8):
            daemon.tick()
            clock.now += 1.0
        assert daemon.last_tick.playlist == "upbeat" and queue_playlist(mpd_server) == {"upbeat"}

        mpd_server.kill()
        for _ in range(8):  # the mood turns sad while MPD is down
            tick = daemon.tick()
            clock.now += 1.0
        assert tick.status == "degraded" and any("MPD down" in p for p in tick.problems)
        assert tick.mood == "sad"

        mpd_server.start()
        for _ in range(40):  # backoff doubles up to 30 s
            tick = daemon.tick()
            clock.now += 1.0
            if tick.status == "ok":
                break
        assert tick.status == "ok" and tick.playlist == "calm"
        assert queue_playlist(mpd_server) == {"calm"}
        client = mpd_server.client()
        assert client.status()["state"] == "play"
        client.disconnect()
    finally:
        daemon.close()


@pytest.mark.parametrize("failure", ["raise", "hang"])
def test_camera_that_raises_or_hangs_degrades_and_recovers_while_the_watchdog_keeps_going(
        make_config_file, notify_socket, failure):
    config_path = make_config_file(camera={"interval_s": 0.1, "grab_timeout_s": 0.2})
    daemon, frames = make_daemon(config_path)
    daemon.start()
    runner = threading.Thread(target=daemon.run)
    runner.start()
    try:
        time.sleep(0.5)
        assert daemon.last_tick.status == "ok"
        received(notify_socket)
        frames.mode = failure
        time.sleep(1.0)
        assert daemon.last_tick.status == "degraded"
        assert "camera lost" in daemon.last_tick.problems[0]
        messages = received(notify_socket)
        assert messages.count("WATCHDOG=1") >= 5  # the loop was never stuck on the camera
        assert any(m.startswith("STATUS=degraded") and "camera lost" in m for m in messages)

        frames.mode = "ok"
        frames.release.set()
        deadline = time.monotonic() + 8
        while daemon.last_tick.status != "ok" and time.monotonic() < deadline:
            time.sleep(0.1)
        assert daemon.last_tick.status == "ok" and daemon.last_tick.face
        assert any(m.startswith("STATUS=ok") for m in received(notify_socket))
    finally:
        daemon.stop()
        runner.join(10)
    assert not runner.is_alive()


def test_notify_ready_then_status_with_the_mood(make_config_file, notify_socket):
    clock = FakeClock()
    daemon, _ = make_daemon(make_config_file(mood={"window_s": 3.0}), clock=clock)
    daemon.start()
    try:
        assert "READY=1" in received(notify_socket)
        for _ in range(5):
            daemon.tick()
            clock.now += 1.0
        assert "STATUS=ok: mood happy, playlist upbeat" in received(notify_socket)
    finally:
        daemon.close()


def test_run_sends_watchdog_every_tick_and_stops_cleanly(make_config_file, notify_socket, tmp_path):
    daemon, frames = make_daemon(make_config_file(camera={"interval_s": 0.1}))
    daemon.start()
    control_socket = Path(daemon.config.state.control_socket)
    assert control_socket.exists()
    runner = threading.Thread(target=daemon.run, kwargs={"duration_s": 1.0})
    started = time.monotonic()
    runner.start()
    messages = []
    while runner.is_alive() or messages[-1:] != ["STOPPING=1"]:  # keep the datagram queue drained
        messages += received(notify_socket)
        assert time.monotonic() - started < 10
    elapsed = time.monotonic() - started
    assert 5 <= messages.count("WATCHDOG=1") <= elapsed / 0.1 + 1
    assert frames.grabs >= 5
    assert not control_socket.exists() and daemon.camera is None and daemon.player is None


@pytest.mark.parametrize("problem, code, message", [
    ("bad config", EXIT_CONFIG, "mood.window_s must be in 0.1..3600.0, got -1"),
    ("missing model", EXIT_MODEL, "no-such-model"),
    ("corrupt model", EXIT_MODEL, "corrupt.tflite"),
    ("missing playlists", EXIT_PLAYLISTS, "no stored playlist named party, jazz"),
])
def test_start_refusals_exit_with_a_code_and_start_nothing(make_config_file, mpd_server, tmp_path, capsys,
                                                           model_path, problem, code, message):
    sections = {}
    if problem == "bad config":
        sections["mood"] = {"window_s": -1}
    elif problem == "missing model":
        sections["model"] = {"path": str(tmp_path / "no-such-model.tflite")}
    elif problem == "corrupt model":
        corrupt = tmp_path / "corrupt.tflite"
        corrupt.write_bytes(model_path.read_bytes()[:1000])
        (tmp_path / "corrupt.json").write_bytes(model_path.with_suffix(".json").read_bytes())
        sections["model"] = {"path": str(corrupt)}
    else:
        sections["music"] = {"playlists": {"happy": ["upbeat", "party"], "neutral": "jazz"}}
    config_path = make_config_file(**sections)

    assert cli_main(["run", "--config", str(config_path)]) == code
    assert message in capsys.readouterr().err
    assert not (tmp_path / "run" / "control.sock").exists()
    assert not (tmp_path / "state" / "feedback.db").exists()
    client = mpd_server.client()
    assert client.status()["playlistlength"] == "0"  # MPD untouched
    client.disconnect()


def test_control_socket_and_buttons_share_one_set_of_actions(make_config_file, mpd_server):
    factory = MockFactory()
    config_path = make_config_file(camera={"interval_s": 0.1}, music={"shuffle": False},
                                   buttons={"enabled": True, "skip_pin": 5, "like_pin": 6, "privacy_pin": 13,
                                            "led_pin": 19, "debounce_s": 0.01, "hold_time_s": 0.3},
                                   mood={"window_s": 0.5, "min_dwell_s": 0.0})
    daemon, frames = make_daemon(config_path, pin_factory=factory)
    daemon.start()
    runner = threading.Thread(target=daemon.run)
    runner.start()
    sock = daemon.config.state.control_socket
    led = factory.pin(19)
    try:
        deadline = time.monotonic() + 5
        while (daemon.last_tick is None or daemon.last_tick.playlist != "upbeat") and time.monotonic() < deadline:
            time.sleep(0.05)
        status = send_command(sock, "status")
        assert status["ok"] and status["mood"] == "happy" and status["playlist"] == "upbeat"
        assert status["now_playing"] == "moodbox upbeat - Upbeat 1" and status["camera"] == "ok"
        assert led.state == 1  # lit while the camera is in use

        skipped = send_command(sock, "skip")
        assert skipped["ok"] and skipped["track"] == "upbeat/upbeat-01.ogg"
        assert send_command(sock, "like")["track"] == "upbeat/upbeat-02.ogg"
        held = send_command(sock, "hold")
        assert held["held"] and held["held_for_s"] == pytest.approx(30 * 60, abs=2)

        skip_button = factory.pin(5)
        skip_button.drive_low()
        time.sleep(0.05)
        skip_button.drive_high()
        assert wait_until(lambda: send_command(sock, "status")["now_playing"] == "moodbox upbeat - Upbeat 3")

        paused = send_command(sock, "pause")
        assert paused == {"ok": True, "camera": "paused"}
        grabs = frames.grabs
        time.sleep(0.4)
        assert frames.grabs == grabs and led.state == 0  # no frames, LED off
        assert daemon.last_tick.status == "paused"
        privacy_button = factory.pin(13)
        privacy_button.drive_low()
        time.sleep(0.05)
        privacy_button.drive_high()
        assert wait_until(lambda: frames.grabs > grabs and led.state == 1)

        assert send_command(sock, "dance")["ok"] is False
    finally:
        daemon.stop()
        runner.join(10)
        factory.reset()
    assert led.state == 0
    db = sqlite3.connect(Path(daemon.config.state.dir) / "feedback.db")
    rows = db.execute("SELECT action, expression, mood, playlist, track FROM feedback ORDER BY id").fetchall()
    assert rows == [("skip", "happy", "happy", "upbeat", "upbeat/upbeat-01.ogg"),
                    ("like", "happy", "happy", "upbeat", "upbeat/upbeat-02.ogg"),
                    ("hold", "happy", "happy", "upbeat", "upbeat/upbeat-02.ogg"),
                    ("skip", "happy", "happy", "upbeat", "upbeat/upbeat-02.ogg")]
    plays = db.execute("SELECT track, playlist, mood, reason FROM plays ORDER BY id").fetchall()
    assert plays[:3] == [("upbeat/upbeat-01.ogg", "upbeat", "happy", "mood happy"),
                         ("upbeat/upbeat-02.ogg", "upbeat", "happy", "skip"),
                         ("upbeat/upbeat-03.ogg", "upbeat", "happy", "skip")]


def test_hold_keeps_the_music_whatever_the_mood(make_config_file):
    clock = FakeClock()
    daemon, _ = make_daemon(make_config_file(mood={"window_s": 3.0, "min_dwell_s": 0.0},
                                             music={"hold_minutes": 1.0}),
                            clock=clock, script=[("happy", 5), ("sad", 1e9)])
    daemon.start()
    try:
        for _ in range(4):
            daemon.tick()
            clock.now += 1.0
        assert daemon.handle_action("hold")["held"]
        for _ in range(20):
            tick = daemon.tick()
            clock.now += 1.0
        assert tick.mood == "sad" and tick.playlist == "upbeat" and tick.held
        for _ in range(45):  # the hold ends after a minute: the music catches up with the mood
            tick = daemon.tick()
            clock.now += 1.0
        assert tick.playlist == "calm" and not tick.held
    finally:
        daemon.close()


def test_nobody_there_pauses_after_the_configured_minutes_and_resumes(make_config_file, mpd_server):
    clock = FakeClock()
    daemon, _ = make_daemon(make_config_file(mood={"window_s": 3.0, "pause_after_absent_min": 0.5}), clock=clock)
    daemon.start()
    try:
        for _ in range(5):
            daemon.tick()
            clock.now += 1.0
        daemon.face_finder.find = lambda gray: []  # the listener leaves
        client = mpd_server.client()
        for _ in range(20):
            daemon.tick()
            clock.now += 1.0
        assert client.status()["state"] == "play"  # an empty room keeps its music for a while
        for _ in range(15):
            daemon.tick()
            clock.now += 1.0
        assert client.status()["state"] == "pause"
        del daemon.face_finder.find  # back
        daemon.tick()
        assert client.status()["state"] == "play"
        client.disconnect()
    finally:
        daemon.close()


def test_mpd_down_at_start_runs_degraded_and_catches_up(make_config_file, mpd_server, notify_socket):
    mpd_server.stop()
    clock = FakeClock()
    daemon, _ = make_daemon(make_config_file(mood={"window_s": 3.0}), clock=clock, mpd_wait_s=0.2)
    daemon.start()
    try:
        assert "READY=1" in received(notify_socket)
        for _ in range(5):
            tick = daemon.tick()
            clock.now += 1.0
        assert tick.status == "degraded" and tick.mood == "happy"
        mpd_server.start()
        for _ in range(40):
            tick = daemon.tick()
            clock.now += 1.0
            if tick.status == "ok":
                break
        assert tick.status == "ok" and queue_playlist(mpd_server) == {"upbeat"}
    finally:
        daemon.close()


def test_reload_applies_a_valid_config_and_keeps_running_on_an_invalid_one(make_config_file, caplog):
    config_path = make_config_file()
    daemon, _ = make_daemon(config_path)
    daemon.start()
    try:
        make_config_file(mood={"window_s": "long"})
        assert daemon.reload() is False
        assert "config reload refused" in caplog.text and "mood.window_s must be a number" in caplog.text
        assert daemon.config.mood.window_s == 10.0

        make_config_file(mood={"window_s": 4.0}, music={"switch": "after_current"})
        assert daemon.reload() is True
        assert daemon.config.mood.window_s == 4.0 and daemon.config.music.switch == "after_current"
        daemon.tick()
    finally:
        daemon.close()


@pytest.mark.slow
def test_moodbox_run_as_a_service_sighup_and_sigterm(make_config_file, tmp_path, notify_socket):
    """The real command with the real model: READY, reload on SIGHUP (refusing a bad file), clean SIGTERM."""
    config_path = make_config_file(camera={"interval_s": 0.2})
    process = subprocess.Popen([sys.executable, "-m", "moodbox", "run", "--config", str(config_path)],
                               stderr=subprocess.PIPE, text=True, env=dict(os.environ))
    try:
        deadline = time.monotonic() + 30
        while "READY=1" not in received(notify_socket):
            assert process.poll() is None and time.monotonic() < deadline
        control = str(tmp_path / "run" / "control.sock")
        assert send_command(control, "status")["mpd"] == "connected"

        make_config_file(mood={"hysteresis": 2})
        process.send_signal(signal.SIGHUP)
        time.sleep(1.0)
        assert process.poll() is None
        assert send_command(control, "status")["ok"]

        process.send_signal(signal.SIGTERM)
        assert process.wait(15) == 0
    finally:
        if process.poll() is None:
            process.kill()
    log = process.stderr.read()
    assert "config reload refused" in log and "mood.hysteresis must be in 0.0..1.0, got 2" in log
    assert "camera lost" in log  # no camera at that path: degraded, not dead
    assert not Path(control).exists()
    assert "STOPPING=1" in received(notify_socket)


def test_lift_policy_moves_a_long_sad_mood_to_brighter_music(make_config_file):
    clock = FakeClock()
    daemon, _ = make_daemon(make_config_file(mood={"window_s": 3.0}, music={"policy": "lift", "lift_step_min": 1.0}),
                            clock=clock, script=[("sad", 1e9)])
    daemon.start()
    try:
        playlists = []
        for _ in range(150):
            tick = daemon.tick()
            clock.now += 1.0
            if tick.switched:
                playlists.append(tick.playlist)
        assert tick.mood == "sad"
        assert playlists == ["calm", "everyday", "upbeat"]
    finally:
        daemon.close()
