"""`moodbox doctor` against a real MPD, the real model and a real (image folder) camera."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from moodbox.doctor import main, run_checks


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
    assert "320x240 frame" in checks["camera"][0].detail


def test_problems_are_listed_with_their_fix_and_exit_1(make_config_file, tmp_path, capsys):
    config = make_config_file(model={"path": str(tmp_path / "gone.tflite")},
                              music={"playlists": {"happy": ["upbeat", "party"]}})
    assert main(config) == 1
    out = capsys.readouterr().out
    assert "FAIL  model" in out and "gone" in out
    assert "FAIL  camera" in out and "no-camera" in out
    assert "FAIL  playlist   party (for happy) does not exist in MPD -> create it" in out
    assert "OK    playlist   upbeat (for happy, surprise): 3 songs" in out
    assert out.rstrip().endswith("3 problem(s) found")


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
    assert check.level == "OK" and "MockFactory" in check.detail and "skip 17" in check.detail
