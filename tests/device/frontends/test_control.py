"""The control socket over real Unix sockets: round trips, permissions, stale and live sockets, bad input."""

from __future__ import annotations

import json
import os
import socket
import stat
import tempfile
import threading
import time
from pathlib import Path

import pytest

from moodbox.frontends.control import MAX_REQUEST_BYTES, ControlError, ControlServer, send_command

from device_support import run_as_nobody


@pytest.fixture
def sock_dir():
    # Short paths: AF_UNIX addresses are limited to 107 bytes and pytest's tmp_path can be longer.
    with tempfile.TemporaryDirectory(prefix="mbctl", dir="/tmp") as directory:
        yield Path(directory)


def echo(request: dict) -> dict:
    if request["command"] == "boom":
        raise RuntimeError("the player is gone")
    if request["command"] == "nothing":
        return None
    return {"ok": True, "command": request["command"]}


@pytest.fixture
def server(sock_dir):
    server = ControlServer(sock_dir / "control.sock", echo)
    server.start()
    yield server
    server.close()


def raw_exchange(path, payload: bytes) -> list[dict]:
    """Send raw bytes, half-close, and return every answer line."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(5)
        sock.connect(str(path))
        sock.sendall(payload)
        sock.shutdown(socket.SHUT_WR)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    return [json.loads(line) for line in data.splitlines()]


def test_command_round_trip(server):
    assert send_command(server.socket_path, "skip") == {"ok": True, "command": "skip"}
    assert send_command(server.socket_path, "status") == {"ok": True, "command": "status"}


def test_several_requests_on_one_connection(server):
    answers = raw_exchange(server.socket_path, b'{"command": "like"}\n\n{"command": "hold"}\n')
    assert answers == [{"ok": True, "command": "like"}, {"ok": True, "command": "hold"}]


@pytest.mark.parametrize("umask", [0o000, 0o077])
def test_socket_gets_the_requested_mode_whatever_the_umask(sock_dir, umask):
    previous = os.umask(umask)
    try:
        server = ControlServer(sock_dir / "run" / "moodbox" / "control.sock", echo, mode=0o660)
        server.start()
    finally:
        os.umask(previous)
    try:
        info = os.stat(server.socket_path)
        assert stat.S_ISSOCK(info.st_mode)
        assert stat.S_IMODE(info.st_mode) == 0o660
        assert stat.S_IMODE(os.stat(sock_dir / "run" / "moodbox").st_mode) == 0o750
    finally:
        server.close()


def test_existing_parent_directory_is_left_alone(sock_dir):
    os.chmod(sock_dir, 0o755)
    server = ControlServer(sock_dir / "control.sock", echo, mode=0o600)
    server.start()
    try:
        assert stat.S_IMODE(os.stat(sock_dir).st_mode) == 0o755
        assert stat.S_IMODE(os.stat(server.socket_path).st_mode) == 0o600
    finally:
        server.close()


def test_socket_is_not_reachable_for_other_users(server):
    os.chmod(server.socket_path.parent, 0o755)  # only the socket's own mode stands in the way
    result = run_as_nobody(lambda: send_command(server.socket_path, "skip"))
    assert result.startswith("ControlError: permission denied")
    assert str(server.socket_path) in result


def test_stale_socket_file_is_replaced(sock_dir):
    path = sock_dir / "control.sock"
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dead.bind(str(path))
    dead.close()  # the file stays, nobody listens: what a killed daemon leaves behind
    server = ControlServer(path, echo)
    server.start()
    try:
        assert send_command(path, "like")["ok"] is True
    finally:
        server.close()


def test_live_server_is_not_taken_over(server):
    second = ControlServer(server.socket_path, lambda request: {"ok": True, "second": True})
    with pytest.raises(ControlError, match="already serving"):
        second.start()
    assert send_command(server.socket_path, "skip") == {"ok": True, "command": "skip"}


def test_a_file_that_is_not_a_socket_is_not_deleted(sock_dir):
    path = sock_dir / "control.sock"
    path.write_text("precious")
    with pytest.raises(ControlError, match=f"{path} exists and is not a socket"):
        ControlServer(path, echo).start()
    assert path.read_text() == "precious"


@pytest.mark.parametrize("payload,error", [
    (b"skip please\n", "not valid JSON"),
    (b"\xff\xfe\n", "not valid JSON"),
    (b"[1, 2]\n", "expected a JSON object"),
    (b'{"cmd": "skip"}\n', "expected a JSON object"),
    (b'{"command": 3}\n', "expected a JSON object"),
    (b'{"command": "boom"}\n', "boom failed: the player is gone"),
    (b'{"command": "nothing"}\n', "nothing failed"),
])
def test_bad_requests_get_an_error_and_the_connection_keeps_working(server, payload, error):
    first, second = raw_exchange(server.socket_path, payload + b'{"command": "skip"}\n')
    assert first["ok"] is False and error in first["error"]
    assert second == {"ok": True, "command": "skip"}


def test_oversized_request_is_refused_and_server_survives(server):
    answers = raw_exchange(server.socket_path, b"x" * (MAX_REQUEST_BYTES + 10) + b"\n")
    assert answers[0]["ok"] is False and "longer than" in answers[0]["error"]
    assert send_command(server.socket_path, "status")["ok"] is True


def test_idle_client_does_not_block_others(server):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as idle:
        idle.connect(str(server.socket_path))
        idle.sendall(b'{"command": ')  # half a request, then silence
        assert send_command(server.socket_path, "skip", timeout_s=2) == {"ok": True, "command": "skip"}


def test_not_running_names_the_socket(sock_dir):
    path = sock_dir / "control.sock"
    with pytest.raises(ControlError, match=f"moodbox is not running: nothing is listening on {path}"):
        send_command(path, "status")


def test_closed_server_removes_its_socket(sock_dir):
    server = ControlServer(sock_dir / "control.sock", echo)
    server.start()
    server.close()
    assert not server.socket_path.exists()
    with pytest.raises(ControlError, match="not running"):
        send_command(server.socket_path, "status")


def test_slow_daemon_times_out_with_a_clear_error(sock_dir):
    release = threading.Event()

    def stuck(request):
        release.wait(10)
        return {"ok": True}

    server = ControlServer(sock_dir / "control.sock", stuck)
    server.start()
    try:
        with pytest.raises(ControlError, match=r"did not answer 'skip' within 0.3 s"):
            send_command(server.socket_path, "skip", timeout_s=0.3)
    finally:
        release.set()
        server.close()


def test_close_disconnects_waiting_clients(sock_dir):
    server = ControlServer(sock_dir / "control.sock", echo)
    server.start()
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
        client.settimeout(5)
        client.connect(str(server.socket_path))
        client.sendall(b'{"command": "skip"}\n')
        assert json.loads(client.recv(4096)) == {"ok": True, "command": "skip"}
        server.close()
        assert client.recv(4096) == b""


def test_a_connect_flood_is_waited_out_not_failed(server):
    """Defect 14: with a listen backlog of 8, 29 of 32 concurrent `moodbox status` failed with EAGAIN."""
    answers, errors = [], []
    barrier = threading.Barrier(200)

    def ask():
        barrier.wait()
        try:
            answers.append(send_command(server.socket_path, "status", timeout_s=20))
        except ControlError as err:
            errors.append(str(err))

    threads = [threading.Thread(target=ask) for _ in range(200)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == [] and len(answers) == 200


def test_idle_clients_are_capped_and_never_lock_others_out(sock_dir):
    """Defect 14: 1000 idle clients made 1004 threads; now at most max_clients, the longest idle dropped first."""
    server = ControlServer(sock_dir / "control.sock", echo, max_clients=8)
    server.start()
    idle = []
    try:
        before = threading.active_count()
        for _ in range(300):
            client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            client.connect(str(server.socket_path))
            idle.append(client)
        assert send_command(server.socket_path, "status", timeout_s=5) == {"ok": True, "command": "status"}
        # A dropped client's thread ends a moment after its socket is closed: wait for that, boundedly.
        deadline = time.monotonic() + 5
        while threading.active_count() > before + 8 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert threading.active_count() <= before + 8
        idle[0].settimeout(5)
        assert idle[0].recv(10) == b""  # the first idle client was dropped to make room
    finally:
        for client in idle:
            client.close()
        server.close()


def test_a_request_trickling_in_is_dropped_at_the_request_timeout(sock_dir):
    """Defect 14: a client sending a byte now and then kept its thread past the idle timeout for ever."""
    server = ControlServer(sock_dir / "control.sock", echo, request_timeout_s=0.5)
    server.start()
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            client.connect(str(server.socket_path))
            client.settimeout(0.2)
            dropped = False
            for byte in b'{"command": "status"' * 10:  # 200 bytes, one per 0.2 s at most: 40 s if never dropped
                try:
                    client.sendall(bytes([byte]))
                    dropped = client.recv(10) == b""
                except socket.timeout:
                    continue
                except OSError:
                    dropped = True
                if dropped:
                    break
            assert dropped
    finally:
        server.close()


def test_feedback_is_rate_limited_but_status_is_not(sock_dir):
    """Defect 14: about 500 feedback events a second went into SQLite (3 MB a minute)."""
    now = [100.0]
    server = ControlServer(sock_dir / "control.sock", echo, feedback_per_s=5, clock=lambda: now[0])
    server.start()
    try:
        answers = raw_exchange(server.socket_path, b'{"command": "like"}\n' * 12 + b'{"command": "status"}\n' * 3)
        assert [a["ok"] for a in answers] == [True] * 5 + [False] * 7 + [True] * 3
        assert answers[5]["error"] == "too many commands: at most 5 a second"
        now[0] += 0.4  # two more tokens
        answers = raw_exchange(server.socket_path, b'{"command": "like"}\n' * 3)
        assert [a["ok"] for a in answers] == [True, True, False]
    finally:
        server.close()


def test_each_user_has_its_own_rate_so_a_looping_script_does_not_lock_out_the_phone_page(sock_dir):
    """Issue 27: one bucket for every local client let a looping `moodbox skip` refuse the page's buttons."""
    now = [100.0]
    server = ControlServer(sock_dir / "control.sock", echo, mode=0o666, feedback_per_s=5, clock=lambda: now[0])
    server.start()
    os.chmod(sock_dir, 0o755)
    try:
        answers = raw_exchange(server.socket_path, b'{"command": "like"}\n' * 8)
        assert [a["ok"] for a in answers] == [True] * 5 + [False] * 3 and answers[5]["refused"]
        assert run_as_nobody(lambda: send_command(server.socket_path, "like")) == \
            "{'ok': True, 'command': 'like'}"  # another user (the web unit's) still gets through
        assert raw_exchange(server.socket_path, b'{"command": "like"}\n')[0]["ok"] is False  # the looper does not
        assert [a["ok"] for a in raw_exchange(server.socket_path, b'{"command": "upcoming"}\n' * 8)] == [True] * 8
    finally:
        server.close()


def test_an_actions_parameters_travel_with_the_command(server):
    seen = []
    server._handler = lambda request: seen.append(request) or {"ok": True}
    assert send_command(server.socket_path, "choose", params={"mood": "sad", "playlist": "calm", "choice": "pin"})
    assert seen == [{"mood": "sad", "playlist": "calm", "choice": "pin", "command": "choose"}]


def test_json_nested_60000_deep_is_an_error_answer(server):
    """Defect 14: an uncaught RecursionError."""
    first, second = raw_exchange(server.socket_path, b"[" * 60000 + b"\n" + b'{"command": "skip"}\n')
    assert first["ok"] is False and "not valid JSON" in first["error"]
    assert second == {"ok": True, "command": "skip"}
