"""The local control socket: ``moodbox skip|like|hold|pause|status`` talk to the running daemon through it.

A Unix stream socket only (never TCP: the box opens no network listener of its own), protected by file
permissions: the socket gets ``mode`` (0o660: owner and group) and a missing parent directory is created 0o750.
The protocol is one JSON object per line each way::

    -> {"command": "skip"}
    <- {"ok": true, "playlist": "upbeat"}
    -> {"command": "dance"}
    <- {"ok": false, "error": "unknown command 'dance'"}

The server checks the framing (a JSON object with a string ``command``); what a command means is the handler's
business (the daemon's, with the table of :mod:`moodbox.actions`). A bad request is answered with an error and
never stops the server.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import stat
import threading
from pathlib import Path
from typing import Callable

from moodbox.errors import MoodboxError

log = logging.getLogger(__name__)

MAX_REQUEST_BYTES = 64 * 1024
CLIENT_IDLE_TIMEOUT_S = 30.0


class ControlError(MoodboxError):
    """The control socket could not be served or reached; the message names the socket path."""


class DaemonNotRunning(ControlError):
    """Nothing listens on the control socket: no daemon is running (or it uses another socket)."""


class ControlServer:
    """Serves ``handler(request) -> response`` on a Unix socket from a daemon thread (one thread per client).

    The handler runs on the client's thread, so it must be safe to call alongside the daemon's main loop.
    """

    def __init__(self, socket_path, handler: Callable[[dict], dict], *, mode: int = 0o660):
        self.socket_path = Path(socket_path)
        self._handler = handler
        self._mode = mode
        self._listener: socket.socket | None = None
        self._inode: int | None = None
        self._thread: threading.Thread | None = None
        self._clients: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._closing = False

    def start(self) -> None:
        """Listen, or raise ControlError (another live server there, a non-socket file in the way, no access)."""
        path = self.socket_path
        try:
            _make_private_dir(path.parent)
            _remove_stale_socket(path)
            listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        except OSError as exc:
            raise ControlError(f"cannot prepare control socket {path}: {exc}") from exc
        try:
            listener.bind(str(path))
            # Before listen() nobody can connect, so setting the mode here leaves no window; chmod ignores umask.
            os.chmod(path, self._mode)
            self._inode = os.stat(path).st_ino
            listener.listen(8)
        except OSError as exc:
            listener.close()
            raise ControlError(f"cannot listen on control socket {path}: {exc}") from exc
        self._listener = listener
        self._closing = False
        self._thread = threading.Thread(target=self._accept_loop, name="moodbox-control", daemon=True)
        self._thread.start()
        log.info("control socket listening on %s", path)

    def close(self) -> None:
        """Stop serving, drop connected clients and remove the socket file (if it is still ours)."""
        if self._listener is None:
            return
        self._closing = True
        try:
            self._listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass  # Not connected: accept() is still woken by close() below on Linux.
        self._listener.close()
        self._listener = None
        with self._lock:
            clients, self._clients = self._clients, set()
        for client in clients:
            try:
                client.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # The client already went away.
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        try:
            if os.stat(self.socket_path).st_ino == self._inode:
                self.socket_path.unlink()
        except FileNotFoundError:
            pass

    def _accept_loop(self) -> None:
        listener = self._listener
        while True:
            try:
                client, _ = listener.accept()
            except OSError as exc:
                if self._closing:
                    return
                log.warning("control socket %s: accept failed: %s", self.socket_path, exc)
                continue
            with self._lock:
                self._clients.add(client)
            threading.Thread(target=self._serve_client, args=(client,), name="moodbox-control-client",
                             daemon=True).start()

    def _serve_client(self, client: socket.socket) -> None:
        try:
            client.settimeout(CLIENT_IDLE_TIMEOUT_S)
            with client, client.makefile("rb") as reader:
                while True:
                    line = reader.readline(MAX_REQUEST_BYTES + 1)
                    if not line:
                        return
                    if len(line) > MAX_REQUEST_BYTES:
                        _send_line(client, {"ok": False, "error": f"request longer than {MAX_REQUEST_BYTES} bytes"})
                        return
                    if line.strip():
                        _send_line(client, self._answer(line))
        except OSError:
            pass  # Client hung up, idled out, or the server is closing: nothing to answer.
        finally:
            with self._lock:
                self._clients.discard(client)

    def _answer(self, line: bytes) -> dict:
        try:
            request = json.loads(line)
        except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
            return {"ok": False, "error": f"not valid JSON: {exc}"}
        if not isinstance(request, dict) or not isinstance(request.get("command"), str):
            return {"ok": False, "error": 'expected a JSON object like {"command": "status"}'}
        try:
            response = self._handler(request)
        except Exception as exc:
            log.exception("control command %r failed", request["command"])
            return {"ok": False, "error": f"{request['command']} failed: {exc}"}
        if not isinstance(response, dict):
            log.error("control handler returned %r for %r, not a dict", response, request["command"])
            return {"ok": False, "error": f"{request['command']} failed: the daemon gave no answer"}
        return response


def send_command(socket_path, command: str, timeout_s: float = 5.0) -> dict:
    """Send one command to the running daemon and return its answer (``{"ok": ..., ...}``).

    Raises ControlError, naming the socket path, when the daemon is not running, the socket is not accessible, or no
    answer comes within ``timeout_s``.
    """
    path = str(socket_path)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC) as sock:
        sock.settimeout(timeout_s)
        try:
            sock.connect(path)
        except (FileNotFoundError, ConnectionRefusedError) as exc:
            raise DaemonNotRunning(f"moodbox is not running: nothing is listening on {path} ({exc.strerror})") from exc
        except PermissionError as exc:
            raise ControlError(f"permission denied on control socket {path}: run as root or as a member of the "
                               f"group that owns it") from exc
        except OSError as exc:
            raise ControlError(f"cannot connect to control socket {path}: {exc}") from exc
        try:
            _send_line(sock, {"command": command})
            with sock.makefile("rb") as reader:
                line = reader.readline(MAX_REQUEST_BYTES + 1)
        except TimeoutError as exc:
            raise ControlError(f"moodbox did not answer {command!r} within {timeout_s} s on {path}") from exc
        except OSError as exc:
            raise ControlError(f"lost the connection to moodbox on {path}: {exc}") from exc
    if not line.endswith(b"\n"):
        raise ControlError(f"moodbox closed the control connection on {path} without a complete answer")
    try:
        response = json.loads(line)
    except ValueError as exc:
        raise ControlError(f"unreadable answer from moodbox on {path}: {exc}") from exc
    if not isinstance(response, dict):
        raise ControlError(f"unreadable answer from moodbox on {path}: {response!r}")
    return response


def _send_line(sock: socket.socket, message: dict) -> None:
    sock.sendall(json.dumps(message, default=str).encode() + b"\n")


def _make_private_dir(directory: Path) -> None:
    if not directory.exists():
        directory.mkdir(parents=True, mode=0o750)
        os.chmod(directory, 0o750)  # mkdir's mode is filtered by the umask


def _remove_stale_socket(path: Path) -> None:
    """Remove a socket file left by a dead daemon; refuse if a live one answers or the file is no socket."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        raise ControlError(f"{path} exists and is not a socket: remove it or set another control socket path")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC) as probe:
        probe.settimeout(1.0)
        try:
            probe.connect(str(path))
        except (ConnectionRefusedError, FileNotFoundError):
            path.unlink(missing_ok=True)
            return
    raise ControlError(f"another moodbox is already serving the control socket {path}")
