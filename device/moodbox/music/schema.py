"""The feedback database's tables (:mod:`moodbox.music.store`) and the upgrades from older schema versions."""

from __future__ import annotations

SCHEMA_VERSION = 4
# hold / release: the music held and let go by the listener; pause / resume: the camera's privacy pause;
# played: a song played to its end (nobody skipped it)
FEEDBACK_ACTIONS = ("skip", "like", "hold", "release", "pause", "resume", "played")

# Version 3 has no CHECK on the action: which actions exist is the code's business (FEEDBACK_ACTIONS), and a
# new one must not need a table rebuild. elapsed_s: how far into the song the action came (early or late skip).
# Version 4 adds what the box knew when it happened (the policy weighs the evidence by it): the mood's confidence,
# the share of the song a face was in view (for "played"), and whether the music was held.
_FEEDBACK_TABLE = """
CREATE TABLE feedback (
    id         INTEGER PRIMARY KEY,
    at         REAL NOT NULL,                    -- Unix time, seconds
    action     TEXT NOT NULL,
    expression TEXT,                             -- what the model saw when the button was pressed
    mood       TEXT,                             -- the smoothed mood at that moment
    playlist   TEXT,                             -- the playlist the song came from
    track      TEXT,
    elapsed_s  REAL,                             -- seconds into the song; NULL when not known (before version 3)
    confidence REAL,                             -- the mood's smoothed score, 0-1; NULL: not known (before 4)
    face_share REAL,                             -- share of the song a face was in view; NULL: not known
    held       INTEGER NOT NULL DEFAULT 0        -- 1: the listener held the music at that moment
);
CREATE INDEX feedback_by_playlist ON feedback (playlist);
"""

# SQLite cannot drop a CHECK in place, so the table is rebuilt; every event is copied over, ids included.
_REBUILD_FEEDBACK = f"""
ALTER TABLE feedback RENAME TO feedback_old;
DROP INDEX feedback_by_playlist;
{_FEEDBACK_TABLE}
INSERT INTO feedback (id, at, action, expression, mood, playlist, track)
    SELECT id, at, action, expression, mood, playlist, track FROM feedback_old;
DROP TABLE feedback_old;
"""

# Version 3 to 4: new columns only; every event keeps its row, the new columns read NULL / 0 ("not known").
_ADD_VERSION_4_COLUMNS = """
ALTER TABLE feedback ADD COLUMN confidence REAL;
ALTER TABLE feedback ADD COLUMN face_share REAL;
ALTER TABLE feedback ADD COLUMN held INTEGER NOT NULL DEFAULT 0;
"""


def upgrade(version: int) -> str:
    """The script that brings a file of schema ``version`` (1-3) to :data:`SCHEMA_VERSION` in one transaction.
    Version 1 only allowed skip, like and hold; version 2 added release, pause and resume, still under a CHECK."""
    steps = _ADD_VERSION_4_COLUMNS if version == 3 else _REBUILD_FEEDBACK
    return f"BEGIN IMMEDIATE;\n{steps}\nPRAGMA user_version = {SCHEMA_VERSION};\nCOMMIT;\n"


SCHEMA = f"""
BEGIN IMMEDIATE;
{_FEEDBACK_TABLE}
CREATE TABLE plays (
    id       INTEGER PRIMARY KEY,
    at       REAL NOT NULL,
    track    TEXT NOT NULL,
    playlist TEXT,
    mood     TEXT,
    reason   TEXT NOT NULL                       -- why it started, e.g. "mood changed to sad", "skip"
);
PRAGMA user_version = {SCHEMA_VERSION};
COMMIT;
"""


# The newest event folded in, and the learning state (the preferences' JSON); beside any schema version.
SUMMARY_TABLE = ("CREATE TABLE IF NOT EXISTS feedback_summary "
                 "(id INTEGER PRIMARY KEY CHECK (id = 1), last_id INTEGER NOT NULL, data TEXT NOT NULL)")
