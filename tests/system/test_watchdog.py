"""What systemd does when the daemon hangs, crashes or cannot run: restart it, or leave it down and say why."""

from __future__ import annotations

import time

import pytest

from install_support import CONFIG, status

pytestmark = pytest.mark.system

WATCHDOG_S = 30       # WatchdogSec= of the unit
RESTART_S = 5         # RestartSec=
ABORT_S = 15          # TimeoutStopSec= (also how long systemd waits after the watchdog's SIGABRT)
START_MARGIN_S = 30   # a new process to READY on a loaded machine


def fresh(machine):
    """Start from a running service with the start-rate counter cleared (the suite restarts it often)."""
    machine.run("systemctl", "reset-failed", "moodbox.service")
    machine.run("systemctl", "start", "moodbox.service", check=True)
    shown = machine.show("moodbox.service", "MainPID", "NRestarts")
    return shown["MainPID"], int(shown["NRestarts"])


def signal(machine, name: str) -> None:
    machine.run("systemctl", "kill", "--kill-who=main", f"--signal={name}", "moodbox.service", check=True)


def restarted(machine, old_pid: str):
    shown = machine.show("moodbox.service", "MainPID", "ActiveState", "SubState")
    return shown if shown["ActiveState"] == "active" and shown["MainPID"] not in ("0", old_pid) else None


def test_frozen_daemon_is_killed_by_the_watchdog_and_restarted(install):
    machine = install.machine
    pid, restarts = fresh(machine)
    since = machine.clock()
    started = time.monotonic()
    signal(machine, "SIGSTOP")
    machine.wait_for(lambda: restarted(machine, pid), timeout=WATCHDOG_S + ABORT_S + RESTART_S + START_MARGIN_S,
                     interval=1, what="a new daemon after the watchdog fired")
    print(f"SIGSTOP -> active again with a new process after {time.monotonic() - started:.1f} s")
    assert time.monotonic() - started >= WATCHDOG_S - 1  # it was the watchdog, not something sooner
    assert "Watchdog timeout" in machine.journal("moodbox.service", since)
    assert int(machine.show("moodbox.service", "NRestarts")["NRestarts"]) == restarts + 1
    assert status(machine)["mpd"] == "connected"


def test_crashed_daemon_is_restarted(install):
    machine = install.machine
    pid, restarts = fresh(machine)
    started = time.monotonic()
    signal(machine, "SIGKILL")
    machine.wait_for(lambda: restarted(machine, pid), timeout=RESTART_S + START_MARGIN_S, interval=0.5,
                     what="a new daemon after SIGKILL")
    print(f"SIGKILL -> active again after {time.monotonic() - started:.1f} s")
    assert int(machine.show("moodbox.service", "NRestarts")["NRestarts"]) == restarts + 1


def stays_down(machine, exit_status: int, says: str) -> None:
    since = machine.clock()
    machine.run("systemctl", "restart", "moodbox.service")  # fails: the start itself exits
    time.sleep(RESTART_S + 3)  # a restart would have come by now
    shown = machine.show("moodbox.service", "ActiveState", "Result", "ExecMainStatus", "NRestarts")
    assert shown["ActiveState"] == "failed" and shown["ExecMainStatus"] == str(exit_status), shown
    assert shown["NRestarts"] == "0", shown  # a manual (re)start resets it; none came from Restart=
    journal = machine.journal("moodbox.service", since)
    assert says in journal, journal[-3000:]


def test_bad_config_exits_2_and_stays_down_saying_which_key(install):
    machine = install.machine
    fresh(machine)
    machine.run("sed", "-i", "s/^window_s = 20.0$/window_s = -5/", CONFIG, check=True)
    try:
        stays_down(machine, 2, "mood.window_s")
    finally:
        machine.run("sed", "-i", "s/^window_s = -5$/window_s = 20.0/", CONFIG, check=True)
        fresh(machine)


def test_missing_model_exits_3_and_stays_down_naming_the_file(install):
    machine = install.machine
    fresh(machine)
    model = "/opt/moodbox/models/emotion.tflite"
    machine.run("mv", model, f"{model}.away", check=True)
    try:
        stays_down(machine, 3, model)
    finally:
        machine.run("mv", f"{model}.away", model, check=True)
        fresh(machine)
    assert status(machine)["mpd"] == "connected"
