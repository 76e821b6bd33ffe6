"""FeedbackStore on real SQLite files: schema, migrations, the event log, bad files and disks, and kill -9 during a
burst of writes."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

import pytest

from moodbox.music.store import SCHEMA_VERSION, Event, FeedbackStore, StoreError, open_store

DATA = Path(__file__).parent / "data"

from device_support import run_as_nobody


def like(store, playlist="upbeat", action="like"):
    return store.record_feedback(action=action, expression="happy", mood="happy", playlist=playlist, track="a.ogg")


def test_events_are_stored_with_all_their_fields(tmp_path):
    path = tmp_path / "feedback.db"
    with FeedbackStore(path) as store:
        feedback_id = store.record_feedback(action="skip", expression="sad", mood="calm", playlist="soft",
                                            track="calm/1.ogg", at=1700000000.5)
        play_id = store.record_play(track="calm/2.ogg", playlist="soft", mood="calm", reason="skip", at=1700000001.0)
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT id, at, action, expression, mood, playlist, track, elapsed_s FROM feedback"
                          ).fetchall() == [(feedback_id, 1700000000.5, "skip", "sad", "calm", "soft", "calm/1.ogg",
                                            None)]
        assert db.execute("SELECT id, at, track, playlist, mood, reason FROM plays").fetchall() == [
            (play_id, 1700000001.0, "calm/2.ogg", "soft", "calm", "skip")]


def test_ids_increase_and_default_time_is_now(tmp_path):
    with FeedbackStore(tmp_path / "feedback.db") as store:
        ids = [like(store) for _ in range(3)]
        rows = store._db.execute("SELECT at FROM feedback").fetchall()
    assert ids == sorted(set(ids))
    assert all(abs(at - time.time()) < 60 for (at,) in rows)


def test_database_is_wal_with_full_sync_and_versioned(tmp_path):
    path = tmp_path / "feedback.db"
    with FeedbackStore(path) as store:
        assert store._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_state_directory_is_created(tmp_path):
    path = tmp_path / "var" / "lib" / "moodbox" / "feedback.db"
    with FeedbackStore(path) as store:
        like(store)
    assert path.is_file()


def test_reopening_keeps_history(tmp_path):
    path = tmp_path / "feedback.db"
    with FeedbackStore(path) as store:
        like(store)
    with FeedbackStore(path) as store:
        like(store)
        assert [event.id for event in store.events_after(0)] == [1, 2]


def test_events_after_reads_the_log_incrementally(tmp_path):
    with FeedbackStore(tmp_path / "feedback.db") as store:
        assert store.events_after(0) == []
        store.record_feedback(action="skip", expression="sad", mood="sad", playlist="calm", track="a.ogg", at=10.0,
                              elapsed_s=4.5)
        store.record_play(track="b.ogg", playlist="calm", mood="sad", reason="skip")  # plays are not feedback
        store.record_feedback(action="played", expression=None, mood="sad", playlist="calm", track="b.ogg",
                              at=20.0)
        assert store.events_after(0) == [Event(1, 10.0, "skip", "sad", "calm", "a.ogg", 4.5),
                                         Event(2, 20.0, "played", "sad", "calm", "b.ogg", None)]
        assert store.events_after(1) == [Event(2, 20.0, "played", "sad", "calm", "b.ogg", None)]
        assert store.events_after(2) == []


def test_unknown_action_is_refused(tmp_path):
    with FeedbackStore(tmp_path / "feedback.db") as store:
        with pytest.raises(ValueError, match="skip, like, hold, release, pause, resume, played"):
            like(store, action="love")


def test_the_version_3_table_has_no_check_on_the_action(tmp_path):
    """Which actions exist is the code's business: a newer moodbox's action must not need a table rebuild."""
    path = tmp_path / "feedback.db"
    FeedbackStore(path).close()
    with sqlite3.connect(path) as db:
        db.execute("INSERT INTO feedback (at, action) VALUES (1.0, 'a future action')")
        assert "CHECK" not in db.execute("SELECT sql FROM sqlite_master WHERE name = 'feedback'").fetchone()[0]


def test_a_version_2_database_made_by_the_previous_code_keeps_every_event(tmp_path):
    """data/feedback_v2.sql is a dump of a file written by the schema-2 store (every action it knew)."""
    path = tmp_path / "feedback.db"
    with sqlite3.connect(path) as db:
        db.executescript((DATA / "feedback_v2.sql").read_text())
        before = db.execute("SELECT id, at, action, expression, mood, playlist, track FROM feedback").fetchall()
        plays_before = db.execute("SELECT * FROM plays").fetchall()
        assert db.execute("PRAGMA user_version").fetchone()[0] == 2 and len(before) == 9
    db.close()
    with FeedbackStore(path) as store:
        events = store.events_after(0)
        like(store, action="played")  # an action version 2 refused
    assert [(e.id, e.at, e.action, e.mood, e.playlist, e.track) for e in events] == \
        [(row[0], row[1], row[2], row[4], row[5], row[6]) for row in before]
    assert all(event.elapsed_s is None for event in events)  # unknown before version 3
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 4
    assert db.execute("SELECT id, at, action, expression, mood, playlist, track FROM feedback WHERE id <= 9"
                      ).fetchall() == before
    assert db.execute("SELECT * FROM plays").fetchall() == plays_before
    assert db.execute("SELECT action FROM feedback WHERE id = 10").fetchone() == ("played",)
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert db.execute("SELECT name FROM sqlite_master WHERE type = 'index'").fetchall() == \
        [("feedback_by_playlist",)]
    db.close()


def test_a_failed_migration_leaves_the_version_2_file_as_it_was(tmp_path):
    path = tmp_path / "feedback.db"
    with sqlite3.connect(path) as db:
        db.executescript((DATA / "feedback_v2.sql").read_text())
        db.execute("CREATE TABLE feedback_old (x)")  # the name the migration needs is taken: it must fail
    db.close()
    with pytest.raises(StoreError, match=rf"{path}: cannot open"):
        FeedbackStore(path)
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == 2
        assert db.execute("SELECT COUNT(*) FROM feedback").fetchone()[0] == 9


def test_a_version_1_database_is_upgraded_and_keeps_its_events(tmp_path):
    """Version 1 refused pause, resume and release in its CHECK; an upgraded file takes them."""
    path = tmp_path / "feedback.db"
    with sqlite3.connect(path) as db:
        db.executescript("""
            CREATE TABLE feedback (id INTEGER PRIMARY KEY, at REAL NOT NULL,
                action TEXT NOT NULL CHECK (action IN ('skip', 'like', 'hold')),
                expression TEXT, mood TEXT, playlist TEXT, track TEXT);
            CREATE INDEX feedback_by_playlist ON feedback (playlist);
            CREATE TABLE plays (id INTEGER PRIMARY KEY, at REAL NOT NULL, track TEXT NOT NULL, playlist TEXT,
                mood TEXT, reason TEXT NOT NULL);
            INSERT INTO feedback VALUES (1, 5.0, 'like', 'happy', 'happy', 'upbeat', 'a.ogg');
            PRAGMA user_version = 1;""")
    db.close()
    with FeedbackStore(path) as store:
        for action in ("pause", "resume", "release"):
            like(store, action=action)
        assert [event.action for event in store.events_after(0)] == ["like", "pause", "resume", "release"]
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert [row[0] for row in db.execute("SELECT action FROM feedback ORDER BY id")] == \
        ["like", "pause", "resume", "release"]
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    db.close()


def test_writes_from_many_threads(tmp_path):
    with FeedbackStore(tmp_path / "feedback.db") as store:
        ids: list[int] = []

        def burst():
            for _ in range(25):
                ids.append(like(store))

        threads = [threading.Thread(target=burst) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(set(ids)) == 100
        assert len(store.events_after(0)) == 100


def test_corrupt_file_names_the_path(tmp_path):
    path = tmp_path / "feedback.db"
    path.write_bytes(b"this is not sqlite " * 500)
    with pytest.raises(StoreError, match=rf"{path}.*not a database.*move the corrupt file aside"):
        FeedbackStore(path)


def test_newer_schema_is_refused(tmp_path):
    path = tmp_path / "feedback.db"
    with sqlite3.connect(path) as db:
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(StoreError, match=rf"{path} has schema version {SCHEMA_VERSION + 1}"):
        FeedbackStore(path)


def test_state_directory_that_cannot_be_made(tmp_path):
    (tmp_path / "state").write_text("a file where the directory should be")
    with pytest.raises(StoreError, match=r"cannot create the state directory .*state"):
        FeedbackStore(tmp_path / "state" / "feedback.db")


def test_closed_store_says_so(tmp_path):
    store = FeedbackStore(tmp_path / "feedback.db")
    store.close()
    with pytest.raises(StoreError, match="is closed"):
        like(store)


@pytest.mark.parametrize("existing", [False, True])
def test_read_only_state_directory(existing):
    # Outside pytest's tmp_path, whose parents are root-only: nobody must be able to reach the directory.
    with tempfile.TemporaryDirectory(prefix="mbstore", dir="/tmp") as directory:
        state = Path(directory) / "state"
        state.mkdir()
        path = state / "feedback.db"
        if existing:
            FeedbackStore(path).close()
        os.chmod(directory, 0o755)
        os.chmod(state, 0o755)  # root's directory: nobody may read but not write
        result = run_as_nobody(lambda: like(FeedbackStore(path)))
    assert result.startswith(f"StoreError: feedback database {path}: cannot ")


FULL_DISK_CHILD = textwrap.dedent("""
    import resource, signal, sys
    from moodbox.music.store import FeedbackStore, StoreError
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)   # get EFBIG like a full disk instead of being killed
    store = FeedbackStore(sys.argv[1])
    resource.setrlimit(resource.RLIMIT_FSIZE, (256 * 1024, 256 * 1024))
    try:
        while True:
            print(store.record_feedback(action="like", expression="happy", mood="happy", playlist="upbeat",
                                        track="x" * 2000), flush=True)
    except StoreError as exc:
        print("ERROR", exc, flush=True)
    print("still running", flush=True)
