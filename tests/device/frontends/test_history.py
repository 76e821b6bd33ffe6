"""moodbox history: the store's plays and feedback as a table and a chart, read without writing."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import time
from pathlib import Path

import pytest

from moodbox.errors import EXIT_CONFIG, EXIT_FAILURE
from moodbox.frontends import history
from moodbox.frontends.history import mood_bands, parse_duration
from moodbox.music.store import TimelineEvent as Event, read_timeline as load_events
from moodbox.music.store import FeedbackStore

from device_support import run_as_nobody


@pytest.fixture
def db(tmp_path):
    """A store with an evening: happy music, a like, a switch to sad, a skip; and one event from two days ago."""
    now = time.time()
    path = tmp_path / "state" / "feedback.db"
    with FeedbackStore(path) as store:
        store.record_play(track="old.ogg", playlist="calm", mood="sad", reason="mood sad", at=now - 2 * 86400)
        store.record_play(track="up1.ogg", playlist="upbeat", mood="happy", reason="mood happy", at=now - 3600)
        store.record_feedback(action="like", expression="happy", mood="happy", playlist="upbeat", track="up1.ogg",
                              at=now - 3000)
        store.record_play(track="up2.ogg", playlist="upbeat", mood="happy", reason="next", at=now - 2400)
        store.record_play(track="calm1.ogg", playlist="calm", mood="sad", reason="mood sad", at=now - 1200)
        store.record_feedback(action="skip", expression="sad", mood="sad", playlist="calm", track="calm1.ogg",
                              at=now - 600)
        store.record_play(track="calm2.ogg", playlist="calm", mood="sad", reason="skip", at=now - 599)
    return path


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_parse_duration():
    assert parse_duration("24h") == 86400 and parse_duration("30m") == 1800 and parse_duration("1.5d") == 129600
    with pytest.raises(ValueError, match="24h"):
        parse_duration("yesterday")


def test_events_within_the_window_oldest_first_and_the_store_is_not_written(db):
    before = digest(db)
    events = load_events(db, time.time() - 86400)
    assert [e.kind for e in events] == ["play", "like", "play", "play", "skip", "play"]
    assert [e.switch for e in events] == [True, False, False, True, False, False]
    assert digest(db) == before  # (opening a WAL database may create its -shm/-wal files, never change it)


def test_a_reader_that_cannot_write_the_folder_reads_with_the_daemon_running_or_stopped():
    """The phone page's case: group read on the files, no write on the folder (here: nobody, world read)."""
    folder = Path(tempfile.mkdtemp(prefix="moodbox-history-"))  # pytest's tmp_path is closed to other users
    try:
        folder.chmod(0o755)
        old = os.umask(0o022)
        try:
            store = FeedbackStore(folder / "feedback.db")  # the daemon: WAL files stay while it runs
        finally:
            os.umask(old)
        store.record_play(track="a.ogg", playlist="upbeat", mood="happy", reason="mood happy")
        read = lambda: [e.track for e in load_events(folder / "feedback.db", 0)]  # noqa: E731
        assert run_as_nobody(read) == "['a.ogg']"
        assert run_as_nobody(lambda: (folder / "x").touch()).startswith("PermissionError")  # really no write
        store.close()  # the daemon stopped: the WAL is folded in and its files removed
        assert not (folder / "feedback.db-wal").exists()
        assert run_as_nobody(read) == "['a.ogg']"
    finally:
        shutil.rmtree(folder)


def test_mood_bands_change_only_when_the_recorded_mood_does():
    events = [Event(10, "play", "happy", "upbeat", "a"), Event(20, "like", "happy", "upbeat", "a"),
              Event(30, "play", "sad", "calm", "b"), Event(40, "pause", None, "calm", "b")]
    assert mood_bands(events, until=50) == [(10, 30, "happy"), (30, 50, "sad")]


def test_table_and_charts_from_the_cli(db, tmp_path, capsys):
    assert history.main(["--db", str(db), "--since", "24h", "--plot", str(tmp_path / "day.svg")]) == 0
    out = capsys.readouterr().out.splitlines()
    rows = [line.split() for line in out[1:-1]]
    assert [row[2] for row in rows] == ["switch", "like", "play", "switch", "skip", "play"]
    assert rows[0][3:6] == ["happy", "upbeat", "up1.ogg"]
    assert out[-2].endswith("calm2.ogg  (skip)")
    svg = (tmp_path / "day.svg").read_text()
    assert svg.startswith("<?xml") and "6 events, 2 mood switches" in svg  # text kept as text (svg.fonttype none)
    assert history.main(["--db", str(db), "--since", "30m", "--plot", str(tmp_path / "day.png")]) == 0
    assert (tmp_path / "day.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(capsys.readouterr().out.splitlines()) == 1 + 3 + 1  # header, switch to sad, skip, its play, chart


def test_clear_errors_and_exit_codes(tmp_path, capsys):
    assert history.main(["--db", str(tmp_path / "none.db")]) == EXIT_FAILURE
    assert str(tmp_path / "none.db") in capsys.readouterr().err
    bad = tmp_path / "bad.toml"
    bad.write_text("[state]\ndirr = 1\n")
    assert history.main(["--config", str(bad)]) == EXIT_CONFIG
    assert "state.dirr" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        history.main(["--db", str(tmp_path / "x.db"), "--since", "soon"])
    assert exit_.value.code == 2 and "--since" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        history.main(["--db", str(tmp_path / "x.db"), "--plot", "chart.jpg"])
    assert "--plot" in capsys.readouterr().err
