"""``moodbox library``: tag files, scan MPD's library into mood playlists, and show what the tagger decided.

    moodbox library tag FILE... [--json]     analyse files; one line (or one JSON object) per file
    moodbox library scan [--config PATH]     analyse new/changed tracks MPD lists, write the mood playlists
    moodbox library watch [--config PATH]    scan, then scan again whenever MPD reports a database update
    moodbox library [--explain TRACK]        tracks per quadrant and per playlist (kept, left out and why), or one
                                             track's valence/arousal, tag scores and place in each playlist

Exit codes: 0 done, 1 some files could not be analysed (or the music folder cannot be read: nothing is written),
2 config, 3 model, 4 MPD or library database.
The scan and the watch lower their own priority (library.nice) so that they never starve the camera loop.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path

import mpd

from moodbox.helptext import plain_text
from moodbox.config import DEFAULT_PATH, Config, ConfigError, load_config
from moodbox.config_checks import ConfigNotFound
from moodbox.errors import EXIT_CONFIG, EXIT_FAILURE, EXIT_MODEL, EXIT_MPD
from moodbox.music.library import (DEFAULT_MUSIC_DIR, LibraryError, LibraryStore, ScanResult, analyse, choose,
                                   confidence, floor_for, local_path, write_playlists)
from moodbox.music.tagger import MusicModelError, MusicTagger, load_floors
from moodbox.names import QUADRANT_WORDS, QUADRANTS

LIBRARY_SECTIONS = ("library", "mpd", "state")  # validated strictly; others' errors are warnings
log = logging.getLogger("moodbox.music.library")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="moodbox library", description=plain_text(__doc__),
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default=str(DEFAULT_PATH), help=f"config file (default {DEFAULT_PATH}; "
                        "a missing default file means all defaults)")
    parser.add_argument("--explain", metavar="TRACK", help="a track's URI, path or a unique part of it")
    parser.add_argument("--json", action="store_true", help="print JSON")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    tag = commands.add_parser("tag", help="analyse audio files (mp3, flac, ogg, opus, wav; m4a with ffmpeg)")
    tag.add_argument("files", nargs="+", metavar="FILE")
    tag.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="one JSON object per line")
    tag.add_argument("--model-dir", help="musicnn_msd.tflite + mood.json (default: library.model_dir)")
    tag.add_argument("--config", default=argparse.SUPPRESS, help="config file")
    scan = commands.add_parser("scan", help="analyse MPD's new/changed tracks and write the mood playlists")
    scan.add_argument("--config", default=argparse.SUPPRESS, help="config file")
    scan.add_argument("--no-progress", action="store_true", help="no progress bar")
    watch = commands.add_parser("watch", help="scan now and after every MPD database update (runs until stopped)")
    watch.add_argument("--config", default=argparse.SUPPRESS, help="config file")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="moodbox library: %(message)s", stream=sys.stderr)
    logging.getLogger("mpd").setLevel(logging.WARNING)  # python-mpd2's "Calling MPD connect(...)" on every connect
    try:
        config = _config(args.config)
        if args.command == "tag":
            return tag_files(args.files, MusicTagger(args.model_dir or config.library.model_dir,
                                                     config.library.threads), as_json=args.json)
        if args.command == "scan":
            return scan_library(config, progress=not args.no_progress)
        if args.command == "watch":
            return watch_library(config)
        return show(config, args.explain, as_json=args.json)
    except ConfigError as err:
        print(f"moodbox library: {err}", file=sys.stderr)
        return EXIT_CONFIG
    except MusicModelError as err:
        print(f"moodbox library: {err}", file=sys.stderr)
        return EXIT_MODEL
    except LibraryError as err:
        print(f"moodbox library: {err}", file=sys.stderr)
        return EXIT_MPD
    except (mpd.MPDError, OSError) as err:
        print(f"moodbox library: MPD ({config.mpd.host}) failed: {err}", file=sys.stderr)
        return EXIT_MPD
    except KeyboardInterrupt:
        print("moodbox library: stopped; what was analysed is kept and the next scan goes on from there",
              file=sys.stderr)
        return 130


def _config(path: str) -> Config:
    try:
        return load_config(path, own=LIBRARY_SECTIONS)
    except ConfigNotFound:
        if path == str(DEFAULT_PATH):
            return Config()  # no config file on a desktop: all defaults
        raise


def tag_files(files: list[str], tagger: MusicTagger, *, as_json: bool) -> int:
    from moodbox.music.audio import AudioError, NotAnalysable

    status = 0
    for name in files:
        try:
            mood = tagger.tag(name)
        except AudioError as err:
            status = 1
            outcome = err.outcome if isinstance(err, NotAnalysable) else "cannot read"
            print(json.dumps({"path": name, "outcome": outcome, "error": str(err)}) if as_json else f"{err}",
                  flush=True)
            continue
        if as_json:
            print(json.dumps({"path": name, **mood.as_dict()}), flush=True)
        else:
            print(f"{name}: {mood.quadrant} ({QUADRANT_WORDS[mood.quadrant]}) valence {mood.valence:+.2f} "
                  f"arousal {mood.arousal:+.2f}", flush=True)
    return status


def _store(config: Config) -> LibraryStore:
    return LibraryStore(Path(config.state.dir) / "library.db")


def _connect(config: Config) -> mpd.MPDClient:
    client = mpd.MPDClient()
    client.timeout = config.mpd.timeout_s
    try:
        if config.mpd.host.startswith("/"):
            client.connect(config.mpd.host)
        else:
            client.connect(config.mpd.host, config.mpd.port)
    except (OSError, mpd.ConnectionError) as err:
        where = config.mpd.host if config.mpd.host.startswith("/") else f"{config.mpd.host}:{config.mpd.port}"
        raise LibraryError(f"cannot connect to MPD at {where} (mpd.host / mpd.port): {err}") from None
    return client


def _music_dir(config: Config, client) -> tuple[Path, str]:
    """The music folder and where it was named: library.music_dir, else MPD's music_directory, else Debian's."""
    if config.library.music_dir:
        return Path(config.library.music_dir), "library.music_dir"
    try:  # MPD answers `config` only over its local socket
        return Path(client.config()), "MPD's music_directory"
    except mpd.CommandError:
        return Path(DEFAULT_MUSIC_DIR), "the default; set library.music_dir"


def _unreadable(music_dir: Path) -> str | None:
    """Why this process cannot read the music folder, or None when it can."""
    try:
        if not music_dir.is_dir():
            return "it does not exist" if not music_dir.exists() else "it is not a folder"
        next(os.scandir(music_dir), None)
    except OSError as err:
        return err.strerror
    return None


def scan_library(config: Config, *, progress: bool = True) -> int:
    """Lower priority, list MPD's files, tag what changed, write the playlists; print a summary."""
    from tqdm import tqdm


    if os.getpriority(os.PRIO_PROCESS, 0) < config.library.nice:
        try:
            os.setpriority(os.PRIO_PROCESS, 0, config.library.nice)
        except OSError as err:  # e.g. a seccomp filter; the unit already sets Nice=
            log.warning("cannot lower the scan's priority: %s", err)
    tagger = MusicTagger(config.library.model_dir, config.library.threads)
    store = _store(config)
    result = ScanResult()
    client = _connect(config)  # MPD drops idle clients after a minute: one connection to list, one to write
    try:
        music_dir, named_by = _music_dir(config, client)
        uris = [entry["file"] for entry in client.listall() if "file" in entry]
    finally:
        client.disconnect()
    why = _unreadable(music_dir)
    if why is not None and any(local_path(uri, music_dir) is not None for uri in uris):
        import pwd
        user = pwd.getpwuid(os.geteuid()).pw_name
        print(f"moodbox library: the music folder {music_dir} ({named_by}) cannot be read by user {user}: {why}. "
              "Nothing was analysed and no playlist was changed: give that user read access, or run the scan as "
              "a user who can read it", file=sys.stderr)
        store.close()
        return EXIT_FAILURE
    result.listed = len(uris)
    log.info("%d tracks listed by MPD; music directory %s", len(uris), music_dir)
    analyse(uris, music_dir, store, tagger.tag, tagger.version, result,
            progress=lambda items, **kw: tqdm(items, disable=not progress or None, **kw))
    result.forgotten = store.forget_except(uris)
    client = _connect(config)
    try:
        write_playlists(client, store, dict(config.library.playlists), prefix=config.library.prefix,
                        max_tracks=config.library.max_tracks,
                        overwrite_owner=config.library.overwrite_owner_playlists, result=result,
                        floors=tagger.floors)
    finally:
        client.disconnect()
        store.close()
    print(f"analysed {result.analysed}, unchanged {result.unchanged}, failed {result.failed}, "
          f"not files {result.not_files}, forgotten {result.forgotten}")
    for name, selection in result.playlists.items():
        print(f"playlist {name} ({'+'.join(selection.quadrants)}, floor {selection.floor:.2f}): {selection.summary()}")
    for name in result.kept_owner:
        print(f"playlist {name}: the owner's own, left alone")
    if result.failed:
        print(f"moodbox library: {result.failed} track(s) could not be analysed (`moodbox library` counts them; "
              "`--explain TRACK` says why)", file=sys.stderr)
    return EXIT_FAILURE if result.failed else 0


