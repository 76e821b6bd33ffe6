"""The first boot of the installed box as a whole machine with a sound card (issue 25's first hour, issue 26's
sound): setup.sh's install with no playlists, no camera and no config edit, MPD's output the card chosen with
--audio. The check runs inside the VM (vm_first_boot.sh); the test reads what it printed on the serial console.
(The camera that is unplugged while the music plays: test_first_hour.py, in the container.)"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.system

VM_TIMEOUT_S = 1200  # from its start after the install: plain emulation, beside the container's tests
# Emulated without KVM, the daemon starts some 40 times slower than in the container (READY ~1.2 s there): the
# minute of the product is checked at full speed in test_first_hour.py; here the bound allows for emulation.
EMULATED_MINUTE_S = 240


@pytest.fixture(scope="module")
def first_boot(install):
    if isinstance(install.first_boot, str):
        pytest.skip(f"VM check: {install.first_boot}")
    checks, ran_s = install.first_boot.result(timeout=VM_TIMEOUT_S)
    print(f"VM ran {ran_s:.0f} s; it saw: {checks}")
    console = install.first_boot.console.read_text(errors="replace")
    assert checks.get("finished") == "1", f"the check did not finish; console: {console[-4000:]}"
    diagnosis = "\n".join(line for line in console.splitlines() if line.startswith("DIAG"))
    return Seen(checks, diagnosis)


class Seen(dict):
    """The VM's CHECK values; shown in a failed assertion with what the machine's journal said."""

    def __init__(self, checks: dict[str, str], diagnosis: str):
        super().__init__(checks)
        self.diagnosis = diagnosis

    def __repr__(self) -> str:
        return f"{dict(self)}\n{self.diagnosis}"


def test_a_fresh_install_plays_through_the_chosen_card_with_no_config_edit(first_boot):
    assert "camera lost" in first_boot["status"], first_boot  # no camera in the VM: the box plays what it can
    assert float(first_boot["play_after_service_and_card_s"]) <= EMULATED_MINUTE_S, first_boot
    assert first_boot["service_restarts"] == "0"
    assert float(first_boot["elapsed_advanced_s"]) >= 2, first_boot
    assert first_boot["mpd_error"] == "", first_boot


def test_the_chosen_output_plays_and_doctor_says_audio_ok(first_boot):
    assert first_boot["doctor_audio"] == "OK", first_boot
