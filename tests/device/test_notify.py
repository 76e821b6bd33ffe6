"""sd_notify against a real AF_UNIX datagram socket, through systemd-python and through our own sender."""

from __future__ import annotations

import logging
import os
import socket
import uuid

import pytest

from moodbox import notify as notify_module
from moodbox.notify import notify, watchdog_period_s


@pytest.fixture(params=["systemd-python", "built-in"])
def backend(request, monkeypatch):
    if request.param == "systemd-python":
        daemon = pytest.importorskip("systemd.daemon")
        calls = []
        real_notify = daemon.notify

        def spy(message, *args, **kwargs):
            calls.append(message)
            return real_notify(message, *args, **kwargs)

        monkeypatch.setattr(notify_module, "_systemd_daemon", type("Spy", (), {"notify": staticmethod(spy)}))
        return calls
    monkeypatch.setattr(notify_module, "_systemd_daemon", None)
    return None


@pytest.fixture
def listener(tmp_path, monkeypatch):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    path = tmp_path / "notify.sock"
    sock.bind(str(path))
    sock.settimeout(5)
    monkeypatch.setenv("NOTIFY_SOCKET", str(path))
    yield sock
    sock.close()


def test_ready_reaches_the_socket(backend, listener):
    assert notify(READY=1) is True
    assert listener.recv(4096) == b"READY=1"
    if backend is not None:
        assert backend == ["READY=1"], "systemd-python was not the sender"


def test_fields_go_in_one_datagram_in_order(backend, listener):
    assert notify(READY=1, STATUS="mood: happy, playing upbeat")
    assert listener.recv(4096) == b"READY=1\nSTATUS=mood: happy, playing upbeat"
    assert notify(WATCHDOG=1)
    assert listener.recv(4096) == b"WATCHDOG=1"


def test_abstract_namespace_address(backend, monkeypatch):
    name = f"moodbox-test-{uuid.uuid4().hex}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        sock.settimeout(5)
        monkeypatch.setenv("NOTIFY_SOCKET", "@" + name)
        assert notify(STATUS="starting")
        assert sock.recv(4096) == b"STATUS=starting"


def test_without_notify_socket_nothing_is_sent(backend, monkeypatch):
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert notify(READY=1) is False


def test_unreachable_socket_returns_false_and_warns_once(backend, tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "gone.sock"))
    with caplog.at_level(logging.WARNING, logger="moodbox.notify"):
        assert notify(WATCHDOG=1) is False
        assert notify(WATCHDOG=1) is False
    warnings = [r for r in caplog.records if "gone.sock" in r.getMessage()]
    assert len(warnings) == 1


def test_multi_line_values_and_empty_calls_are_refused(listener):
    with pytest.raises(ValueError, match="STATUS"):
        notify(STATUS="two\nlines")
    with pytest.raises(ValueError, match="at least one field"):
        notify()


@pytest.mark.parametrize("usec,pid,expected", [
    ("3000000", None, 3.0),
    ("500000", "self", 0.5),
    ("3000000", "1", None),
    ("0", None, None),
    ("soon", None, None),
    (None, None, None),
])
def test_watchdog_period(monkeypatch, usec, pid, expected):
    for name, value in (("WATCHDOG_USEC", usec), ("WATCHDOG_PID", pid)):
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, str(os.getpid()) if value == "self" else value)
    assert watchdog_period_s() == expected