""")


def test_full_disk_gives_a_store_error_and_keeps_acknowledged_events(tmp_path):
    path = tmp_path / "feedback.db"
    child = subprocess.run([sys.executable, "-c", FULL_DISK_CHILD, str(path)], capture_output=True, text=True,
                           timeout=120)
    lines = child.stdout.splitlines()
    assert child.returncode == 0, child.stderr
    assert lines[-1] == "still running"
    error = lines[-2]
    assert error.startswith(f"ERROR feedback database {path}: cannot record feedback:")
    acknowledged = {int(line) for line in lines[:-2]}
    assert acknowledged, "the limit hit before any write: raise it"
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        stored = {row[0] for row in db.execute("SELECT id FROM feedback")}
    assert acknowledged <= stored


BURST_CHILD = textwrap.dedent("""
    import sys
    from moodbox.music.store import FeedbackStore
    store = FeedbackStore(sys.argv[1])
    n = 0
    while True:
        n += 1
        if n % 3:
            print("feedback", store.record_feedback(action=("like", "skip", "hold")[n % 3], expression="sad",
                                                    mood="calm", playlist=f"list{n % 5}", track=f"t{n}.ogg"),
                  flush=True)
        else:
            print("plays", store.record_play(track=f"t{n}.ogg", playlist=f"list{n % 5}", mood="calm",
                                             reason="mood changed"), flush=True)
