"""The local control socket: ``moodbox skip|like|hold|pause|status|insights`` talk to the running daemon through it.

A Unix stream socket only (never TCP: the box opens no network listener of its own), protected by file
permissions: the socket gets ``mode`` (0o660: owner and group) and a missing parent directory is created 0o750.
The protocol is one JSON object per line each way::

    -> {"command": "skip"}
    <- {"ok": true, "playlist": "upbeat"}
    -> {"command": "dance"}
    <- {"ok": false, "error": "unknown command 'dance'"}

The server checks the framing (a JSON object with a string ``command``); what a command means is the handler's
business (the daemon's, with the handlers of :mod:`moodbox.frontends.actions`). A bad request is answered with an
error and never stops the server. Local clients are still bounded: at most ``max_clients`` connections at once (at
the cap the one that has waited longest without a request is dropped), a request line must be complete within
``request_timeout_s`` however slowly it trickles in, and commands marked ``rate_limited`` in
:data:`moodbox.names.ACTION_INFO` (all but the read-only status and upcoming) are limited to ``feedback_per_s`` a
second per client user (a flood would fill the database; one user's looping script must not lock out the phone
page's process).
"""

from __future__ import annotations

import json
import logging
import os
import socket
import stat
import struct
import threading
import time
from pathlib import Path
from typing import Callable

from moodbox.errors import MoodboxError
from moodbox.names import ACTION_INFO

log = logging.getLogger(__name__)

MAX_REQUEST_BYTES = 64 * 1024
LISTEN_BACKLOG = 64
MAX_CLIENTS = 16
REQUEST_TIMEOUT_S = 10.0
FEEDBACK_PER_S = 5


class ControlError(MoodboxError):
    """The control socket could not be served or reached; the message names the socket path."""


class DaemonNotRunning(ControlError):
    """Nothing listens on the control socket: no daemon is running (or it uses another socket)."""


class ControlServer:
    """Serves ``handler(request) -> response`` on a Unix socket from a daemon thread (one thread per client).

    The handler runs on the client's thread, so it must be safe to call alongside the daemon's main loop.
    """

    def __init__(self, socket_path, handler: Callable[[dict], dict], *, mode: int = 0o660,
                 max_clients: int = MAX_CLIENTS, request_timeout_s: float = REQUEST_TIMEOUT_S,
                 feedback_per_s: float = FEEDBACK_PER_S, clock: Callable[[], float] = time.monotonic):
        self.socket_path = Path(socket_path)
        self._handler = handler
        self._mode = mode
        self._max_clients = max_clients
        self._request_timeout_s = request_timeout_s
        self._feedback_per_s, self._clock = feedback_per_s, clock
        self._feedback: dict[int, _RateLimit] = {}  # client user id -> its bucket
        self._listener: socket.socket | None = None
        self._inode: int | None = None
        self._thread: threading.Thread | None = None
        self._clients: dict[socket.socket, float | None] = {}  # -> since when it waits for a request (None: busy)
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
            listener.listen(LISTEN_BACKLOG)
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
            clients, self._clients = self._clients, {}
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
            if not self._admit(client):
                try:
                    _send_line(client, {"ok": False, "error": f"busy: {self._max_clients} commands are running"})
                except OSError:
                    pass
                client.close()
                continue
            threading.Thread(target=self._serve_client, args=(client,), name="moodbox-control-client",
                             daemon=True).start()

    def _admit(self, client: socket.socket) -> bool:
        """Make room for a new client: at the cap, drop the one that has waited longest without a request."""
        with self._lock:
            if len(self._clients) >= self._max_clients:
                waiting = [(since, idle) for idle, since in self._clients.items() if since is not None]
                if not waiting:
                    return False
                idle = min(waiting, key=lambda pair: pair[0])[1]
                del self._clients[idle]
                try:
                    idle.shutdown(socket.SHUT_RDWR)  # its thread sees the end of the stream and ends
                except OSError:
                    pass
            self._clients[client] = time.monotonic()
            return True

    def _mark(self, client: socket.socket, waiting: bool) -> bool:
        """Note whether the client waits for a request; False when it was dropped meanwhile."""
        with self._lock:
            if client not in self._clients:
                return False
            self._clients[client] = time.monotonic() if waiting else None
            return True

    def _serve_client(self, client: socket.socket) -> None:
        try:
            with client:
                buffer = b""
                while self._mark(client, waiting=True):
                    deadline = time.monotonic() + self._request_timeout_s
                    while b"\n" not in buffer:  # a whole line by the deadline, however slowly it trickles in
                        if len(buffer) > MAX_REQUEST_BYTES:
                            break
                        left = deadline - time.monotonic()
                        if left <= 0:
                            return
                        client.settimeout(left)
                        chunk = client.recv(4096)
                        if not chunk:
                            return
                        buffer += chunk
                    line, _, buffer = buffer.partition(b"\n")
                    if len(line) > MAX_REQUEST_BYTES:
                        _send_line(client, {"ok": False, "error": f"request longer than {MAX_REQUEST_BYTES} bytes"})
                        return
                    if line.strip() and self._mark(client, waiting=False):
                        _send_line(client, self._answer(line, _peer_uid(client)))
        except OSError:
            pass  # Client hung up, idled out, or the server is closing: nothing to answer.
        finally:
            with self._lock:
                self._clients.pop(client, None)

    def _bucket(self, uid: int) -> _RateLimit:
        with self._lock:
            if uid not in self._feedback:
                if len(self._feedback) >= 64:  # users come and go (DynamicUser): forget the oldest
                    del self._feedback[next(iter(self._feedback))]
                self._feedback[uid] = _RateLimit(self._feedback_per_s, self._clock)
            return self._feedback[uid]

    def _answer(self, line: bytes, uid: int = -1) -> dict:
        try:
            request = json.loads(line)
        except (ValueError, RecursionError) as exc:  # JSONDecodeError, UnicodeDecodeError, nested too deep
            return {"ok": False, "error": f"not valid JSON: {exc}"}
        if not isinstance(request, dict) or not isinstance(request.get("command"), str):
            return {"ok": False, "error": 'expected a JSON object like {"command": "status"}'}
        info = ACTION_INFO.get(request["command"])  # an unknown command counts too: it is answered with an error
        if (info is None or info.rate_limited) and not self._bucket(uid).allow():
            return {"ok": False, "error": f"too many commands: at most {self._feedback_per_s:g} a second",
                    "refused": True}
        try:
            response = self._handler(request)
        except Exception as exc:
            log.exception("control command %r failed", request["command"])
            return {"ok": False, "error": f"{request['command']} failed: {exc}"}
        if not isinstance(response, dict):
            log.error("control handler returned %r for %r, not a dict", response, request["command"])
            return {"ok": False, "error": f"{request['command']} failed: the daemon gave no answer"}
        return response


