"""The `moodbox` command line: subcommands, action commands over a real control socket, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from moodbox.cli import main
from moodbox.frontends.control import ControlServer


def moodbox(*args, timeout=60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "moodbox", *args], capture_output=True, text=True, timeout=timeout)


def test_help_lists_every_command():
    result = moodbox("--help")
    assert result.returncode == 0
    for command in ("run", "demo", "doctor", "bench", "skip", "like", "hold", "pause", "status", "louder", "quieter",
                    "history", "top", "web"):
        assert command in result.stdout
    for command in ("history", "top", "web"):  # their own options, handed over untouched
        shown = moodbox(command, "--help")
        assert shown.returncode == 0 and shown.stdout.startswith(f"usage: moodbox {command} ")


@pytest.fixture
def control_server(tmp_path):
    """A real control socket answering with a handler of our own (standing in for the daemon)."""
    requests = []

    def handler(request):
        requests.append(request["command"])
        if request["command"] == "skip":
            return {"ok": False, "error": "MPD at /run/mpd/socket is not reachable"}
        return {"ok": True, "command": request["command"], "playlist": "upbeat"}

    server = ControlServer(tmp_path / "run" / "control.sock", handler)
    server.start()
    yield server, requests
    server.close()


def test_action_commands_talk_to_the_daemon_over_the_control_socket(control_server, capsys):
    server, requests = control_server
    assert main(["hold", "--socket", str(server.socket_path)]) == 0
    assert capsys.readouterr().out == "command: hold\nplaylist: upbeat\n"
    assert main(["like", "--socket", str(server.socket_path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"ok": True, "command": "like", "playlist": "upbeat"}
    assert main(["skip", "--socket", str(server.socket_path)]) == 1
    assert "MPD at /run/mpd/socket is not reachable" in capsys.readouterr().err
    assert requests == ["hold", "like", "skip"]


def test_action_commands_find_the_socket_in_the_config(control_server, tmp_path, capsys):
    server, requests = control_server
    config = tmp_path / "moodbox.toml"
    config.write_text(f'[state]\ncontrol_socket = "{server.socket_path}"\n')
    assert main(["hold", "--config", str(config)]) == 0
    assert requests == ["hold"]


def test_action_command_without_a_daemon_says_so(tmp_path, capsys):
    assert main(["pause", "--socket", str(tmp_path / "none.sock")]) == 1
    assert "moodbox is not running" in capsys.readouterr().err


def test_action_command_with_a_bad_config_names_the_key(tmp_path, capsys):
    config = tmp_path / "moodbox.toml"
    config.write_text("[state]\ncontrol_sock = 'x'\n")
    assert main(["status", "--config", str(config)]) == 2
    assert "unknown key state.control_sock" in capsys.readouterr().err


def test_run_with_an_invalid_config_exits_2_naming_the_key(tmp_path):
    config = tmp_path / "moodbox.toml"
    config.write_text("[camera]\ninterval_s = 0\n")
    result = moodbox("run", "--config", str(config))
    assert result.returncode == 2
    assert f"{config}: camera.interval_s must be in 0.05..3600.0, got 0" in result.stderr


def test_run_with_a_missing_config_exits_2(tmp_path):
    result = moodbox("run", "--config", str(tmp_path / "absent.toml"))
    assert result.returncode == 2 and "absent.toml: config file not found" in result.stderr


def test_a_typo_outside_the_state_section_does_not_stop_talking_to_the_daemon(control_server, tmp_path, capsys):
    """Defect 16: one typo anywhere in the config made `moodbox status|skip|...` refuse to reach the daemon."""
    server, requests = control_server
    config = tmp_path / "moodbox.toml"
    config.write_text(f'[mood]\nwindow = 3\n[state]\ncontrol_socket = "{server.socket_path}"\n')
    assert main(["status", "--config", str(config)]) == 0
    assert requests == ["status"]


def test_a_reader_that_stops_early_gets_no_traceback(tmp_path):
    """Defect 17: `moodbox status | head -2` ended in a BrokenPipeError traceback."""
    reader_gone = threading.Event()

    def handler(request):
        reader_gone.wait(30)  # answer only once the reading end of the pipe is closed
        return {"ok": True, **{f"line{n}": "x" * 100 for n in range(200)}}

    server = ControlServer(tmp_path / "control.sock", handler)
    server.start()
    try:
        process = subprocess.Popen([sys.executable, "-m", "moodbox", "hold", "--socket", str(server.socket_path)],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        process.stdout.close()
        reader_gone.set()
        stderr = process.stderr.read().decode()
        assert process.wait(30) == 0
        assert "Traceback" not in stderr and "BrokenPipe" not in stderr
    finally:
        server.close()


@pytest.mark.parametrize("command", ["library", "web", "history", "top", "simulate", "bench", "demo"])
def test_help_texts_have_no_rest_markup(command):
    """Issue 25 item 6: help texts showed reST markup (``moodbox library``, :class:`...`)."""
    shown = moodbox(command, "--help")
    assert shown.returncode == 0 and "``" not in shown.stdout and ":class:" not in shown.stdout


def test_native_notes_of_litert_and_opencv_stay_out_of_stderr(tmp_path):
    """Issue 25 item 6: every model load printed LiteRT's XNNPACK line, and a camera that cannot be opened printed
    OpenCV's V4L2 warnings, into the journal and the doctor's output."""
    script = ("from moodbox.config import Config\nfrom moodbox.perception.expression import ExpressionModel\n"
              "from moodbox.perception.frames import FrameError, OpenCVSource\nExpressionModel.from_config(Config())\n"
              "try:\n    OpenCVSource('/dev/video97')\nexcept FrameError as err:\n    print(err)\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "could not open camera '/dev/video97'" in result.stdout
    assert "XNNPACK" not in result.stderr and "WARN" not in result.stderr and "cap_v4l" not in result.stderr


def test_the_diagnostics_are_installed_with_the_program_and_version_names_the_commit(tmp_path, monkeypatch):
    """Issue 25 item 3: "next steps" pointed into the clone (scripts/camera-check, support-bundle); they are
    `moodbox camera-check` and `moodbox bundle` now, and `moodbox --version` names the commit installed."""
    import moodbox as package

    shown = moodbox("--help").stdout
    assert "camera-check" in shown and "bundle" in shown
    assert moodbox("camera-check", "--help").stdout.startswith("usage: moodbox camera-check")
    assert moodbox("bundle", "--help").stdout.startswith("usage: moodbox bundle")
    head = subprocess.run(["git", "-C", str(Path(package.__file__).parents[2]), "rev-parse", "--short", "HEAD"],
                          capture_output=True, text=True).stdout.strip()
    assert f"(commit {head}" in moodbox("--version").stdout
    (tmp_path / package.COMMIT_FILE).write_text("abc1234\n")  # what setup.sh writes into the venv
    monkeypatch.setattr(sys, "prefix", str(tmp_path))
    assert package.installed_commit() == "abc1234"
