"""A reboot brings the box back with its likes; a hard stop in the middle of a burst of likes loses none that was
acknowledged."""

from __future__ import annotations

import threading
import time

import pytest

from install_support import STORE, count_likes, status

pytestmark = pytest.mark.system

UNITS = ("mpd.service", "moodbox.service", "moodbox-library.service", "moodbox-web.service")


def all_active(machine) -> None:
    states = machine.wait_for(
        lambda: (lambda s: s if all(v == "active" for v in s.values()) else None)(
            {unit: machine.show(unit, "ActiveState")["ActiveState"] for unit in UNITS}),
        timeout=90, interval=1, what="every unit active after the boot")
    assert states


def integrity(machine) -> str:
    script = ("import sqlite3, sys; print(sqlite3.connect(f'file:{sys.argv[1]}?mode=ro', uri=True)"
              ".execute('PRAGMA integrity_check').fetchone()[0])")
    return machine.run("/usr/bin/python3", "-c", script, STORE, check=True).stdout.strip()


def test_reboot_keeps_the_likes(install):
    machine = install.machine
    for _ in range(3):
        machine.run("moodbox", "like", check=True)
    likes = count_likes(machine)
    seconds = machine.reboot()
    print(f"reboot: systemd up again in {seconds:.1f} s")
    all_active(machine)
    assert count_likes(machine) == likes
    assert machine.wait_for(lambda: status(machine)["mpd"] == "connected", timeout=30, what="MPD reached")


def test_hard_stop_during_a_like_burst_loses_no_acknowledged_like(install):
    machine = install.machine
    all_active(machine)
    before = count_likes(machine)
    acknowledged, attempts, stop = [], [], threading.Event()

    def burst():
        while not stop.is_set():
            attempts.append(1)
            try:
                answer = machine.run("moodbox", "like", timeout=20)
            except Exception:  # the machine went away under the command
                return
            if answer.returncode == 0:
                acknowledged.append(1)

    presser = threading.Thread(target=burst)
    presser.start()
    machine.wait_for(lambda: len(acknowledged) >= 8, timeout=120, interval=0.05, what="8 acknowledged likes")
    machine.hard_stop()
    stop.set()
    presser.join(timeout=60)
    machine.boot()
    all_active(machine)
    after = count_likes(machine)
    print(f"hard stop: {len(acknowledged)} likes acknowledged of {len(attempts)} sent; {after - before} in the store")
    assert integrity(machine) == "ok"
    assert len(acknowledged) <= after - before <= len(attempts)
