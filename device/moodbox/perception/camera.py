"""The Camera: the one way the daemon (and the doctor, and camera-check) takes frames from a source.

It runs each grab in a worker thread with a timeout, reports "ok" / "lost" / "paused", reopens a failed source
with capped exponential backoff, and keeps ``on_active`` (the camera LED) on from just before a source is opened
until it is closed. Frames live in memory only::

    camera = Camera(lambda: open_source("0"), timeout_s=2.0, on_active=led.set)
    gray = camera.grab()          # None while paused, lost or timed out
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Callable

import numpy as np

from moodbox.backoff import Backoff
from moodbox.perception.frames import FrameError, FrameSource, open_source

log = logging.getLogger(__name__)


class _Call:
    """One call run in a worker thread; ``on_late(ok, value)`` gets the outcome if the caller gave up waiting."""

    def __init__(self, fn: Callable, on_late: Callable[[bool, object], None] | None = None):
        self._fn, self._on_late = fn, on_late
        self._lock = threading.Lock()
        self._abandoned = False
        self._outcome: tuple[bool, object] | None = None
        self.thread = threading.Thread(target=self._run, daemon=True, name="moodbox-camera")

    def _run(self):
        try:
            outcome = (True, self._fn())
        except BaseException as exc:  # handed to the caller, who decides what it means
            outcome = (False, exc)
        with self._lock:
            self._outcome = outcome
            late = self._abandoned
        if late and self._on_late:
            self._on_late(*outcome)

    def result(self, timeout_s: float):
        self.thread.start()
        self.thread.join(timeout_s)
        with self._lock:
            if self._outcome is None:
                self._abandoned = True
                raise FrameError(f"no answer within {timeout_s:g} s")
        ok, value = self._outcome
        if not ok:
            raise value
        return value


class Camera:
    """Grabs frames from a source without ever blocking the caller longer than ``timeout_s``.

    At most one call into the source is in flight; while a hung call is still stuck, grabs return None at
    once instead of starting more threads (so a hung driver costs one thread, plus one for closing it).
    After a failure the source is closed and reopened after 1, 2, 4 ... ``max_backoff_s`` seconds.

    Thread-safe: the loop may grab while another thread calls pause(), resume() or close(). Those never wait
    for a grab in flight; a grab that ends after pause() or close() closes what it opened and returns None,
    so only resume() ever turns "paused" back into "ok". The LED (``on_active``) goes on before a source is
    opened and off only once it is closed, however late a hung open or close returns.
    """

    def __init__(self, open_frame_source: Callable[[], FrameSource], *, timeout_s=2.0,
                 on_active: Callable[[bool], None] = lambda on: None, clock: Callable[[], float] = time.monotonic,
                 first_backoff_s=1.0, max_backoff_s=60.0):
        self._open_frame_source = open_frame_source
        self._timeout_s = timeout_s
        self._on_active = on_active
        self._backoff = Backoff(first_backoff_s, max_backoff_s, clock)
        self._clock = clock
        self._source: FrameSource | None = None
        self._stuck: list[threading.Thread] = []
        self._stuck_since: float | None = None  # when the oldest call still stuck in the source began
        self._stuck_lock = threading.Lock()  # taken after self._lock, never before it
        self._lock = threading.Lock()
        self._grabbing = False  # a grab is running outside the lock; it owns self._source until it ends
        self.status = "ok"
        self.last_error: str | None = None

    @classmethod
    def from_config(cls, config, *, open_frame_source: Callable[[], FrameSource] | None = None,
                    source: str | None = None, on_active: Callable[[bool], None] = lambda on: None,
                    clock: Callable[[], float] = time.monotonic, paused: bool = False) -> Camera:
        """The camera of ``config.camera`` (``source`` or ``open_frame_source`` instead of camera.source);
        ``paused`` starts it in the privacy pause."""
        spec, size = source or config.camera.source, config.camera.size
        camera = cls(open_frame_source or (lambda: open_source(spec, size=size)),
                     timeout_s=config.camera.grab_timeout_s, on_active=on_active, clock=clock)
        if paused:
            camera.pause()
        return camera

    def grab(self) -> np.ndarray | None:
        """A 2-D uint8 gray frame, or None when paused, lost, or waiting to retry."""
        with self._lock:
            if (self.status in ("paused", "closed") or self._grabbing or self._busy()
                    or not self._backoff.due()):
                return None
            self._grabbing = True
            source = self._source
            if source is None:
                self._on_active(True)  # before opening: a slow open already has the camera running
        frame, error = None, None
        try:
            if source is None:
                source = self._call(self._open, on_late=self._close_late_open)
            if self.status not in ("paused", "closed"):  # a pause that landed during the open: take no frame
                frame = self._call(source.grab)
                if not (isinstance(frame, np.ndarray) and frame.ndim == 2 and frame.dtype == np.uint8):
                    raise FrameError(f"{type(source).__name__}.grab() returned "
                                     f"{getattr(frame, 'dtype', type(frame))} {getattr(frame, 'shape', '')}, "
                                     "expected a 2-D uint8 gray frame")
        except Exception as exc:
            error = exc
        with self._lock:
            self._grabbing = False
            self._source = source
            if self.status in ("paused", "closed"):  # paused or closed while the grab ran: the pause wins
                self._drop_source()
                return None
            if error is not None:
                self._fail(error)
                return None
            if self.status != "ok":
                log.info("camera recovered")
            self.status, self.last_error = "ok", None
            self._backoff.succeeded()
            return frame

    def pause(self) -> None:
        """Privacy pause: close the source (LED off) and grab nothing until resume()."""
        self._stop("paused")

    def resume(self) -> None:
        with self._lock:
            if self.status == "paused":
                self.status = "ok"
                self._backoff.retry_now()
                self._backoff.succeeded()

    def close(self) -> None:
        self._stop("closed")

    def _stop(self, status: str) -> None:
        with self._lock:
            self.status = status
            if not self._grabbing:  # else the grab closes the source when it ends
                self._drop_source()

    def _busy(self) -> bool:
        with self._stuck_lock:
            self._stuck = [thread for thread in self._stuck if thread.is_alive()]
            if not self._stuck:
                self._stuck_since = None
            return bool(self._stuck)

    def stuck_for_s(self) -> float:
        """How long a call into the source has been stuck (0.0 when none is). Only a new process gets rid of a
        call that never returns: the daemon stops feeding the systemd watchdog after a while (see daemon.py)."""
        if not self._busy():
            return 0.0
        with self._stuck_lock:
            return self._clock() - self._stuck_since

    def _call(self, fn: Callable, on_late: Callable[[bool, object], None] | None = None):
        call = _Call(fn, on_late)
        try:
            return call.result(self._timeout_s)
        finally:
            if call.thread.is_alive():
                with self._stuck_lock:
                    if not self._stuck:
                        self._stuck_since = self._clock() - self._timeout_s
                    self._stuck.append(call.thread)

    def _open(self) -> FrameSource:
        """Open a source (in a worker thread); the LED goes off again if that fails, in time or late."""
        try:
            return self._open_frame_source()
        except BaseException:
            self._on_active(False)
            raise

    def _close_late_open(self, ok: bool, source) -> None:
        if ok:
            self._close(source)

    def _close(self, source: FrameSource) -> None:
        """Close a source (in a worker thread) and only then turn the LED off."""
        try:
            source.close()
        except Exception as exc:
            log.warning("camera source did not close cleanly: %s: %s", type(exc).__name__, exc)
        finally:
            self._on_active(False)

    def _fail(self, exc: Exception) -> None:
        self.last_error = f"{type(exc).__name__}: {exc}"
        log.warning("camera lost (%s); retrying in %g s", self.last_error, self._backoff.delay_s)
        self.status = "lost"
        self._drop_source()
        self._backoff.failed()

    def _drop_source(self) -> None:
        """Close the source in a worker thread (a driver may hang on close too); call with the lock held."""
        source, self._source = self._source, None
        if source is None:
            return
        try:
            self._call(lambda: self._close(source))
        except FrameError as exc:
            log.warning("camera source did not close within %g s (%s); the LED stays on until it does",
                        self._timeout_s, exc)
