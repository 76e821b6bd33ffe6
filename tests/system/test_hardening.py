"""The units' hardening as systemd applies it in a running system, and the daemon working with all of it on."""

from __future__ import annotations

import re
import socket

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
    machine.run("usermod", "-a", "-G", "moodbox", "listener", check=True)
    before = count_likes(machine)
    answer = machine.run("moodbox", "like", user="listener")
    assert answer.returncode == 0, answer.output
    assert count_likes(machine) == before + 1
    mode = machine.run("stat", "-c", "%a %U:%G", STORE, check=True).stdout.split()
    assert mode == ["640", "moodbox:moodbox"], mode


def lan_address() -> str | None:
    """This machine's address on its network (the container shares it), or None without a route."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect(("10.255.255.255", 9))  # picks the outgoing interface; sends nothing
        return probe.getsockname()[0]
    except OSError:
        return None
    finally:
        probe.close()


def test_daemon_reaches_only_loopback(install):
    """IPAddressDeny=any, IPAddressAllow=localhost as the kernel applies it to the unit's cgroup: a process placed
    in moodbox.service's cgroup reaches a listener on 127.0.0.1 but not the same listener on the LAN address, which
    a process outside the unit reaches."""
    machine = install.machine
    address = lan_address()
    if address is None:
        pytest.skip("this machine has no network route: no LAN address to try")
    listener = socket.create_server(("0.0.0.0", 0))
    port = listener.getsockname()[1]
    socket.create_connection((address, port), timeout=5).close()  # outside the unit it is reachable
    group = machine.show("moodbox.service", "ControlGroup")["ControlGroup"]
    connect = ("import socket, sys\n"
               "try:\n    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5).close(); print('open')\n"
               "except OSError as err:\n    print('blocked', err)\n")

    def from_the_unit(host: str) -> str:
        # the unified (v2) hierarchy, where systemd attaches the unit's BPF filter: beside v1 on a hybrid host
        script = (f'tree=/sys/fs/cgroup/unified; [ -d $tree ] || tree=/sys/fs/cgroup; '
                  f'echo $$ > $tree{group}/cgroup.procs && exec python3 -c "$0" "$1" "$2"')
        return machine.run("bash", "-c", script, connect, host, str(port), check=True).stdout.strip()

    try:
        control = machine.run("systemd-run", "--wait", "--pipe", "--quiet", "-p", "IPAddressDeny=any", "-p",
                              "IPAddressAllow=localhost", "python3", "-c", connect, address, str(port))
        if control.stdout.strip() == "open":
            pytest.skip("systemd cannot apply IPAddressDeny= here (no BPF cgroup firewall in this kernel/container)")
        assert from_the_unit("127.0.0.1") == "open"
        assert from_the_unit(address).startswith("blocked"), address
    finally:
        listener.close()