def watch_library(config: Config, retry_s: float = 30.0) -> int:
    """Scan, then wait in MPD's ``idle database`` and scan after each library update; MPD going away is waited
    out (retried every ``retry_s``), everything else ends the watch with its exit code."""
    while True:
        try:
            scan_library(config, progress=False)
            client = _connect(config)
            client.timeout = None  # idle blocks until MPD has news
            try:
                client.idle("database")
                while "updating_db" in client.status():  # the update is announced when it finishes
                    client.idle("database", "update")
            finally:
                client.disconnect()
        except (LibraryError, mpd.ConnectionError, ConnectionError) as err:
            log.warning("%s; retrying in %g s", err, retry_s)
            time.sleep(retry_s)


def show(config: Config, explain: str | None, *, as_json: bool) -> int:
    """Counts per quadrant, per outcome and per playlist rule; or, with ``explain``, one track in full."""
    floors = load_floors(config.library.model_dir)
    rules = {config.library.prefix + name: quadrants for name, quadrants in config.library.playlists.items()}
    store = _store(config)
    try:
        tracks = store.tracks()
        if explain is None:
            return _show_counts(store.counts(), store.outcomes(), tracks, rules, floors, config.library.max_tracks,
                                as_json)
        matches = [t for t in tracks if t.uri == explain] or [t for t in tracks if explain in t.uri]
        if len(matches) != 1:
            names = ", ".join(t.uri for t in matches[:5])
            print(f"moodbox library: {len(matches)} tracks match {explain!r}" + (f": {names}" if names else
                  " (run `moodbox library scan` first?)"), file=sys.stderr)
            return 1
        _explain(matches[0], tracks, rules, floors, config.library.max_tracks, as_json)
        return 0
    finally:
        store.close()


