"""Feedback and play history in SQLite, in the state directory (e.g. /var/lib/moodbox/feedback.db).

WAL journal with ``synchronous=FULL``: every write is its own transaction, fsynced before the call returns, so an
event the caller was told about survives a crash or a pulled plug. Any SQLite or file-system failure (read-only
card, full disk, a corrupt file) comes out as ``StoreError`` naming the database path; the daemon logs it and
keeps playing music.

    >>> import tempfile, os
    >>> store = FeedbackStore(os.path.join(tempfile.mkdtemp(), "feedback.db"))
    >>> store.record_feedback(action="like", expression="happy", mood="happy", playlist="upbeat", track="a.ogg")
    1
    >>> store.record_feedback(action="skip", expression="sad", mood="sad", playlist="calm", track="b.ogg",
    ...                       elapsed_s=4.0)
    2
    >>> [(event.action, event.mood, event.playlist, event.elapsed_s) for event in store.events_after(0)]
    [('like', 'happy', 'upbeat', None), ('skip', 'sad', 'calm', 4.0)]
    >>> store.record_feedback(action="played", expression=None, mood="sad", playlist="calm", track="c.ogg",
    ...                       confidence=0.6, face_share=0.25)
    3
    >>> event = store.events_after(2)[0]; (event.confidence, event.face_share, event.held)
    (0.6, 0.25, False)
    >>> store.close()

The feedback table is the event log the music policy learns from (:mod:`moodbox.music.policy` derives everything it
knows by replaying it), so deleting ``feedback.db`` resets what the box learned. Events older than
``state.history_days`` are folded into one summary row and deleted (:func:`moodbox.music.compaction.compact_feedback`).
"""

from __future__ import annotations

import logging
import shutil
import sqlite3
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from moodbox.errors import MoodboxError
from moodbox.music.schema import FEEDBACK_ACTIONS, SCHEMA, SCHEMA_VERSION, SUMMARY_TABLE, upgrade

log = logging.getLogger(__name__)

# the columns of an Event, in its order
_EVENT_COLUMNS = "id, at, action, mood, playlist, track, elapsed_s, confidence, face_share, held"


def _event(row: tuple) -> Event:
    return Event(*row[:9], bool(row[9]))


class StoreError(MoodboxError):
    """The feedback database cannot be opened or written; the message names the file. ``corrupt``: the file is
    not a (sound) SQLite database, so moving it aside helps."""

    def __init__(self, message: str, *, corrupt: bool = False):
        super().__init__(message)
        self.corrupt = corrupt


def open_store(path) -> FeedbackStore:
    """Open the feedback database; a corrupt one is moved aside (the log says where) and a new one begun.

    Raises StoreError when no database can be opened there at all (a read-only or full disk).
    """
    try:
        return FeedbackStore(path)
    except StoreError as err:
        if not err.corrupt:
            raise
        reason = err
    path = Path(path)
    aside = path.with_name(f"{path.name}.corrupt-{time.strftime('%Y%m%dT%H%M%S')}")
    try:
        for suffix in ("", "-wal", "-shm"):
            old = path.with_name(path.name + suffix)
            if old.exists():
                old.rename(aside.with_name(aside.name + suffix))
    except OSError as exc:
        raise StoreError(f"{reason}; moving it aside to {aside} failed: {exc.strerror}") from exc
    log.error("%s: moved it to %s and started a new one", reason, aside)
    return FeedbackStore(path)


@dataclass(frozen=True)
class Event:
    """One row of the feedback log."""
    id: int
    at: float
    action: str
    mood: str | None
    playlist: str | None
    track: str | None
    elapsed_s: float | None = None
    confidence: float | None = None   # the believed mood's confidence (None: not known, before version 4)
    face_share: float | None = None   # share of the song a face was in view ("played"; None: not known)
    held: bool = False                # the music was held by the listener


