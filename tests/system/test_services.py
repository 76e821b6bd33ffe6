"""The installed units under systemd: active, READY from the daemon, its socket for the group, config reloads."""

from __future__ import annotations

import time

import pytest

from install_support import CAMERA, CONFIG, status

pytestmark = pytest.mark.system

UNITS = ("mpd.service", "moodbox.service", "moodbox-library.service", "moodbox-web.service")


def test_units_are_active(install):
    machine = install.machine
    states = {unit: machine.show(unit, "ActiveState", "SubState") for unit in UNITS}
    assert all(state["ActiveState"] == "active" for state in states.values()), states


def test_ready_and_status_come_from_the_daemon(install):
    """Type=notify with NotifyAccess=main: 'active' means the daemon's own process said READY=1, and its STATUS=
    line is what systemctl shows."""
    machine = install.machine
    shown = machine.show("moodbox.service", "Type", "NotifyAccess", "MainPID", "StatusText",
                         "ExecMainStartTimestampMonotonic", "ActiveEnterTimestampMonotonic")
    assert shown["Type"] == "notify" and shown["NotifyAccess"] == "main"
    command = machine.run("cat", f"/proc/{shown['MainPID']}/cmdline").stdout.split("\0")
    assert command[1:3] == ["/opt/moodbox/venv/bin/moodbox", "run"], command
    assert shown["StatusText"], "the daemon sent no STATUS= line"
    ready_s = (int(shown["ActiveEnterTimestampMonotonic"]) - int(shown["ExecMainStartTimestampMonotonic"])) / 1e6
    print(f"moodbox.service: READY {ready_s:.1f} s after the process started; status: {shown['StatusText']}")
    assert "moodbox ready" in machine.journal("moodbox.service")


def test_the_camera_folder_is_read_and_mpd_reached(install):
    machine = install.machine
    def ticked():
        answer = status(machine)
        return answer if answer["status"] != "starting" else None

    answer = machine.wait_for(ticked, timeout=30, what="a first tick")
    assert answer["camera"] == "ok", answer
    assert answer["mpd"] == "connected", answer
    assert answer["face_in_view"] is False  # grey frames: nobody there
    assert machine.run("grep", "-x", f'source = "{CAMERA}"', CONFIG).returncode == 0


def test_control_socket_answers_the_group_only(install):
    """RuntimeDirectory= and StateDirectory= as systemd makes them, the socket as the daemon makes it."""
    machine = install.machine
    modes = machine.run("stat", "-c", "%n %a %U:%G", "/run/moodbox", "/run/moodbox/control.sock", "/var/lib/moodbox",
                        check=True).stdout.splitlines()
    assert modes == ["/run/moodbox 750 moodbox:moodbox", "/run/moodbox/control.sock 660 moodbox:moodbox",
                     "/var/lib/moodbox 750 moodbox:moodbox"], modes
    machine.run("usermod", "-a", "-G", "moodbox", "listener", check=True)
    assert status(machine, user="listener")["mpd"] == "connected"
    refused = machine.run("moodbox", "status", user="stranger")
    assert refused.returncode != 0 and "ermission denied" in refused.stderr, refused.output


def test_reload_applies_a_good_config(install):
    machine = install.machine
    pid = machine.show("moodbox.service", "MainPID")["MainPID"]
    since = machine.clock()
    machine.run("sed", "-i", "s/^window_s = 20.0$/window_s = 12.0/", CONFIG, check=True)
    assert machine.run("systemctl", "reload", "moodbox.service").returncode == 0
    machine.wait_for(lambda: "config reloaded from" in machine.journal("moodbox.service", since), timeout=15,
                     what="the reload's journal line")
    shown = machine.show("moodbox.service", "MainPID", "ActiveState")
    assert shown == {"MainPID": pid, "ActiveState": "active"}


def test_reload_refuses_a_bad_config_and_keeps_running(install):
    machine = install.machine
    pid = machine.show("moodbox.service", "MainPID")["MainPID"]
    since = machine.clock()
    machine.run("sed", "-i", "s/^window_s = 12.0$/window_s = -5/", CONFIG, check=True)
    try:
        machine.run("systemctl", "reload", "moodbox.service")
        line = machine.wait_for(
            lambda: [entry for entry in machine.journal("moodbox.service", since).splitlines()
                     if "config reload refused" in entry], timeout=15, what="the refusal in the journal")
        assert "mood.window_s" in line[0], line
        time.sleep(2)
        assert machine.show("moodbox.service", "MainPID", "ActiveState") == {"MainPID": pid, "ActiveState": "active"}
        assert status(machine)["mpd"] == "connected"
    finally:
        machine.run("sed", "-i", "s/^window_s = -5$/window_s = 20.0/", CONFIG, check=True)
        machine.run("systemctl", "reload", "moodbox.service")


def test_library_unit_sorts_the_music_into_auto_playlists(install):
    """moodbox-library.service (idle priority, hardened) tags the tracks MPD lists and writes the auto-* playlists."""
    machine = install.machine

    def written():
        listed = machine.run("mpc", "lsplaylists").stdout.split()
        return [name for name in listed if name.startswith("auto-")]

    playlists = machine.wait_for(written, timeout=120, interval=2, what="auto-* playlists from the tagger")
    print(f"moodbox-library.service wrote {sorted(playlists)}")
    assert machine.show("moodbox-library.service", "ActiveState", "NRestarts") == {"ActiveState": "active",
                                                                                  "NRestarts": "0"}
    assert "Traceback" not in machine.journal("moodbox-library.service")
