"""Pairing codes and sessions of the phone page: one-time, short-lived codes; sessions kept as hashes in a private
file that another process may change (a revoke)."""

from __future__ import annotations

import json
import os

import pytest

from moodbox.config import ConfigError
from moodbox.frontends.websessions import PAIRING_S, SESSION_S, Sessions, check_secret_file

from device_support import FakeClock


def test_a_code_opens_once_and_only_while_fresh():
    clock = FakeClock()
    sessions = Sessions(None, clock=clock)
    code = sessions.pair()
    cookie = sessions.redeem(code, "phone")
    assert cookie and sessions.check(cookie)["label"] == "phone"
    assert sessions.redeem(code, "another") is None  # spent
    late = sessions.pair()
    clock.advance(PAIRING_S)
    assert sessions.redeem(late, "phone") is None  # expired
    assert sessions.redeem("", "phone") is None and sessions.check("made-up") is None and sessions.check(None) is None


def test_sessions_persist_as_hashes_in_a_private_file_and_can_be_revoked(tmp_path):
    clock = FakeClock()
    path = tmp_path / "sessions.json"
    sessions = Sessions(path, clock=clock)
    phone, tablet = (sessions.redeem(sessions.pair(), label) for label in ("phone", "tablet"))
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    text = path.read_text()
    assert phone not in text and tablet not in text  # the file opens nothing
    again = Sessions(path, clock=clock)  # a restart keeps the phones paired
    assert again.check(phone)["label"] == "phone" and [s["label"] for s in again.list()] == ["phone", "tablet"]
    ident = again.check(tablet)["id"]
    assert again.revoke(ident) == 1 and again.revoke(ident) == 0
    assert sessions.check(tablet) is None and sessions.check(phone) is not None  # the first one rereads the file
    clock.advance(SESSION_S)
    assert sessions.check(phone) is None  # even a long-lived session ends
    assert sessions.revoke("all") == 1


@pytest.mark.parametrize("mode", [0o644, 0o660, 0o604, 0o700])
def test_a_secret_file_others_could_read_or_change_is_refused(tmp_path, mode):
    path = tmp_path / "web.token"
    path.write_text("x" * 32)
    os.chmod(path, mode)
    with pytest.raises(ConfigError, match=f"mode {mode:04o}.*0600 or 0640"):
        check_secret_file(path)
    os.chmod(path, 0o640)
    check_secret_file(path)
    if os.geteuid() == 0:  # owned by someone else: refused (only root can make such a file here)
        os.chown(path, 12345, -1)
        with pytest.raises(ConfigError, match="belongs to user 12345"):
            check_secret_file(path)


def test_a_sessions_file_others_can_read_is_refused(tmp_path):
    path = tmp_path / "sessions.json"
    sessions = Sessions(path)
    sessions.redeem(sessions.pair(), "phone")
    os.chmod(path, 0o644)
    with pytest.raises(ConfigError, match="sessions.json has mode 0644"):
        Sessions(path)


def test_a_sessions_file_that_is_not_one_is_named(tmp_path):
    path = tmp_path / "sessions.json"
    path.write_text(json.dumps({"phones": []}))
    os.chmod(path, 0o600)
    with pytest.raises(ConfigError, match="sessions.json is not a sessions file"):
        Sessions(path)
