"""The SSH diagnostics in scripts/: camera check on real frames and the real model, support bundle, live status."""

from __future__ import annotations

import fcntl
import os
import subprocess
import tarfile
import threading
from pathlib import Path

import cv2
import numpy as np
import pytest

HAPPY = 3
PRIVATE_TEST = 2


@pytest.fixture
def frame_folder(tmp_path, data_dir) -> Path:
    """Three 640x480 frames, each with a FER2013 PrivateTest happy face pasted in (made in tmp, never committed)."""
    data = np.load(data_dir / "fer2013.npz")
    chosen = np.flatnonzero((data["usage"] == PRIVATE_TEST) & (data["emotion"] == HAPPY))[:3]
    folder = tmp_path / "frames"
    folder.mkdir()
    for number, index in enumerate(chosen):
        frame = np.full((480, 640), 90, np.uint8)
        frame[140:332, 220:412] = cv2.resize(data["pixels"][index], (192, 192), interpolation=cv2.INTER_CUBIC)
        cv2.imwrite(str(folder / f"frame{number}.png"), frame)
    return folder


def run_script(repo_root: Path, name: str, *args: str, cwd: Path, env: dict[str, str] | None = None):
    return subprocess.run([str(repo_root / "scripts" / name), *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120, env={**os.environ, "MOODBOX_PYTHON": str(repo_root / ".venv/bin/python"),
                                            **(env or {})})


def test_camera_check_prints_face_and_expression(repo_root, frame_folder, tmp_path):
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    config = repo_root / "device" / "moodbox" / "moodbox.toml"
    result = run_script(repo_root, "camera-check", "--config", str(config), "--source", str(frame_folder),
                        "--count", "3", "--interval", "0", cwd=workdir)
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stdout.splitlines() if line.startswith("frame ")]
    assert len(lines) == 3
    labels = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
    for line in lines:
        assert "640x480" in line and " face " in line
        assert line.split(": ")[-1].split()[0] in labels
    assert list(workdir.iterdir()) == []  # nothing written without --save-frame


def test_camera_check_saves_a_frame_only_when_asked(repo_root, frame_folder, tmp_path):
    saved = tmp_path / "look.png"
    config = repo_root / "device" / "moodbox" / "moodbox.toml"
    result = run_script(repo_root, "camera-check", "--config", str(config), "--source", str(frame_folder),
                        "--save-frame", str(saved), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert cv2.imread(str(saved), cv2.IMREAD_GRAYSCALE).shape == (480, 640)


def test_camera_check_reports_a_dead_camera(repo_root, tmp_path):
    config = repo_root / "device" / "moodbox" / "moodbox.toml"
    result = run_script(repo_root, "camera-check", "--config", str(config), "--source", str(tmp_path / "none"),
                        cwd=tmp_path)
    assert result.returncode == 1
    assert "sudo systemctl stop moodbox" in result.stderr or "no frame" in result.stderr


def test_support_bundle_has_diagnostics_and_no_personal_data(repo_root, tmp_path):
    etc = tmp_path / "etc"
    etc.mkdir()
    (etc / "moodbox.toml").write_text('[mood]\nwindow_s = 15.0\n')
    out = tmp_path / "out"
    result = run_script(repo_root, "support-bundle", "--output", str(out), cwd=tmp_path,
                        env={"MOODBOX_BIN": str(repo_root / ".venv/bin/moodbox"), "MOODBOX_ETC": str(etc)})
    assert result.returncode == 0, result.stderr
    (bundle,) = out.glob("moodbox-support-*.tar.gz")
    with tarfile.open(bundle) as archive:
        members = {Path(m.name).name: m for m in archive.getmembers() if m.isfile()}
        text = {name: archive.extractfile(m).read().decode() for name, m in members.items()}
    for name in ("doctor.txt", "versions.txt", "moodbox.toml", "journal-moodbox.txt", "journal-mpd.txt",
                 "disk.txt", "temperature.txt"):
        assert name in members
    assert "moodbox doctor" in text["doctor.txt"] and "model" in text["doctor.txt"]
    assert "window_s = 15.0" in text["moodbox.toml"]
    assert not [n for n in members if n.endswith((".png", ".jpg", ".npy", ".db", ".sqlite", "-wal"))]


def test_live_status_once(repo_root, tmp_path):
    """Its own control socket path: the default one answers on a box where moodbox runs (issue 25 item 7)."""
    config = tmp_path / "moodbox.toml"
    config.write_text(f'[state]\ncontrol_socket = "{tmp_path / "control.sock"}"\n')
    result = run_script(repo_root, "moodbox-status", "--once", "--config", str(config), cwd=tmp_path,
                        env={"MOODBOX_BIN": str(repo_root / ".venv/bin/moodbox")})
    assert result.returncode == 0, result.stderr
    assert "moodbox status" in result.stdout
    assert "control socket" in result.stdout  # no daemon here: says so instead of failing


def test_apt_steps_wait_for_a_held_dpkg_lock_and_say_why(repo_root, tmp_path):
    """Defect 22: scripts/demo and tests/run failed at once while another apt held the dpkg lock."""
    lock_file = tmp_path / "lock-frontend"
    lock_file.touch()
    holder = open(lock_file, "a")
    fcntl.lockf(holder, fcntl.LOCK_EX)  # held by this process: the script's probe runs in another one
    threading.Timer(2.0, holder.close).start()  # the other apt finishes after a while
    env = {**os.environ, "MOODBOX_DPKG_LOCKS": f"{tmp_path / 'absent'} {lock_file}"}
    command = f"source {repo_root}/scripts/dpkg-lock.sh && wait_for_dpkg_lock tests/run && echo proceeding"
    waited = subprocess.run(["bash", "-c", command], env=env, capture_output=True, text=True, timeout=60)
    assert waited.returncode == 0, waited.stderr
    assert f"tests/run: another apt or dpkg (e.g. unattended-upgrades after first boot) holds {lock_file}" \
        in waited.stdout
    assert waited.stdout.rstrip().endswith("proceeding")

    holder = open(lock_file, "a")
    fcntl.lockf(holder, fcntl.LOCK_EX)
    try:
        given_up = subprocess.run(["bash", "-c", command], env={**env, "MOODBOX_DPKG_LOCK_WAIT_S": "1"},
                                  capture_output=True, text=True, timeout=60)
    finally:
        holder.close()
    assert given_up.returncode == 1 and "proceeding" not in given_up.stdout
    assert f"{lock_file} is still held after 1 s" in given_up.stderr
