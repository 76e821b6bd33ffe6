"""Fixtures for the appliance tests: a stand-in apt mirror on loopback and temp install paths."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest


@pytest.fixture
def local_mirror():
    """A TCP listener on loopback standing in for the apt mirror, so the reachability probe stays on this machine."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    yield f"http://127.0.0.1:{server.getsockname()[1]}/debian"
    server.close()


@pytest.fixture
def closed_port_url() -> str:
    """A loopback URL where nothing listens: an unreachable mirror."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return f"http://127.0.0.1:{port}/debian"


@pytest.fixture
def install_paths(tmp_path) -> dict[str, Path]:
    """Every place setup.sh writes to, moved under tmp_path."""
    return {
        "MOODBOX_PREFIX": tmp_path / "opt" / "moodbox",
        "MOODBOX_ETC": tmp_path / "etc" / "moodbox",
        "MOODBOX_STATE_DIR": tmp_path / "var" / "lib" / "moodbox",
        "MOODBOX_UNIT_DIR": tmp_path / "etc" / "systemd" / "system",
        "MOODBOX_MPD_CONF": tmp_path / "etc" / "mpd.conf",
        "MOODBOX_BIN_DIR": tmp_path / "usr" / "local" / "bin",
        "MOODBOX_AVAHI_SERVICES": tmp_path / "etc" / "avahi" / "services",
    }
