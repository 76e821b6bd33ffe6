"""`moodbox doctor` against a real MPD, the real model and a real (image folder) camera."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from gpiozero import Device
from gpiozero.pins.mock import MockFactory

from moodbox.config import load_config
from moodbox.frontends.control import ControlServer
from moodbox.frontends.doctor import main, run_checks


@pytest.fixture
def camera_folder(tmp_path):
    """A folder camera holding one synthetic noise frame (no face images on disk)."""
    folder = tmp_path / "camera"
    folder.mkdir()
    cv2.imwrite(str(folder / "frame.png"), np.random.default_rng(0).integers(0, 255, (240, 320), np.uint8))
    return folder


def by_name(checks) -> dict[str, list]:
    found = {}
    for check in checks:
        found.setdefault(check.name, []).append(check)
    return found


def test_all_good_exits_0(make_config_file, camera_folder, capsys):
    config = make_config_file(camera={"source": str(camera_folder)})
    assert main(config) == 0
    out = capsys.readouterr().out
    assert "FAIL" not in out and out.rstrip().endswith("all good")
    checks = by_name(run_checks(config))
    assert {"config", "model", "faces", "camera", "mpd", "playlist", "buttons", "state", "disk"} <= set(checks)
    assert [c.detail.split(" ")[0] for c in checks["playlist"]] == ["calming", "calm", "upbeat", "everyday"]
    assert "320x240 frame, no face in it" in checks["camera"][0].detail  # looked at the daemon's way


def test_problems_are_listed_with_their_fix_and_exit_1(make_config_file, tmp_path, capsys):
    config = make_config_file(model={"path": str(tmp_path / "gone.tflite")},
                              music={"playlists": {"happy": ["upbeat", "party"]}})
    assert main(config) == 1
    out = capsys.readouterr().out
    assert "FAIL  model" in out and "gone" in out
    assert "FAIL  camera" in out and "no-camera" in out
    assert "WARN  playlist   party (for happy): MPD at " in out  # skipped by the daemon, not a refusal
    assert "has no stored playlist named party: create it in MPD (e.g. `mpc save party`)" in out
    assert "OK    playlist   upbeat (for happy, surprise): 3 songs" in out
    assert out.rstrip().endswith("2 problem(s) found")
    assert main(config, as_json=True) == 1  # issue 25 item 6: --json for scripts
    report = json.loads(capsys.readouterr().out)
    assert report["problems"] == 2 and {"name": "playlist", "level": "WARN"}.items() <= next(
        check for check in report["checks"] if "party" in check["detail"]).items()


def test_mpd_down_and_bad_config_key(make_config_file, mpd_server, camera_folder, tmp_path):
    mpd_server.stop()
    config = make_config_file(camera={"source": str(camera_folder)})
    checks = by_name(run_checks(config))
    assert checks["mpd"][0].level == "FAIL" and "not reachable" in checks["mpd"][0].detail
    config.write_text(config.read_text() + "[mood]\nwindow = 3\n")
    config_check = by_name(run_checks(config))["config"][0]
    assert config_check.level == "FAIL" and "mood" in config_check.detail


def test_buttons_need_a_pin_factory(make_config_file, camera_folder, monkeypatch):
    config = make_config_file(camera={"source": str(camera_folder)}, buttons={"enabled": True})
    monkeypatch.setenv("GPIOZERO_PIN_FACTORY", "mock")
    check = by_name(run_checks(config))["buttons"][0]
    assert check.level == "OK" and "MockFactory" in check.detail
    assert "press 17 skip, 27 like, 22 pause; hold 27 hold" in check.detail


@pytest.fixture
def daemon_answering(make_config_file):
    """A control socket answering "status" the way the daemon does, for a camera the doctor cannot open."""
    servers = []

    def serve(camera: str, problems=()):
        config = make_config_file(camera={"source": "/dev/video99"})  # opening it would fail
        answer = {"ok": True, "status": "degraded" if problems else "ok", "problems": list(problems),
                  "camera": camera, "mood": None, "playlist": None}
        server = ControlServer(load_config(config).state.control_socket, lambda request: answer)
        server.start()
        servers.append(server)
        return config

    yield serve
    for server in servers:
        server.close()


def test_camera_held_by_the_running_daemon_is_asked_about_not_opened(daemon_answering):
    check = by_name(run_checks(daemon_answering("ok")))["camera"][0]
    assert check.level == "OK" and "in use by the running daemon" in check.detail


def test_camera_the_daemon_lost_fails_with_the_daemons_reason(daemon_answering):
    config = daemon_answering("lost", problems=["camera lost (FrameError: could not open camera '/dev/video99')"])
    check = by_name(run_checks(config))["camera"][0]
    assert check.level == "FAIL" and "could not open camera" in check.detail and "running daemon" in check.detail


def test_camera_opened_by_the_doctor_lights_the_led_while_in_use(make_config_file, camera_folder, monkeypatch):
    factory = MockFactory()
    monkeypatch.setattr(Device, "pin_factory", factory)
    config = make_config_file(camera={"source": str(camera_folder)}, buttons={"enabled": True, "led_pin": 19})
    try:
        check = by_name(run_checks(config))["camera"][0]
        assert check.level == "OK"
        assert [state.state for state in factory.pin(19).states] == [False, True, False]
    finally:
        factory.reset()


BROKEN_ALSA = 'audio_output {\n  type "alsa"\n  name "broken"\n  device "hw:99"\n}\n'


def test_a_silent_speaker_is_a_failure(make_config_file, music_library, camera_folder, tmp_path):
    """Defect 8: with MPD's output failing (paused, `error` in its status) the doctor said all good."""
    from moodbox.devkit.mpdserver import PrivateMPD

    music_dir, playlists_dir, _ = music_library
    with PrivateMPD(tmp_path / "broken-mpd", music_dir=music_dir, playlists_dir=playlists_dir,
                    audio_output=BROKEN_ALSA) as broken:
        client = broken.client()
        client.load("upbeat")
        client.play(0)
        config = make_config_file(camera={"source": str(camera_folder)}, mpd={"host": broken.socket_path})
        audio = by_name(run_checks(config))["audio"][0]
        assert audio.level == "FAIL" and 'Failed to open ALSA device "hw:99"' in audio.detail
        assert "sudo ./setup.sh --audio" in audio.detail  # issue 25 item 2: how to choose another output
        client.clearerror()
        client.disableoutput(0)
        audio = by_name(run_checks(config))["audio"][0]
        assert audio.level == "FAIL" and "no enabled audio output" in audio.detail
        client.disconnect()


def test_playback_that_advances_is_ok(make_config_file, mpd_server, mpd_client, camera_folder):
    config = make_config_file(camera={"source": str(camera_folder)})
    assert by_name(run_checks(config))["audio"][0].level == "WARN"  # nothing plays: not checked
    mpd_client.load("upbeat")
    mpd_client.play(0)
    audio = by_name(run_checks(config))["audio"][0]
    assert audio.level == "OK" and "Upbeat 1" in audio.detail


def test_a_typo_is_reported_and_the_rest_is_checked_with_what_could_be_read(make_config_file, camera_folder):
    """Defect 16: one typo made the doctor fall back to every default: bogus camera, buttons and model findings."""
    config = make_config_file(camera={"source": str(camera_folder)})
    config.write_text(config.read_text() + "[face]\nmin_scor = 0.5\n")
    checks = by_name(run_checks(config))
    assert [c.level for c in checks["config"]] == ["FAIL"] and "unknown key face.min_scor" in checks["config"][0].detail
    assert checks["camera"][0].level == "OK" and "320x240 frame" in checks["camera"][0].detail
    assert checks["buttons"][0].detail == "disabled in the config (buttons.enabled = false)"
    assert checks["mpd"][0].level == "OK"