""")


@pytest.mark.slow
def test_acknowledged_events_survive_kill_9_mid_burst(tmp_path):
    """Kill the writer at a random point 20 times; each time the file is intact and nothing acknowledged is lost.

    This exercises SQLite's crash recovery (WAL replay, no torn transactions) for a process killed mid-write; a real
    power cut additionally relies on synchronous=FULL, which fsyncs the WAL before each write returns.
    """
    path = tmp_path / "feedback.db"
    rng = random.Random(3)
    acknowledged: dict[str, set[int]] = {"feedback": set(), "plays": set()}
    for _ in range(20):
        child = subprocess.Popen([sys.executable, "-c", BURST_CHILD, str(path)], stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True)
        lines = [child.stdout.readline() for _ in range(rng.randint(1, 150))]
        os.kill(child.pid, signal.SIGKILL)
        rest, errors = child.communicate(timeout=30)
        assert child.returncode == -signal.SIGKILL, errors
        lines += rest.splitlines(keepends=True)
        for line in lines:
            if line.endswith("\n"):  # a line cut by the kill was never acknowledged
                table, event_id = line.split()
                acknowledged[table].add(int(event_id))
        with sqlite3.connect(path) as db:
            assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            for table, ids in acknowledged.items():
                stored = {row[0] for row in db.execute(f"SELECT id FROM {table}")}
                assert ids <= stored, f"{len(ids - stored)} acknowledged {table} rows lost"
    assert len(acknowledged["feedback"]) > 20 and len(acknowledged["plays"]) > 10
    with FeedbackStore(path) as store:
        assert {event.playlist for event in store.events_after(0)} == {f"list{i}" for i in range(5)}


def test_a_corrupt_database_is_moved_aside_and_a_new_one_started(tmp_path, caplog):
    """Defect 9: a corrupt feedback.db stopped the start; now it is kept aside, the log says where."""
    path = tmp_path / "feedback.db"
    garbage = b"this is not sqlite " * 500
    path.write_bytes(garbage)
    with open_store(path) as store:
        assert like(store) == 1
    aside = [p for p in tmp_path.iterdir() if p.name.startswith("feedback.db.corrupt-")]
    assert len(aside) == 1 and aside[0].read_bytes() == garbage
    assert f"moved it to {aside[0]} and started a new one" in caplog.text


def test_open_store_does_not_move_a_sound_database_that_cannot_be_written(tmp_path):
    (tmp_path / "state").write_text("a file where the directory should be")
    with pytest.raises(StoreError, match="cannot create the state directory"):
        open_store(tmp_path / "state" / "feedback.db")
    assert [p.name for p in tmp_path.iterdir()] == ["state"]


def test_a_full_disk_is_called_full_and_remembered_until_a_write_succeeds(tmp_path):
    """Defect 10: SQLite says "disk I/O error" for ENOSPC in WAL mode; the owner must read "disk is full"."""
    mount = tmp_path / "small"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)],
                      capture_output=True).returncode != 0:
        pytest.skip("needs a tiny tmpfs as a full disk: mount is not permitted here (run as root)")
    try:
        store = FeedbackStore(mount / "feedback.db")
        with pytest.raises(StoreError, match=r"cannot record feedback: the disk is full \(\d+ bytes free in "):
            for _ in range(10_000):
                store.record_feedback(action="like", expression="happy", mood="happy", playlist="upbeat",
                                      track="x" * 2000)
        assert "the disk is full" in store.last_error
        store.close()
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=True)


def test_a_version_3_database_gains_the_new_columns_and_keeps_every_event(tmp_path):
    """A file the schema-3 store wrote: its events come back whole, what was not known then reads as not known."""
    path = tmp_path / "feedback.db"
    with sqlite3.connect(path) as db:
        db.executescript("""
            CREATE TABLE feedback (id INTEGER PRIMARY KEY, at REAL NOT NULL, action TEXT NOT NULL, expression TEXT,
                mood TEXT, playlist TEXT, track TEXT, elapsed_s REAL);
            CREATE INDEX feedback_by_playlist ON feedback (playlist);
            CREATE TABLE plays (id INTEGER PRIMARY KEY, at REAL NOT NULL, track TEXT NOT NULL, playlist TEXT,
                mood TEXT, reason TEXT NOT NULL);
            INSERT INTO feedback VALUES (1, 5.0, 'like', 'happy', 'happy', 'upbeat', 'a.ogg', NULL);
            INSERT INTO feedback VALUES (2, 6.0, 'skip', 'sad', 'sad', 'calm', 'b.ogg', 4.5);
            INSERT INTO feedback VALUES (7, 7.0, 'played', NULL, 'sad', 'calm', 'c.ogg', NULL);
            INSERT INTO plays VALUES (1, 4.0, 'a.ogg', 'upbeat', 'happy', 'mood happy');
            PRAGMA user_version = 3;""")
        before = db.execute("SELECT * FROM feedback ORDER BY id").fetchall()
    db.close()
    with FeedbackStore(path) as store:
        events = store.events_after(0)
        new_id = store.record_feedback(action="played", expression=None, mood="sad", playlist="calm", track="d.ogg",
                                       at=8.0, confidence=0.4, face_share=0.9, held=True)
        assert store.events_after(7) == [Event(new_id, 8.0, "played", "sad", "calm", "d.ogg", None, 0.4, 0.9, True)]
    assert [(e.id, e.at, e.action, e.mood, e.playlist, e.track, e.elapsed_s) for e in events] == \
        [(row[0], row[1], row[2], row[4], row[5], row[6], row[7]) for row in before]
    assert all(e.confidence is None and e.face_share is None and e.held is False for e in events)
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert db.execute("SELECT id, at, action, expression, mood, playlist, track, elapsed_s FROM feedback "
                      "WHERE id <= 7 ORDER BY id").fetchall() == before
    assert db.execute("SELECT COUNT(*) FROM plays").fetchone()[0] == 1
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    db.close()