def send_command(socket_path, command: str, timeout_s: float = 5.0, params: dict | None = None) -> dict:
    """Send one command (with an action's ``params``) to the running daemon and return its answer
    (``{"ok": ..., ...}``).

    Raises ControlError, naming the socket path, when the daemon is not running, the socket is not accessible, or no
    answer comes within ``timeout_s``.
    """
    path = str(socket_path)
    deadline = time.monotonic() + timeout_s
    with _connect(path, deadline, command, timeout_s) as sock:
        try:
            _send_line(sock, {**(params or {}), "command": command})
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


def _connect(path: str, deadline: float, command: str, timeout_s: float) -> socket.socket:
    """Connect before the deadline; a full listen queue (EAGAIN on a Unix socket) is waited out, not an error."""
    while True:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        sock.settimeout(max(deadline - time.monotonic(), 0.001))
        try:
            sock.connect(path)
            return sock
        except BlockingIOError as exc:
            sock.close()
            if time.monotonic() >= deadline:
                raise ControlError(f"moodbox did not answer {command!r} within {timeout_s} s on {path}: "
                                   "too many clients are connecting") from exc
            time.sleep(0.01)
        except (FileNotFoundError, ConnectionRefusedError) as exc:
            sock.close()
            raise DaemonNotRunning(f"moodbox is not running: nothing is listening on {path} ({exc.strerror})") from exc
        except PermissionError as exc:
            sock.close()
            raise ControlError(f"permission denied on control socket {path}: run as root or as a member of the "
                               f"group that owns it") from exc
        except TimeoutError as exc:
            sock.close()
            raise ControlError(f"moodbox did not answer {command!r} within {timeout_s} s on {path}") from exc
        except OSError as exc:
            sock.close()
            raise ControlError(f"cannot connect to control socket {path}: {exc}") from exc


class _RateLimit:
    """A token bucket: ``per_s`` a second on average, at most ``per_s`` at once. Thread-safe."""

    def __init__(self, per_s: float, clock: Callable[[], float]):
        self.per_s, self._clock = per_s, clock
        self._tokens, self._at = float(per_s), clock()
        self._lock = threading.Lock()

    def allow(self) -> bool:
        with self._lock:
            now = self._clock()
            self._tokens = min(self.per_s, self._tokens + (now - self._at) * self.per_s)
            self._at = now
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return True
            return False


def _peer_uid(client: socket.socket) -> int:
    """The user id of the process at the other end of a Unix socket (-1 when the kernel cannot say)."""
    try:
        credentials = client.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    except OSError:
        return -1
    return struct.unpack("3i", credentials)[1]


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
