"""The owner's music sorted by mood: tag tracks, keep the results, and write the mood playlists into MPD.

``moodbox library scan`` lists the tracks MPD knows (files under its music directory; Mopidy's ``file://`` URIs
too), analyses only those that are new or changed since the last scan (path, size and mtime are kept in
``library.db`` in the state directory; every result is committed at once, so an interrupted scan resumes where it
stopped), and then writes one stored playlist per rule in ``[library.playlists]``: the tracks of the rule's
quadrants whose summed probability of those quadrants reaches the rule's confidence floor (chosen for each set of
quadrants by cross-validation when the model was built, in ``mood.json``), most typical first, at most
``max_tracks``. Audio that is not music (too short, silent, noise, NaN samples, undecodable) is kept with its
named outcome and joins no playlist. Generated playlists are named with ``library.prefix``; a
stored playlist of that name that the scan did not write (the owner's own) is never replaced unless
``library.overwrite_owner_playlists`` is true. A playlist is recorded as the scan's before MPD writes it, so a scan
killed in between leaves it the scan's to rewrite, never frozen as the owner's.

>>> store = LibraryStore(":memory:")
>>> store.counts()
{'Q1': 0, 'Q2': 0, 'Q3': 0, 'Q4': 0, 'failed': 0}
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable
from urllib.parse import unquote, urlparse

from moodbox.music.audio import AudioError, NotAnalysable
from moodbox.errors import MoodboxError
from moodbox.music.tagger import TrackMood
from moodbox.names import QUADRANTS

log = logging.getLogger(__name__)
DEFAULT_MUSIC_DIR = "/var/lib/mpd/music"  # Debian's mpd.conf

_SCHEMA = """
CREATE TABLE IF NOT EXISTS tracks (
    uri           TEXT PRIMARY KEY,               -- as MPD lists it
    size          INTEGER NOT NULL,
    mtime         REAL NOT NULL,
    model         TEXT NOT NULL,                  -- the model version that analysed it
    valence       REAL,
    arousal       REAL,
    quadrant      TEXT,
    probabilities TEXT,                           -- JSON {"Q1": p, ...}
    tags          TEXT,                           -- JSON {"rock": p, ...}
    error         TEXT,                           -- why it could not be analysed (then no mood)
    analysed_at   REAL NOT NULL,
    outcome       TEXT                            -- "not analysable: silent", ... (with error)
);
CREATE TABLE IF NOT EXISTS generated_playlists (
    name       TEXT PRIMARY KEY,                  -- stored playlists this scan wrote (and may rewrite)
    written_at REAL NOT NULL
);
"""


class LibraryError(MoodboxError):
    """The library database or MPD cannot be used; the message names what to fix."""


@dataclass(frozen=True)
class Track:
    uri: str
    valence: float | None
    arousal: float | None
    quadrant: str | None
    probabilities: dict[str, float]
    tags: dict[str, float]
    error: str | None
    outcome: str | None = None


class LibraryStore:
    """Analysis results per track, in SQLite; each write is committed at once (a scan resumes after a stop)."""

    def __init__(self, path: str | Path):
        self.path = str(path)
        try:
            if self.path != ":memory:":
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path)
            self._db.executescript(_SCHEMA)
            if "outcome" not in {row[1] for row in self._db.execute("PRAGMA table_info(tracks)")}:
                self._db.execute("ALTER TABLE tracks ADD COLUMN outcome TEXT")  # a database of an older moodbox
        except (sqlite3.Error, OSError) as err:
            raise LibraryError(f"{self.path}: cannot open the library database: {err}") from None

    def is_current(self, uri: str, size: int, mtime: float, model: str) -> bool:
        row = self._db.execute("SELECT size, mtime, model FROM tracks WHERE uri = ?", (uri,)).fetchone()
        return row is not None and row[0] == size and row[1] == mtime and row[2] == model

    def put(self, uri: str, size: int, mtime: float, model: str, mood: TrackMood | None = None,
            error: str | None = None, outcome: str | None = None) -> None:
        values = (None,) * 5 if mood is None else (mood.valence, mood.arousal, mood.quadrant,
                                                   json.dumps(mood.probabilities), json.dumps(mood.tags))
        with self._db:
            self._db.execute("INSERT OR REPLACE INTO tracks (uri, size, mtime, model, valence, arousal, quadrant, "
                             "probabilities, tags, error, analysed_at, outcome) "
                             "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                             (uri, size, mtime, model, *values, error, time.time(),
                              outcome or (None if error is None else "cannot read")))

    def forget_except(self, uris: Iterable[str]) -> int:
        """Drop tracks MPD no longer lists; return how many."""
        keep = set(uris)
        gone = [uri for (uri,) in self._db.execute("SELECT uri FROM tracks") if uri not in keep]
        with self._db:
            self._db.executemany("DELETE FROM tracks WHERE uri = ?", [(uri,) for uri in gone])
        return len(gone)

    def tracks(self) -> list[Track]:
        rows = self._db.execute("SELECT uri, valence, arousal, quadrant, probabilities, tags, error, outcome "
                                "FROM tracks ORDER BY uri")
        return [Track(uri, valence, arousal, quadrant, json.loads(probabilities or "{}"), json.loads(tags or "{}"),
                      error, outcome) for uri, valence, arousal, quadrant, probabilities, tags, error, outcome in rows]

    def counts(self) -> dict[str, int]:
        counts = {q: 0 for q in QUADRANTS}
        counts["failed"] = 0
        for quadrant, number in self._db.execute("SELECT COALESCE(quadrant, 'failed'), COUNT(*) FROM tracks "
                                                 "GROUP BY 1"):
            counts[quadrant] = number
        return counts

    def outcomes(self) -> dict[str, int]:
        """Tracks without a mood, by outcome ("not analysable: silent", "cannot read", ...)."""
        return dict(self._db.execute("SELECT outcome, COUNT(*) FROM tracks WHERE quadrant IS NULL GROUP BY 1 "
                                     "ORDER BY 2 DESC, 1"))

    def generated(self) -> set[str]:
        return {name for (name,) in self._db.execute("SELECT name FROM generated_playlists")}

    def mark_generated(self, name: str, written: bool) -> None:
        with self._db:
            if written:
                self._db.execute("INSERT OR REPLACE INTO generated_playlists VALUES (?, ?)", (name, time.time()))
            else:
                self._db.execute("DELETE FROM generated_playlists WHERE name = ?", (name,))

    def close(self) -> None:
        self._db.close()


def local_path(uri: str, music_dir: Path) -> Path | None:
    """The file behind an MPD song URI: relative to the music directory, or a ``file://`` URI (Mopidy); ``None``
    for streams and backends without a file (``local:track:…``, ``http://…``)."""
    if uri.startswith("file://"):
        return Path(unquote(urlparse(uri).path))
    if ":" in uri.split("/")[0]:
        return None
    return music_dir / uri


@dataclass
class ScanResult:
    listed: int = 0
    analysed: int = 0
    failed: int = 0
    unchanged: int = 0
    not_files: int = 0
    forgotten: int = 0
    playlists: dict[str, Selection] = field(default_factory=dict)  # name written -> what its rule picked
    kept_owner: list[str] = field(default_factory=list)       # owner's playlists left alone


def analyse(uris: list[str], music_dir: Path, store: LibraryStore, tag: Callable[[Path], TrackMood], model: str,
            result: ScanResult, progress: Callable = lambda items, **_: items) -> None:
    """Tag every listed track whose size or mtime changed since it was last analysed (or never was)."""
    todo = []
    for uri in uris:
        path = local_path(uri, music_dir)
        if path is None:
            result.not_files += 1
            continue
        try:
            stat = path.stat()
        except OSError as err:
            log.warning("%s: cannot read (%s); is library.music_dir MPD's music_directory?", path, err.strerror)
            store.put(uri, -1, -1.0, model, error=f"cannot read {path}: {err.strerror}")
            result.failed += 1
            continue
        if store.is_current(uri, stat.st_size, stat.st_mtime, model):
            result.unchanged += 1
        else:
            todo.append((uri, path, stat))
    for uri, path, stat in progress(todo, desc="tagging", unit="track"):
        try:
            store.put(uri, stat.st_size, stat.st_mtime, model, mood=tag(path))
            result.analysed += 1
        except AudioError as err:
            outcome = err.outcome if isinstance(err, NotAnalysable) else "cannot read"
            store.put(uri, stat.st_size, stat.st_mtime, model, error=str(err), outcome=outcome)
            result.failed += 1


@dataclass
class Selection:
    """What a playlist rule picked: the tracks kept, most typical first, and how many of the rule's quadrants' tracks
    were left out below the confidence floor or beyond ``max_tracks``."""
    quadrants: tuple[str, ...]
    floor: float
    kept: list[str]
    below_floor: int = 0
    over_limit: int = 0

    def as_dict(self) -> dict:
        return {"quadrants": list(self.quadrants), "floor": self.floor, "kept": len(self.kept),
                "below_floor": self.below_floor, "over_limit": self.over_limit}

    def summary(self) -> str:
        text = f"{len(self.kept)} tracks kept"
        left = [f"{self.below_floor} below the confidence floor"] if self.below_floor else []
        left += [f"{self.over_limit} beyond max_tracks"] if self.over_limit else []
        return text + (f"; left out {', '.join(left)}" if left else "")


def confidence(track: Track, quadrants: tuple[str, ...]) -> float:
    """P(the rule's quadrants): the summed probability of the quadrants the rule asks for."""
    return sum(track.probabilities.get(q, 0.0) for q in quadrants)


def floor_for(floors: dict[str, float], quadrants: tuple[str, ...]) -> float:
    """The model's floor for this set of quadrants (``mood.json`` keys them like ``Q3+Q4``); none for all four."""
    return float(floors.get("+".join(sorted(quadrants)), 0.0))


def choose(tracks: list[Track], quadrants: tuple[str, ...], max_tracks: int, floor: float = 0.0) -> Selection:
    """The rule: tracks placed in one of ``quadrants`` whose P(quadrants) reaches ``floor``, most typical (highest
    P(quadrants)) first, at most ``max_tracks``."""
    fitting = [t for t in tracks if t.quadrant in quadrants]
    confident = [t for t in fitting if confidence(t, quadrants) >= floor]
    confident.sort(key=lambda t: (-confidence(t, quadrants), t.uri))
    return Selection(quadrants, floor, [t.uri for t in confident[:max_tracks]], below_floor=len(fitting) -
                     len(confident), over_limit=max(0, len(confident) - max_tracks))


def write_playlists(client, store: LibraryStore, rules: dict[str, tuple[str, ...]], *, prefix: str,
                    max_tracks: int, overwrite_owner: bool, result: ScanResult, floors: dict[str, float]) -> None:
    """Replace each generated playlist with what the rule picks now (with the model's confidence ``floors``);
    leave the owner's playlists alone."""
    existing = {entry["playlist"] for entry in client.listplaylists()}
    ours = store.generated()
    tracks = store.tracks()
    for rule, quadrants in rules.items():
        name = prefix + rule
        if name in existing and name not in ours and not overwrite_owner:
            log.warning("stored playlist %r is not one the scan wrote: left alone (set library.prefix or "
                        "library.overwrite_owner_playlists)", name)
            result.kept_owner.append(name)
            continue
        selection = choose(tracks, quadrants, max_tracks, floor_for(floors, quadrants))
        if selection.kept:  # the intent first: killed after MPD saved it, the next scan still knows it is ours
            store.mark_generated(name, written=True)
        if name in existing or selection.kept:
            client.command_list_ok_begin()  # one round trip, however many tracks
            if name in existing:
                client.rm(name)
            for uri in selection.kept:
                client.playlistadd(name, uri)
            client.command_list_end()
        if not selection.kept:
            store.mark_generated(name, written=False)
        result.playlists[name] = selection
