"""The music goes on when the camera is unplugged and when MPD restarts (issue 25): in the container, at full speed.
It has no sound card, so for this test MPD plays into a null output timed like one (the VM of
test_first_boot_vm.py plays to an emulated card); the daemon's config is the one setup.sh wrote, with the camera
folder the harness set."""

from __future__ import annotations

import re

import pytest

from install_support import CAMERA, status

pytestmark = pytest.mark.system

SILENT_SPEAKER = ('audio_output {\n        type            "null"\n        name            "speaker"\n'
                  '        sync            "yes"\n        mixer_type      "software"\n}')


def mpd_state(machine) -> str:
    """"playing", "paused" or "" (stopped), as `mpc status` says."""
    found = re.search(r"^\[(\w+)\]", machine.run("mpc", "status").stdout, re.MULTILINE)
    return found.group(1) if found else ""


def current_song(machine) -> str:
    return machine.run("mpc", "current", "-f", "%file%").stdout.strip()


def test_the_music_goes_on_when_mpd_restarts_and_when_the_camera_is_unplugged(install):
    machine = install.machine
    mpd_conf = machine.path("/etc/mpd.conf")
    original = mpd_conf.read_text()
    camera, unplugged = machine.path(CAMERA), machine.path(CAMERA + ".unplugged")
    mpd_conf.write_text(re.sub(r"audio_output \{.*?\n\}", SILENT_SPEAKER, original, flags=re.DOTALL))
    try:
        machine.run("systemctl", "restart", "mpd.service", check=True)
        machine.wait_for(lambda: mpd_state(machine) == "playing", timeout=60, what="the music after MPD's restart")
        machine.wait_for(lambda: status(machine)["camera"] == "ok", timeout=30, what="the camera folder read")
        song = current_song(machine)
        camera.rename(unplugged)
        machine.wait_for(lambda: status(machine)["camera"] == "lost", timeout=30, what="the camera lost")
        machine.wait_for(lambda: mpd_state(machine) == "playing" and current_song(machine) not in ("", song),
                         timeout=60, what="the next song with the camera unplugged")
        answer = status(machine)
        assert answer["status"] == "degraded" and any("camera lost" in problem for problem in answer["problems"])
    finally:
        if unplugged.exists():
            unplugged.rename(camera)
        mpd_conf.write_text(original)
        machine.run("systemctl", "restart", "mpd.service")
