"""The units' hardening as systemd applies it in a running system, and the daemon working with all of it on."""

from __future__ import annotations

import re

import pytest

from install_support import STORE, count_likes

pytestmark = pytest.mark.system

EXPOSURE_THRESHOLD = 2.5  # as in tests/appliance/test_systemd.py, there scored offline from the unit file


def main_pid(machine, unit: str = "moodbox.service") -> str:
    pid = machine.show(unit, "MainPID")["MainPID"]
    assert pid != "0", f"{unit} has no main process"
    return pid


def proc_status(machine, pid: str) -> dict[str, str]:
    text = machine.run("cat", f"/proc/{pid}/status", check=True).stdout
    return {key: value.strip() for key, value in (line.split(":", 1) for line in text.splitlines() if ":" in line)}


@pytest.mark.parametrize("unit", ["moodbox.service", "moodbox-web.service", "moodbox-library.service"])
def test_security_exposure_in_the_running_system(install, unit):
    result = install.machine.run("systemd-analyze", "security", "--no-pager", unit)
    match = re.search(rf"Overall exposure level for {re.escape(unit)}: (\d+\.\d+)", result.stdout)
    assert match, result.output
    print(f"{unit}: systemd-analyze security in the running system: {match.group(1)}")
    assert float(match.group(1)) <= EXPOSURE_THRESHOLD


def test_daemon_runs_confined(install):
    """Its own user, no capabilities, no new privileges, the system-call filter on, no core dumps."""
    machine = install.machine
    pid = main_pid(machine)
    status = proc_status(machine, pid)
    uid = machine.run("id", "-u", "moodbox", check=True).stdout.strip()
    assert status["Uid"].split()[0] == uid
    assert status["CapEff"] == status["CapPrm"] == status["CapBnd"] == "0000000000000000"
    assert status["NoNewPrivs"] == "1"
    assert status["Seccomp"] == "2"  # filter mode: SystemCallFilter= is in force
    limits = machine.run("cat", f"/proc/{pid}/limits", check=True).stdout
    assert re.search(r"Max core file size\s+0\s+0", limits), limits


def test_daemon_writes_only_its_own_directories(install):
    """Seen from inside the service's mount namespace (as root, so only the mounts stop a write)."""
    machine = install.machine
    pid = main_pid(machine)

    def touch(path: str):
        return machine.run("nsenter", f"--target={pid}", "--mount", "--", "touch", path)

    for path in ("/etc/moodbox/probe", "/opt/moodbox/probe", "/usr/local/probe", "/var/lib/mpd/probe", "/srv/probe",
                 "/home/probe"):
        result = touch(path)
        assert result.returncode != 0 and "Read-only file system" in result.stderr, (path, result.output)
    for path in ("/var/lib/moodbox/probe", "/run/moodbox/probe", "/tmp/probe"):
        assert touch(path).returncode == 0, path
        machine.run("nsenter", f"--target={pid}", "--mount", "--", "rm", path, check=True)
    home = machine.run("nsenter", f"--target={pid}", "--mount", "--", "ls", "/home/owner")
    assert home.returncode != 0, "ProtectHome=yes: /home is hidden from the daemon"
    machine.run("rm", "-f", *(f"/{where}/probe" for where in ("etc/moodbox", "opt/moodbox", "usr/local", "srv")))


def test_store_is_written_and_group_readable(install):
    machine = install.machine
    before = count_likes(machine)
    answer = machine.run("moodbox", "like", user="listener")
    assert answer.returncode == 0, answer.output
    assert count_likes(machine) == before + 1
    mode = machine.run("stat", "-c", "%a %U:%G", STORE, check=True).stdout.split()
    assert mode == ["640", "moodbox:moodbox"], mode


def test_no_hardening_setting_was_dropped(install):
    """systemd says in the journal when it cannot apply a setting (e.g. no BPF for IPAddressDeny=): list them."""
    log = install.machine.run("journalctl", "--no-pager", "-o", "cat", "-b", "_PID=1").stdout
    unapplied = [line for line in log.splitlines() if re.search(
        r"BPF|not supported|proceeding without|failed to set up", line, re.IGNORECASE)]
    print("\n".join(unapplied) or "systemd applied every setting")
    assert unapplied == []
