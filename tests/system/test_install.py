"""setup.sh on a booted Debian with systemd as PID 1: it installs, and a second run changes nothing."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.system


def actions(output: str) -> list[str]:
    return [line[2:] for line in output.splitlines() if line.startswith("+ ")]


def test_setup_installs_and_starts_the_units(install):
    first = install.first
    assert first.returncode == 0, first.output[-4000:]
    assert "ok: systemd is PID 1" in first.stdout
    done = actions(first.stdout)
    assert "systemctl enable moodbox.service moodbox-library.service" in done
    assert "systemctl enable moodbox-web.service" in done
    assert any(action.startswith("useradd --system") for action in done)


def test_setup_again_changes_nothing(install):
    second = install.second
    assert second.returncode == 0, second.output[-4000:]
    # Only the unconditional systemctl calls and doctor: no package, user, file or venv is touched again.
    changes = [action for action in actions(second.stdout)
               if not action.startswith(("systemctl ", "runuser -u moodbox -- /opt/moodbox/venv/bin/moodbox doctor"))]
    assert changes == [], second.stdout
    assert "ok: device package is up to date" in second.stdout


def test_doctor_passes_on_the_installed_box(install):
    """The last word of setup.sh: doctor as the service user, with MPD, the model and the camera folder. The
    container has no sound card, so MPD's output fails there (it pauses) and doctor must say so; a fresh box has none
    of the playlists the config names, which doctor warns about (the box plays the tagger's or the whole library)."""
    lines = [line.split(maxsplit=2) for line in install.second.stdout.splitlines()
             if line.startswith(("OK ", "WARN ", "FAIL "))]
    verdicts = {name: verdict for verdict, name, _ in lines if name != "playlist"}
    assert verdicts.pop("audio") in ("FAIL", "WARN"), install.second.stdout[-3000:]
    assert set(verdicts.values()) == {"OK"}, install.second.stdout[-3000:]
    playlist_warnings = [text for verdict, name, text in lines if name == "playlist"]
    assert any("instead of everyday" in text for text in playlist_warnings), playlist_warnings


def test_setup_installs_the_sources_not_an_old_build_in_the_clone(install):
    """device/build from an earlier install (pip's in-place build) must not reach the venv."""
    machine = install.machine
    installed = machine.sh("ls /opt/moodbox/venv/lib/python3*/site-packages/moodbox/", check=True).stdout.split()
    assert "config.py" in installed and "gone.py" not in installed
    assert machine.run("/opt/moodbox/venv/bin/python", "-c", "import moodbox.config").returncode == 0