def _show_counts(counts, outcomes, tracks, rules, floors, max_tracks, as_json) -> int:
    selections = {name: choose(tracks, quadrants, max_tracks, floor_for(floors, quadrants))
                  for name, quadrants in rules.items()}
    if as_json:
        print(json.dumps({**counts, "not_analysable": outcomes,
                          "playlists": {name: selection.as_dict() for name, selection in selections.items()}}))
        return 0
    for quadrant in QUADRANTS:
        print(f"{quadrant} ({QUADRANT_WORDS[quadrant]}): {counts[quadrant]} tracks")
    print(f"not analysable: {counts['failed']} tracks" + (" (" + ", ".join(
        f"{outcome.removeprefix('not analysable: ')} {number}" for outcome, number in outcomes.items()) + ")"
        if outcomes else ""))
    print("playlists (a track joins when its quadrant is one of the playlist's and the summed probability of those "
          "quadrants reaches the floor):")
    for name, selection in selections.items():
        print(f"  {name} ({'+'.join(selection.quadrants)}, floor {selection.floor:.2f}): {selection.summary()}")
    return 0


def _explain(track, tracks, rules, floors, max_tracks, as_json) -> None:
    """One track: its mood, its top tags, and for each playlist rule whether it is in and why."""
    places = {}
    for name, quadrants in rules.items():
        floor = floor_for(floors, quadrants)
        if track.quadrant is None:
            places[name] = {"in": False, "why": track.outcome or "not analysable"}
            continue
        p, inside = confidence(track, quadrants), track.uri in choose(tracks, quadrants, max_tracks, floor).kept
        if track.quadrant not in quadrants:
            why = f"its quadrant {track.quadrant} is not one of {'+'.join(quadrants)}"
        elif p < floor:
            why = f"P({'+'.join(quadrants)}) {p:.2f} is below the floor {floor:.2f}"
        elif not inside:
            why = f"P({'+'.join(quadrants)}) {p:.2f} reaches the floor {floor:.2f}, but {max_tracks} more typical " \
                  "tracks fill the playlist (library.max_tracks)"
        else:
            why = f"P({'+'.join(quadrants)}) {p:.2f} reaches the floor {floor:.2f}"
        places[name] = {"in": inside, "why": why}
    top = dict(sorted(track.tags.items(), key=lambda item: -item[1])[:10])
    if as_json:
        print(json.dumps({"uri": track.uri, "valence": track.valence, "arousal": track.arousal,
                          "quadrant": track.quadrant, "probabilities": track.probabilities, "tags": top,
                          "outcome": track.outcome, "error": track.error, "playlists": places}))
        return
    if track.quadrant is None:
        print(f"{track.uri}: {track.outcome or 'not analysable'}: {track.error}\n  in no playlist")
        return
    print(f"{track.uri}\n  quadrant {track.quadrant} ({QUADRANT_WORDS[track.quadrant]})\n"
          f"  valence {track.valence:+.2f}  arousal {track.arousal:+.2f}\n  probabilities "
          + "  ".join(f"{q} {p:.2f}" for q, p in track.probabilities.items())
          + "\n  tags " + ", ".join(f"{name} {score:.2f}" for name, score in top.items()))
    for name, place in places.items():
        print(f"  {name}: {'in' if place['in'] else 'out'}: {place['why']}")