class FeedbackStore:
    """What the listener liked and skipped, and what played when and why. Safe to share between threads."""

    def __init__(self, path):
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create the state directory {self.path.parent} for {self.path}: "
                             f"{exc.strerror}") from exc
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        self.last_error: str | None = None  # why the last write failed; None once one succeeds
        with self._sqlite_errors("open"):
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=10)
            try:
                self._configure()
            except BaseException:
                self._db.close()
                self._db = None
                raise

    def _configure(self) -> None:
        journal = self._db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if journal != "wal":
            raise StoreError(f"feedback database {self.path}: cannot switch to WAL journal (got {journal!r})")
        self._db.execute("PRAGMA synchronous = FULL")
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise StoreError(f"feedback database {self.path} has schema version {version}, newer than this "
                             f"moodbox understands ({SCHEMA_VERSION}): upgrade moodbox or move the file aside")
        if version < SCHEMA_VERSION:
            try:
                self._db.executescript(SCHEMA if version == 0 else upgrade(version))
            except sqlite3.Error:
                if self._db.in_transaction:
                    self._db.rollback()
                raise
        self._db.executescript(SUMMARY_TABLE)

    @contextmanager
    def _sqlite_errors(self, doing: str):
        try:
            yield
        except StoreError as exc:
            self.last_error = str(exc)
            raise
        except sqlite3.DatabaseError as exc:
            corrupt = "not a database" in str(exc) or "malformed" in str(exc)
            hint = " (move the corrupt file aside)" if corrupt else ""
            cause = str(exc)
            if isinstance(exc, sqlite3.OperationalError) and ("disk I/O" in cause or "full" in cause):
                try:
                    free = shutil.disk_usage(self.path.parent).free
                except OSError:
                    free = None
                if free is not None and free < 1024 * 1024:  # SQLite says "disk I/O error" for ENOSPC in WAL mode
                    cause = f"the disk is full ({free} bytes free in {self.path.parent})"
            error = StoreError(f"feedback database {self.path}: cannot {doing}: {cause}{hint}", corrupt=corrupt)
            self.last_error = str(error)
            raise error from exc

    def _insert(self, doing: str, sql: str, values: tuple) -> int:
        with self._lock, self._sqlite_errors(doing):
            row_id = self._open_db().execute(sql, values).lastrowid
            self.last_error = None
            return row_id

    def record_feedback(self, *, action: str, expression: str | None, mood: str | None, playlist: str | None,
                        track: str | None, at: float | None = None, elapsed_s: float | None = None,
                        confidence: float | None = None, face_share: float | None = None, held: bool = False) -> int:
        """Store one feedback event (button, CLI, or a song played to its end); returns its id once it is on
        disk. ``confidence``, ``face_share`` and ``held``: what the box knew then (see :class:`Event`)."""
        if action not in FEEDBACK_ACTIONS:
            raise ValueError(f"feedback action must be one of {', '.join(FEEDBACK_ACTIONS)}, got {action!r}")
        return self._insert(
            "record feedback",
            "INSERT INTO feedback (at, action, expression, mood, playlist, track, elapsed_s, confidence, face_share,"
            " held) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (time.time() if at is None else at, action, expression, mood, playlist, track, elapsed_s, confidence,
             face_share, int(held)))

    def record_play(self, *, track: str, playlist: str | None, mood: str | None, reason: str,
                    at: float | None = None) -> int:
        """Store that ``track`` started playing and why; returns its id once it is on disk."""
        return self._insert(
            "record a play",
            "INSERT INTO plays (at, track, playlist, mood, reason) VALUES (?, ?, ?, ?, ?)",
            (time.time() if at is None else at, track, playlist, mood, reason))

    def events_after(self, last_id: int) -> list[Event]:
        """The feedback events with an id above ``last_id``, oldest first (0: the whole log)."""
        with self._lock, self._sqlite_errors("read feedback"):
            rows = self._open_db().execute(f"SELECT {_EVENT_COLUMNS} FROM feedback WHERE id > ? ORDER BY id",
                                           (last_id,)).fetchall()
        return [_event(row) for row in rows]

    def _open_db(self) -> sqlite3.Connection:
        """The connection, or StoreError once closed (call with the lock held)."""
        if self._db is None:
            raise StoreError(f"feedback database {self.path} is closed")
        return self._db

    def summary(self) -> tuple[int, str] | None:
        """``(last_id, data)`` of the compacted old evidence, or None when nothing was compacted yet."""
        with self._lock, self._sqlite_errors("read the feedback summary"):
            return self._open_db().execute("SELECT last_id, data FROM feedback_summary").fetchone()

    def events_before(self, after_id: int, before: float, *, limit: int = -1) -> list[Event]:
        """The feedback events after ``after_id`` up to the first one at or after ``before`` (Unix time), at most
        ``limit``: a run of ids with no gap, so that a summary up to the last of them misses none."""
        with self._lock, self._sqlite_errors("read feedback"):
            rows = self._open_db().execute(
                f"SELECT {_EVENT_COLUMNS} FROM feedback WHERE id > ?1 AND id < "
                "COALESCE((SELECT MIN(id) FROM feedback WHERE id > ?1 AND at >= ?2), 9223372036854775807) "
                "ORDER BY id LIMIT ?3", (after_id, before, limit)).fetchall()
        return [_event(row) for row in rows]

    def compact(self, last_id: int, data: str, before: float) -> int:
        """At once: the summary of the events up to ``last_id``, those events and the plays before ``before`` deleted
        (the newest event stays, so that ids are never reused); returns how many events were deleted."""
        with self._lock, self._sqlite_errors("compact old feedback"):
            self._open_db().execute("BEGIN IMMEDIATE")
            try:
                self._db.execute("INSERT OR REPLACE INTO feedback_summary VALUES (1, ?, ?)", (last_id, data))
                deleted = self._db.execute(
                    "DELETE FROM feedback WHERE id <= ? AND at < ? AND id < (SELECT MAX(id) FROM feedback)",
                    (last_id, before)).rowcount
                self._db.execute("DELETE FROM plays WHERE at < ?", (before,))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.rollback()
                raise
            return deleted

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def __enter__(self) -> FeedbackStore:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


