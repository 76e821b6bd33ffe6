-- A version-2 feedback database as moodbox wrote it before schema 3 (commit cd79f58's store.py:
-- FeedbackStore.record_feedback / record_play, every action of that version), dumped with
-- sqlite3.Connection.iterdump(); test_store.py rebuilds the file from it and opens it with today's code.
BEGIN TRANSACTION;
CREATE TABLE feedback (
    id         INTEGER PRIMARY KEY,
    at         REAL NOT NULL,                    -- Unix time, seconds
    action     TEXT NOT NULL CHECK (action IN ('skip', 'like', 'hold', 'release', 'pause', 'resume')),
    expression TEXT,                             -- what the model saw when the button was pressed
    mood       TEXT,                             -- the smoothed mood at that moment
    playlist   TEXT,
    track      TEXT
);
INSERT INTO "feedback" VALUES(1,1764300000.0,'like','happy','happy','upbeat','upbeat/01.ogg');
INSERT INTO "feedback" VALUES(2,1764300060.0,'skip','sad','sad','calm','calm/02.ogg');
INSERT INTO "feedback" VALUES(3,1764300120.0,'skip','sad','sad','calm','calm/03.ogg');
INSERT INTO "feedback" VALUES(4,1764300180.0,'hold','neutral','neutral','everyday','everyday/01.ogg');
INSERT INTO "feedback" VALUES(5,1764300240.0,'release','neutral','neutral','everyday','everyday/01.ogg');
INSERT INTO "feedback" VALUES(6,1764300300.0,'pause',NULL,'sad','calm','calm/04.ogg');
INSERT INTO "feedback" VALUES(7,1764300360.0,'resume',NULL,'sad','calm','calm/04.ogg');
INSERT INTO "feedback" VALUES(8,1764300420.0,'like','sad','sad','calm','local:track:calm%2F05.ogg');
INSERT INTO "feedback" VALUES(9,1764300480.0,'skip',NULL,NULL,NULL,NULL);
CREATE TABLE plays (
    id       INTEGER PRIMARY KEY,
    at       REAL NOT NULL,
    track    TEXT NOT NULL,
    playlist TEXT,
    mood     TEXT,
    reason   TEXT NOT NULL                       -- why it started, e.g. "mood changed to sad", "skip"
);
INSERT INTO "plays" VALUES(1,1764300030.0,'calm/02.ogg','calm','sad','mood sad');
INSERT INTO "plays" VALUES(2,1764300070.0,'calm/03.ogg','calm','sad','skip');
CREATE INDEX feedback_by_playlist ON feedback (playlist);
COMMIT;
PRAGMA user_version = 2;
