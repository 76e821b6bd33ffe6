"""The one MPD connection: every command under one lock, bounded by a timeout, with capped exponential backoff.

When MPD is down (stopped, restarting, or not started yet behind socket activation) a command raises
:class:`PlayerUnavailable` and the connection is tried again when the backoff allows. A read-only command whose
connection turns out dropped is retried once on a fresh one; a queue edit never is (MPD may have done it before the
answer was lost): ``on_drop`` is told so, and the queue is rebuilt from a known state instead.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from typing import Any, Callable

import mpd

from moodbox.backoff import Backoff
from moodbox.errors import MoodboxError

log = logging.getLogger("moodbox.music.mpd_connection")

# MPD (0.23) answers an edit that replaces the song it has queued next only when the current song ends, once its
# decoder has started on that next song (in the last seconds of a song). A "now" switch stops MPD
# first, which it answers at once; an "after_current" switch waits up to the song's end for its edits, beyond
# ``timeout_s``, and at most this much longer.
SONG_END_WAIT_MAX_S = 10.0

_CONNECTION_ERRORS = (OSError, mpd.ConnectionError, mpd.ProtocolError)
# Commands that change nothing: safe to send again on a fresh connection when the old one dropped.
_READ_ONLY = frozenset({"status", "currentsong", "playlistinfo", "listplaylists", "listplaylist", "outputs",
                        "listall"})


class PlayerUnavailable(MoodboxError):
    """MPD cannot be reached right now; the player keeps trying in the background."""


class MpdConnection:
    """One python-mpd2 client, shared by the threads of the daemon under ``lock``::

        connection = MpdConnection("/run/mpd/socket", on_connect=..., on_drop=...)
        connection.call("status")  # or PlayerUnavailable

    ``on_connect()`` runs, under the lock, after each new connection; ``on_drop(edit_lost)`` after the
    connection is lost, ``edit_lost`` when a queue edit was cut short (its outcome is unknown).
    """

    def __init__(self, host: str, port: int = 6600, *, timeout_s: float = 10.0,
                 clock: Callable[[], float] = time.monotonic, min_backoff_s: float = 0.5, max_backoff_s: float = 30.0,
                 on_connect: Callable[[], None] = lambda: None, on_drop: Callable[[bool], None] = lambda _: None):
        self.host, self.port, self.timeout_s = host, port, timeout_s
        self.lock = threading.RLock()
        self._backoff = Backoff(min_backoff_s, max_backoff_s, clock)
        self._client: mpd.MPDClient | None = None
        self._closing = False
        self._on_connect, self._on_drop = on_connect, on_drop

    @property
    def address(self) -> str:
        return self.host if self.host.startswith("/") else f"{self.host}:{self.port}"

    @property
    def connected(self) -> bool:
        return self._client is not None

    def connect(self) -> bool:
        """Connect if not connected and the backoff allows a new attempt now; return whether connected."""
        with self.lock:
            if self._client is not None:
                return True
            if self._closing or not self._backoff.due():
                return False
            client = mpd.MPDClient()
            client.timeout = self.timeout_s
            try:
                if self.host.startswith("/"):
                    client.connect(self.host)
                else:
                    client.connect(self.host, self.port)
            except _CONNECTION_ERRORS as err:
                log.warning("MPD at %s not reachable (%s); next try in %.1f s", self.address, err,
                            self._backoff.failed())
                return False
            self._client = client  # the backoff is reset by the first answer: an MPD that greets and then hangs
            log.info("connected to MPD at %s (protocol %s)", self.address, client.mpd_version)
            self._on_connect()
            return self._client is not None

    def call(self, command: str, *args: Any, song_end: float | None = None) -> Any:
        """Run one MPD command, bounded by ``timeout_s`` (counted from ``song_end`` instead, a ``time.monotonic()``
        time, when MPD may hold the answer until the current song ends). When the connection turns out dropped
        (MPD's idle timeout, a restart) a read-only command reconnects at once and is retried once; a timeout (a hung
        MPD) or a queue edit is not retried: PlayerUnavailable, and the backoff decides when to try again."""
        with self.lock:
            for retry in (False, True):
                if not self.connect():
                    raise PlayerUnavailable(f"MPD at {self.address} is not reachable")
                client = self._client
                if song_end is not None:
                    client.timeout = self.timeout_s + min(max(song_end - time.monotonic(), 0.0), SONG_END_WAIT_MAX_S)
                try:
                    answer = getattr(client, command)(*args)
                except _CONNECTION_ERRORS as err:
                    self._drop(err, edit_lost=command not in _READ_ONLY)
                    if retry or isinstance(err, TimeoutError) or command not in _READ_ONLY or self._closing:
                        raise PlayerUnavailable(f"MPD at {self.address} is not answering ({command}: "
                                                f"{err or type(err).__name__})") from err
                    self._backoff.retry_now()  # reconnect at once, not after the backoff
                else:
                    self._backoff.succeeded()
                    return answer
                finally:
                    client.timeout = self.timeout_s

    def _drop(self, err: Exception, *, edit_lost: bool) -> None:
        log.warning("lost MPD connection at %s: %s", self.address, err)
        client, self._client = self._client, None
        self._on_drop(edit_lost)
        self._backoff.failed()
        if client is not None:
            try:
                client.disconnect()
            except (OSError, mpd.MPDError):
                pass

    def interrupt(self) -> None:
        """Stopping: cut a call that is waiting on a hung MPD short (without the lock) and connect no more."""
        self._closing = True
        sock = getattr(self._client, "_sock", None)  # python-mpd2 keeps its socket there
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self) -> None:
        self.interrupt()
        with self.lock:
            if self._client is not None:
                try:
                    self._client.close()
                    self._client.disconnect()
                except (OSError, mpd.MPDError):
                    pass
                self._client = None
