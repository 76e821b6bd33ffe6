"""systemd/moodbox.service: verified offline, exposure score under the threshold, and its contract with the daemon."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

EXPOSURE_THRESHOLD = 2.5
SYSTEM_UNITS = Path("/usr/lib/systemd/system")

pytestmark = pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="needs systemd-analyze (apt: systemd)")


def unit_settings(text: str) -> dict[str, list[str]]:
    """Key -> values in order, for a unit file's non-comment lines (systemd allows a key more than once)."""
    settings: dict[str, list[str]] = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith(("#", ";", "[")) and "=" in line:
            key, value = line.split("=", 1)
            settings.setdefault(key.strip(), []).append(value.strip())
    return settings


def verify_in_root(tmp_path: Path, unit_text: str, name: str = "moodbox.service") -> subprocess.CompletedProcess:
    """`systemd-analyze verify` against a root holding the unit, its ExecStart program and the stock units."""
    root = tmp_path / "root"
    exec_start = unit_settings(unit_text)["ExecStart"][0].split()[0]
    program = root / exec_start.lstrip("/")
    program.parent.mkdir(parents=True)
    program.write_text("#!/bin/sh\n")
    program.chmod(0o755)
    (root / "bin").mkdir()
    shutil.copy2("/bin/kill", root / "bin" / "kill")
    units = root / "etc" / "systemd" / "system"
    units.mkdir(parents=True)
    (units / name).write_text(unit_text)
    shutil.copytree(SYSTEM_UNITS, root / SYSTEM_UNITS.relative_to("/"), symlinks=True)
    return subprocess.run(["systemd-analyze", "verify", f"--root={root}", name],
                          capture_output=True, text=True)


def exposure(unit: Path) -> float:
    result = subprocess.run(["systemd-analyze", "security", "--offline=true", "--no-pager", str(unit)],
                            capture_output=True, text=True)
    match = re.search(rf"Overall exposure level for {re.escape(unit.name)}: (\d+\.\d+)", result.stdout)
    assert match, result.stdout + result.stderr
    return float(match.group(1))


@pytest.fixture(scope="module")
def unit_path(repo_root) -> Path:
    return repo_root / "systemd" / "moodbox.service"


def test_verify_is_clean(unit_path, tmp_path):
    result = verify_in_root(tmp_path, unit_path.read_text())
    assert result.returncode == 0 and result.stdout + result.stderr == "", result.stdout + result.stderr


def test_verify_catches_a_broken_unit(unit_path, tmp_path):
    """The verify check is alive: a misspelt value in an otherwise identical unit fails it."""
    broken = unit_path.read_text().replace("Type=notify", "Type=notfy")
    result = verify_in_root(tmp_path, broken)
    assert "moodbox.service:" in result.stderr and "notfy" in result.stderr


def test_exposure_score_within_threshold(unit_path):
    score = exposure(unit_path)
    print(f"systemd-analyze security exposure: {score}")
    assert score <= EXPOSURE_THRESHOLD


def test_exposure_check_is_alive(unit_path, tmp_path):
    """Without its hardening block the same unit scores far above the threshold."""
    text = unit_path.read_text()
    bare = tmp_path / "moodbox.service"
    bare.write_text(text[:text.index("# --- Hardening ---")] + "\n[Install]\nWantedBy=multi-user.target\n")
    assert exposure(bare) > EXPOSURE_THRESHOLD


def test_jetson_unit_verifies(repo_root, tmp_path):
    """The unit as setup.sh renders it for a Jetson (device allow-list lifted) is valid too."""
    rendered = subprocess.run(
        ["bash", "-c", 'source "$0/setup.sh"; PLATFORM=jetson; unit_text', str(repo_root)],
        capture_output=True, text=True, env={**os.environ, "MOODBOX_PREFIX": "/opt/moodbox"})
    assert rendered.returncode == 0, rendered.stderr
    assert "DevicePolicy=auto" in rendered.stdout
    result = verify_in_root(tmp_path, rendered.stdout)
    assert result.returncode == 0 and result.stdout + result.stderr == "", result.stderr


def test_service_contract(unit_path):
    """What the daemon relies on: notify + watchdog, no restart on a config error, its own user and directories."""
    settings = unit_settings(unit_path.read_text())
    assert settings["Type"] == ["notify"]
    assert int(settings["WatchdogSec"][0]) >= 10  # the daemon pings every tick (1 s default, grabs time out at 2 s)
    assert settings["Restart"] == ["on-failure"]
    # bad config, bad model; missing playlists are no reason to stop (issue 25 item 1)
    assert settings["RestartPreventExitStatus"][0].split() == ["2", "3"]
    assert settings["User"] == ["moodbox"]
    assert settings["StateDirectory"] == ["moodbox"]
    assert settings["RuntimeDirectory"] == ["moodbox"]
    assert "ConfigurationDirectory" not in settings  # it would make /etc/moodbox writable (tests/system found it)
    assert "mpd.service" in settings["After"][0] and "mpd.service" in settings["Wants"][0]
    assert "Requires" not in settings and "BindsTo" not in settings  # a late or restarted MPD must not stop us
    # Power-cut safety: the file system is read-only to the daemon except its state (SQLite WAL) and runtime dirs.
    assert settings["ProtectSystem"] == ["strict"]
    assert "ReadWritePaths" not in settings
    assert settings["IPAddressDeny"] == ["any"] and settings["IPAddressAllow"] == ["localhost"]


