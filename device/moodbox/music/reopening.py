"""The daemon's feedback store when the disk is not ready: a database that cannot be opened at start (a full or
read-only disk, no state directory) is tried again with capped exponential backoff, so the music plays meanwhile and
likes are recorded again once the disk is freed.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

from moodbox.backoff import Backoff
from moodbox.music.store import Event, FeedbackStore, StoreError, open_store

log = logging.getLogger(__name__)


class ReopeningStore:
    """The daemon's feedback store: a database that cannot be opened at start (a full or read-only disk, no state
    directory) is tried again with capped exponential backoff, on :meth:`retry` and whenever it is used, so likes
    are recorded again once the disk is freed. Used like a :class:`FeedbackStore`; ``last_error`` says why nothing
    is recorded."""

    def __init__(self, path, *, clock=time.monotonic, first_s: float = 5.0, max_s: float = 300.0):
        self.path = Path(path)
        self._lock = threading.Lock()
        self._store: FeedbackStore | None = None
        self._open_error: str | None = None
        self._closed = False
        self._backoff = Backoff(first_s, max_s, clock)
        self.retry()

    @property
    def unopenable(self) -> bool:
        """Whether the database could not be opened (rather than being open, or closed by :meth:`close`)."""
        return self._store is None and not self._closed

    @property
    def last_error(self) -> str | None:
        return self._open_error if self._store is None else self._store.last_error

    def retry(self) -> bool:
        """Try to open the database when it is closed and the backoff allows; returns whether it is open."""
        try:
            self._opened()
            return True
        except StoreError:
            return False

    def _opened(self) -> FeedbackStore:
        with self._lock:
            if self._store is not None:
                return self._store
            if self._closed:
                raise StoreError(f"feedback database {self.path} is closed")
            if not self._backoff.due():
                raise StoreError(self._open_error)
            try:
                self._store = open_store(self.path)
            except StoreError as err:
                self._open_error = str(err)
                log.error("%s: recording nothing; trying again in %.0f s", err, self._backoff.failed())
                raise
            if self._open_error is not None:
                log.info("feedback database %s opened: recording feedback again", self.path)
            self._open_error = None
            self._backoff.succeeded()
            return self._store

    def record_feedback(self, **event) -> int:
        return self._opened().record_feedback(**event)

    def record_play(self, **play) -> int:
        return self._opened().record_play(**play)

    def events_after(self, last_id: int) -> list[Event]:
        return self._opened().events_after(last_id)

    def summary(self) -> tuple[int, str] | None:
        return self._opened().summary()

    def events_before(self, after_id: int, before: float, *, limit: int = -1) -> list[Event]:
        return self._opened().events_before(after_id, before, limit=limit)

    def compact(self, last_id: int, data: str, before: float) -> int:
        return self._opened().compact(last_id, data, before)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._open_error = f"feedback database {self.path} is closed"
            if self._store is not None:
                self._store.close()
                self._store = None