# -- the read-only timeline (moodbox history, top and the phone page) ------------------------------------------

class HistoryError(Exception):
    """The store cannot be read for its timeline; the message names the file."""


@dataclass(frozen=True)
class TimelineEvent:
    """One entry of the timeline: a play or a feedback event."""
    at: float                 # Unix time
    kind: str                 # "play" or a feedback action: skip, like, hold, release, pause, resume
    mood: str | None
    playlist: str | None
    track: str | None
    reason: str | None = None  # plays only: why it started ("mood sad", "skip", "next")

    @property
    def switch(self) -> bool:
        """A play that started because the mood changed the playlist."""
        return self.kind == "play" and (self.reason or "").startswith("mood")


def read_timeline(db_path, since: float, until: float | None = None) -> list[TimelineEvent]:
    """Plays and feedback with ``since <= at <= until`` (Unix times), oldest first, read without writing."""
    path = Path(db_path)
    if not path.is_file():
        raise HistoryError(f"no feedback database at {path} (has moodbox run yet? see state.dir in the config)")
    until = time.time() if until is None else until
    try:
        rows = _read(path, since, until, immutable=False)
    except sqlite3.OperationalError as exc:
        # A reader that may not write the folder (the phone page, a user in the moodbox group) cannot make the
        # WAL index while the daemon is stopped; with no -wal file left everything is in the database file, which
        # can then be read as it is.
        if "readonly" not in str(exc) or path.with_name(path.name + "-wal").exists():
            raise HistoryError(f"cannot read feedback database {path}: {exc}") from exc
        try:
            rows = _read(path, since, until, immutable=True)
        except sqlite3.Error as again:
            raise HistoryError(f"cannot read feedback database {path}: {again}") from again
    return sorted((TimelineEvent(*row) for row in rows), key=lambda event: event.at)


def _read(path: Path, since: float, until: float, *, immutable: bool) -> list[tuple]:
    uri = f"{path.resolve().as_uri()}?mode=ro" + ("&immutable=1" if immutable else "")
    try:
        db = sqlite3.connect(uri, uri=True, timeout=5)
    except sqlite3.Error as exc:
        raise HistoryError(f"cannot open feedback database {path} read-only: {exc}") from exc
    try:
        return (db.execute("SELECT at, 'play', mood, playlist, track, reason FROM plays WHERE at BETWEEN ? AND ?",
                           (since, until)).fetchall()
                + db.execute("SELECT at, action, mood, playlist, track, NULL FROM feedback WHERE at BETWEEN ? AND ?",
                             (since, until)).fetchall())
    except sqlite3.OperationalError:
        raise
    except sqlite3.Error as exc:
        raise HistoryError(f"cannot read feedback database {path}: {exc}") from exc
    finally:
        db.close()