@pytest.mark.slow
def test_broken_config_exits_with_the_status_that_stops_restarts(repo_root, tmp_path):
    """`moodbox run` on a bad config exits with RestartPreventExitStatus and names the key, as the unit expects."""
    moodbox = Path(os.environ.get("VIRTUAL_ENV", repo_root / ".venv")) / "bin" / "moodbox"
    if not moodbox.exists():
        moodbox = repo_root / ".venv" / "bin" / "moodbox"
    config = tmp_path / "moodbox.toml"
    config.write_text("[mood]\nwindow_s = -5\n")
    result = subprocess.run([str(moodbox), "run", "--config", str(config)], capture_output=True, text=True,
                            timeout=60, env={**os.environ, "NOTIFY_SOCKET": ""})
    prevent = unit_settings((repo_root / "systemd" / "moodbox.service").read_text())["RestartPreventExitStatus"]
    assert str(result.returncode) in prevent[0].split()
    assert "mood.window_s" in result.stderr


def test_library_unit_verifies_is_hardened_and_runs_the_watch_at_idle_priority(repo_root, tmp_path):
    """systemd/moodbox-library.service (`moodbox library watch`): valid, low exposure, never in the camera's way."""
    text = (repo_root / "systemd" / "moodbox-library.service").read_text()
    result = verify_in_root(tmp_path, text)
    assert result.returncode == 0 and result.stdout + result.stderr == "", result.stdout + result.stderr
    renamed = tmp_path / "moodbox.service"  # exposure() reads the score line by this name
    renamed.write_text(text)
    assert exposure(renamed) <= EXPOSURE_THRESHOLD
    settings = unit_settings(text)
    assert settings["ExecStart"][0].endswith("moodbox library watch --config /etc/moodbox/moodbox.toml")
    assert int(settings["Nice"][0]) >= 10 and settings["CPUSchedulingPolicy"] == ["idle"]
    assert settings["User"] == ["moodbox"] and settings["StateDirectory"] == ["moodbox"]
    assert settings["RestartPreventExitStatus"][0].split() == ["2", "3"]


# --- moodbox-web.service: the opt-in phone page -------------------------------------------------------------------

@pytest.fixture(scope="module")
def web_unit_path(repo_root) -> Path:
    return repo_root / "systemd" / "moodbox-web.service"


def test_web_unit_verifies_and_scores_within_threshold(web_unit_path, tmp_path):
    result = verify_in_root(tmp_path, web_unit_path.read_text(), "moodbox-web.service")
    assert result.returncode == 0 and result.stdout + result.stderr == "", result.stdout + result.stderr
    score = exposure(web_unit_path)
    print(f"moodbox-web.service systemd-analyze security exposure: {score}")
    assert score <= EXPOSURE_THRESHOLD
    text = web_unit_path.read_text()
    bare = tmp_path / "moodbox-web.service"
    bare.write_text(text[:text.index("# --- Hardening ---")] + "\n[Install]\nWantedBy=multi-user.target\n")
    assert exposure(bare) > EXPOSURE_THRESHOLD  # the check is alive


def test_web_unit_has_no_camera_and_reaches_the_daemon_only_through_its_group(web_unit_path, unit_path):
    web = unit_settings(web_unit_path.read_text())
    # No device nodes at all: a private /dev (null, zero, random, ...) and no DeviceAllow; not in the video group.
    assert web["PrivateDevices"] == ["yes"] and web["DevicePolicy"] == ["closed"] and "DeviceAllow" not in web
    assert web["SupplementaryGroups"] == ["moodbox"] and web["DynamicUser"] == ["yes"]
    assert "User" not in web and web["StateDirectory"] == ["moodbox-web"]  # its own state, never the daemon's
    assert web["ProtectSystem"] == ["strict"] and "ReadWritePaths" not in web  # the store is read-only to it
    assert web["LoadCredential"] == ["token:/etc/moodbox/web.token"]
    assert web["ExecStart"][0].endswith("moodbox web --config /etc/moodbox/moodbox.toml")
    assert web["IPAddressDeny"] == ["any"] and "0.0.0.0/0" not in web["IPAddressAllow"][0]
    assert "AF_NETLINK" not in web["RestrictAddressFamilies"][0]
    main = unit_settings(unit_path.read_text())
    assert main["IPAddressDeny"] == ["any"] and main["IPAddressAllow"] == ["localhost"]  # the daemon stays local
    assert main["UMask"] == ["0027"]  # the store is group-readable for the page, never world-readable
