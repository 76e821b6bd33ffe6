"""The library scan against a real MPD with a small sox-made library, and the store and rule it relies on."""

import json
import os
import subprocess
import sys
import time

import pytest

from moodbox.devkit.mpdserver import PrivateMPD
from moodbox.music.audio import AudioError
from moodbox.music.library import LibraryStore, ScanResult, Track, analyse, choose, floor_for, local_path
from moodbox.music.tagger import DEFAULT_MODEL_DIR, TrackMood

RULES = {"upbeat": ["Q1"], "calm": ["Q3", "Q4"], "calming": ["Q4"], "everyday": ["Q1", "Q4"]}


def mood(quadrant: str, p: float = 0.7) -> TrackMood:
    rest = (1 - p) / 3
    return TrackMood(valence=0.5, arousal=0.5, quadrant=quadrant,
                     probabilities={q: p if q == quadrant else rest for q in ("Q1", "Q2", "Q3", "Q4")},
                     tags={"rock": 0.5}, patches=1)


# ---- the rule, the store, resuming (fakes for the tagger: no audio needed) ----

def test_rule_takes_the_rule_quadrants_most_typical_first_up_to_the_limit():
    tracks = [Track(f"{q}-{p}", 0, 0, q, {q: p}, {}, None) for q, p in
              [("Q1", 0.5), ("Q1", 0.9), ("Q4", 0.8), ("Q2", 0.99)]] + [Track("bad", None, None, None, {}, {}, "x")]
    assert choose(tracks, ("Q1",), 10).kept == ["Q1-0.9", "Q1-0.5"]
    picked = choose(tracks, ("Q1", "Q4"), 2)
    assert picked.kept == ["Q1-0.9", "Q4-0.8"] and (picked.below_floor, picked.over_limit) == (0, 1)
    assert choose(tracks, ("Q3",), 10).kept == []


def test_the_floor_leaves_out_unsure_tracks_and_counts_them():
    tracks = [Track("sure", 0, 0, "Q4", {"Q3": 0.1, "Q4": 0.85}, {}, None),
              Track("unsure", 0, 0, "Q4", {"Q3": 0.4, "Q4": 0.5}, {}, None),
              Track("sad", 0, 0, "Q3", {"Q3": 0.6, "Q4": 0.35}, {}, None)]
    calming = choose(tracks, ("Q4",), 10, floor=0.7)
    assert calming.kept == ["sure"] and calming.below_floor == 1
    assert "1 tracks kept; left out 1 below the confidence floor" == calming.summary()
    calm = choose(tracks, ("Q3", "Q4"), 10, floor=floor_for({"Q3+Q4": 0.92}, ("Q4", "Q3")))
    assert calm.kept == ["sad", "sure"] and calm.below_floor == 1, "P(Q3) + P(Q4) is what the calm playlist asks"
    assert floor_for({}, ("Q1", "Q2", "Q3", "Q4")) == 0.0


def test_local_paths_for_mpd_and_mopidy_uris(tmp_path):
    assert local_path("a/b c.ogg", tmp_path) == tmp_path / "a" / "b c.ogg"
    assert local_path("file:///music/b%20c.ogg", tmp_path).as_posix() == "/music/b c.ogg"
    assert local_path("local:track:a.ogg", tmp_path) is None
    assert local_path("http://radio/stream", tmp_path) is None


def test_an_interrupted_scan_resumes_with_the_tracks_not_yet_done(tmp_path):
    for name in "abcd":
        (tmp_path / f"{name}.ogg").write_bytes(name.encode())
    store = LibraryStore(tmp_path / "library.db")
    calls = []

    def stop_after_two(path):
        if len(calls) == 2:
            raise KeyboardInterrupt
        calls.append(path.name)
        return mood("Q1")

    with pytest.raises(KeyboardInterrupt):
        analyse(["a.ogg", "b.ogg", "c.ogg", "d.ogg"], tmp_path, store, stop_after_two, "m1", ScanResult())
    store.close()
    store, calls = LibraryStore(tmp_path / "library.db"), []
    result = ScanResult()
    analyse(["a.ogg", "b.ogg", "c.ogg", "d.ogg"], tmp_path, store, lambda p: calls.append(p.name) or mood("Q4"),
            "m1", result)
    assert calls == ["c.ogg", "d.ogg"] and (result.analysed, result.unchanged) == (2, 2)
    (tmp_path / "a.ogg").write_bytes(b"changed, longer")
    result = ScanResult()
    analyse(["a.ogg", "b.ogg", "c.ogg", "d.ogg"], tmp_path, store, lambda p: mood("Q2"), "m1", result)
    assert result.analysed == 1, "a changed size re-analyses only that track"
    result = ScanResult()
    analyse(["a.ogg", "b.ogg"], tmp_path, store, lambda p: mood("Q2"), "m2", result)
    assert result.analysed == 2, "a new model re-analyses"
    assert store.forget_except(["a.ogg", "b.ogg"]) == 2
    assert store.counts() == {"Q1": 0, "Q2": 2, "Q3": 0, "Q4": 0, "failed": 0}


def test_undecodable_tracks_are_kept_as_failed_and_not_retried(tmp_path):
    (tmp_path / "x.ogg").write_bytes(b"x")
    store = LibraryStore(tmp_path / "library.db")

    def fail(path):
        raise AudioError(f"{path}: cannot decode audio")

    result = ScanResult()
    analyse(["x.ogg", "gone.ogg"], tmp_path, store, fail, "m", result)
    assert result.failed == 2 and store.counts()["failed"] == 2
    analyse(["x.ogg"], tmp_path, store, fail, "m", result := ScanResult())
    assert result.unchanged == 1


def test_a_store_that_cannot_be_opened_names_the_file(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(Exception, match="library.db"):
        LibraryStore(tmp_path / "file" / "library.db")


# ---- the real thing: moodbox library scan against a private MPD ----

@pytest.fixture
def mpd_small(tmp_path):
    server = PrivateMPD(tmp_path / "mpd", tracks_per_mood=2, track_seconds=12)
    server.start()
    yield server
    server.close()


def config_file(tmp_path, server, **library) -> str:
    lines = ["[mpd]", f'host = "{server.socket_path}"', "timeout_s = 5.0", "[state]", f'dir = "{tmp_path / "state"}"',
             "[library]", *(f"{key} = {json.dumps(value)}" for key, value in library.items())]
    path = tmp_path / "moodbox.toml"
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def library(*args, check=True):
    result = subprocess.run([sys.executable, "-m", "moodbox", "library", *args], capture_output=True, text=True,
                            timeout=300)
    assert not check or result.returncode == 0, result.stderr
    return result


def playlists(client) -> dict[str, list[str]]:
    return {entry["playlist"]: client.listplaylist(entry["playlist"]) for entry in client.listplaylists()}


def wait_for_update(client):
    client.update()
    deadline = time.monotonic() + 20
    while "updating_db" in client.status() and time.monotonic() < deadline:
        time.sleep(0.05)


def floors() -> dict:
    return json.loads((DEFAULT_MODEL_DIR / "mood.json").read_text())["floors"]["by_quadrants"]


def test_scan_writes_mood_playlists_with_the_floor_caches_and_picks_up_added_tracks(tmp_path, mpd_small):
    config = config_file(tmp_path, mpd_small)
    client = mpd_small.client()
    owners = playlists(client)
    assert set(owners) == {"upbeat", "calm", "calming", "everyday"}

    first = library("scan", "--config", config, "--no-progress")
    assert "analysed 8, unchanged 0, failed 0" in first.stdout
    counts = json.loads(library("--config", config, "--json").stdout)
    assert sum(counts[q] for q in ("Q1", "Q2", "Q3", "Q4")) == 8
    explained = {uri: json.loads(library("--config", config, "--json", "--explain", uri).stdout)
                 for uri in (entry["file"] for entry in client.listall() if "file" in entry)}
    now = playlists(client)
    for name, owned in owners.items():
        assert now[name] == owned, f"the owner's playlist {name} was changed"
    for rule, quadrants in RULES.items():
        floor = floors().get("+".join(sorted(quadrants)), 0.0)
        fitting = {uri for uri, track in explained.items() if track["quadrant"] in quadrants}
        expected = {uri for uri in fitting if sum(explained[uri]["probabilities"][q] for q in quadrants) >= floor}
        assert set(now.get("auto-" + rule, [])) == expected, rule
        assert counts["playlists"]["auto-" + rule] == {"quadrants": quadrants, "floor": floor,
                                                       "kept": len(expected), "below_floor": len(fitting - expected),
                                                       "over_limit": 0}
        assert f"playlist auto-{rule} ({'+'.join(quadrants)}, floor {floor:.2f}): {len(expected)} tracks kept" \
            in first.stdout
        for uri, track in explained.items():
            assert track["playlists"]["auto-" + rule]["in"] == (uri in expected), (rule, uri)
    shown = library("--config", config).stdout
    assert "auto-calming (Q4, floor" in shown and "not analysable: 0 tracks" in shown

    second = library("scan", "--config", config, "--no-progress")
    assert "analysed 0, unchanged 8" in second.stdout

    added = mpd_small.music_dir / "new"
    added.mkdir()
    subprocess.run(["sox", "-n", "-r", "16000", "-c", "1", str(added / "chord.ogg"), "synth", "12", "sawtooth",
                    "196", "tremolo", "3", "50", "vol", "0.4"], check=True)
    subprocess.run(["sox", "-n", "-r", "16000", "-c", "1", str(added / "noise.ogg"), "synth", "12", "whitenoise",
                    "vol", "0.5"], check=True)
    wait_for_update(client)
    third = library("scan", "--config", config, "--no-progress", check=False)
    assert third.returncode == 1 and "analysed 1, unchanged 8, failed 1" in third.stdout  # the noise: exit 1
    chord = json.loads(library("--config", config, "--json", "--explain", "new/chord").stdout)
    assert chord["uri"] == "new/chord.ogg" and -1 <= chord["valence"] <= 1 and len(chord["tags"]) == 10
    placed = playlists(client)
    for rule in RULES:
        assert ("new/chord.ogg" in placed.get("auto-" + rule, [])) == chord["playlists"]["auto-" + rule]["in"]
    text = library("--config", config, "--explain", "new/chord").stdout
    assert "valence" in text and "tags" in text and "auto-calming: " in text
    noise = json.loads(library("--config", config, "--json", "--explain", "new/noise").stdout)
    assert noise["quadrant"] is None and noise["outcome"] == "not analysable: noise"
    assert all(not place["in"] for place in noise["playlists"].values())
    assert all("new/noise.ogg" not in tracks for tracks in playlists(client).values())
    assert "not analysable: 1 tracks (noise 1)" in library("--config", config).stdout
    client.disconnect()


def test_bad_audio_in_the_library_is_named_and_joins_no_playlist(tmp_path, mpd_small):
    """Silence, a 1 s clip, NaN samples and a text file named .mp3 in MPD's library: a scan, `library` and
    `--explain` (plain and JSON) name each outcome and never crash."""
    import numpy as np
    import soundfile

    bad = mpd_small.music_dir / "bad"
    bad.mkdir()
    subprocess.run(["sox", "-n", "-r", "16000", "-c", "1", str(bad / "silence.ogg"), "synth", "30", "sine", "440",
                    "vol", "0"], check=True)
    subprocess.run(["sox", "-n", "-r", "16000", "-c", "1", str(bad / "short.ogg"), "synth", "1", "sine", "440"],
                   check=True)
    samples = np.full(16000 * 20, np.nan, np.float32)
    soundfile.write(str(bad / "nan.wav"), samples, 16000, subtype="FLOAT")
    (bad / "notes.mp3").write_text("not a song\n" * 50)
    client = mpd_small.client()
    wait_for_update(client)
    config = config_file(tmp_path, mpd_small)
    scan = library("scan", "--config", config, "--no-progress", check=False)
    assert scan.returncode == 1  # tracks that could not be analysed (issue 25 item 13)
    listed = {entry["file"] for entry in client.listall() if "file" in entry}
    expected = {"bad/silence.ogg": "silent", "bad/short.ogg": "too short", "bad/nan.wav": "invalid samples",
                "bad/notes.mp3": "cannot decode"}
    present = {uri: reason for uri, reason in expected.items() if uri in listed}  # MPD may skip what it can't read
    assert {"bad/silence.ogg", "bad/short.ogg", "bad/nan.wav"} <= set(present)
    assert f"failed {len(present)}" in scan.stdout
    for uri, reason in present.items():
        explained = json.loads(library("--config", config, "--json", "--explain", uri).stdout)
        assert explained["outcome"] == f"not analysable: {reason}" and explained["quadrant"] is None
        assert library("--config", config, "--explain", uri).stdout.startswith(f"{uri}: not analysable: {reason}")
    assert not set(present) & {uri for tracks in playlists(client).values() for uri in tracks}
    counts = json.loads(library("--config", config, "--json").stdout)
    assert counts["failed"] == len(present) and sum(counts["not_analysable"].values()) == len(present)
    client.disconnect()


def test_owner_playlists_with_the_plain_names_are_left_alone_unless_allowed(tmp_path, mpd_small):
    client = mpd_small.client()
    owners = playlists(client)
    plain = library("scan", "--config", config_file(tmp_path, mpd_small, prefix=""), "--no-progress")
    assert "upbeat: the owner's own, left alone" in plain.stdout
    assert playlists(client) == owners
    allowed = library("scan", "--config", config_file(tmp_path, mpd_small, prefix="", overwrite_owner_playlists=True,
                                                      max_tracks=1), "--no-progress")
    assert "left alone" not in allowed.stdout
    assert all(len(tracks) <= 1 for tracks in playlists(client).values())
    client.disconnect()


def test_watch_scans_at_start_and_after_each_database_update(tmp_path, mpd_small):
    config = config_file(tmp_path, mpd_small)
    log = open(tmp_path / "watch.out", "w+")
    watch = subprocess.Popen([sys.executable, "-m", "moodbox", "library", "watch", "--config", config],
                             stdout=log, stderr=subprocess.STDOUT, text=True)
    try:
        client = mpd_small.client()
        assert wait_until(lambda: "analysed 8" in (tmp_path / "watch.out").read_text(), 240), log_text(tmp_path)
        added = mpd_small.music_dir / "late.ogg"
        subprocess.run(["sox", "-n", "-r", "16000", "-c", "1", str(added), "synth", "12", "sine", "300"], check=True)
        client.update()
        assert wait_until(lambda: "analysed 1, unchanged 8" in (tmp_path / "watch.out").read_text(), 240), \
            log_text(tmp_path)
        assert os.getpriority(os.PRIO_PROCESS, watch.pid) >= 10
        client.disconnect()
    finally:
        watch.terminate()
        watch.wait(10)
        log.close()


def log_text(tmp_path):
    return (tmp_path / "watch.out").read_text()


def wait_until(predicate, timeout_s):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_scan_without_mpd_exits_4_naming_the_address(tmp_path):
    config = tmp_path / "moodbox.toml"
    config.write_text(f'[mpd]\nhost = "{tmp_path / "no.sock"}"\n[state]\ndir = "{tmp_path}"\n')
    result = library("scan", "--config", str(config), check=False)
    assert result.returncode == 4 and "no.sock" in result.stderr


def test_unknown_track_to_explain_exits_1(tmp_path):
    config = tmp_path / "moodbox.toml"
    config.write_text(f'[state]\ndir = "{tmp_path}"\n')
    result = library("--config", str(config), "--explain", "nothing", check=False)
    assert result.returncode == 1 and "0 tracks match" in result.stderr


def test_a_scan_killed_after_mpd_saved_a_playlist_repairs_it_next_time(tmp_path, mpd_small):
    """Issue 25 item 10: killed between MPD saving auto-upbeat and library.db recording it, the scan froze the
    playlist for ever as "the owner's own". The intent is recorded first, so the next scan rewrites it."""
    from moodbox.music.library import ScanResult, write_playlists

    client = mpd_small.client()
    files = sorted(entry["file"] for entry in client.listall() if "file" in entry)
    store = LibraryStore(tmp_path / "library.db")
    for number, uri in enumerate(files):
        store.put(uri, 1, 1.0, "v1", mood=mood("Q1" if number % 2 else "Q4"))

    class KilledAfterTheFirstSave:
        def __getattr__(self, name):
            return getattr(client, name)

        def command_list_end(self):
            client.command_list_end()
            raise SystemExit("killed")  # as `kill -9` right after MPD saved the playlist

    with pytest.raises(SystemExit):
        write_playlists(KilledAfterTheFirstSave(), store, {"upbeat": ("Q1",)}, prefix="auto-", max_tracks=1,
                        overwrite_owner=False, result=ScanResult(), floors={})
    assert len(client.listplaylist("auto-upbeat")) == 1
    result = ScanResult()
    write_playlists(client, store, {"upbeat": ("Q1",)}, prefix="auto-", max_tracks=10, overwrite_owner=False,
                    result=result, floors={})
    assert result.kept_owner == [] and list(result.playlists) == ["auto-upbeat"]
    assert len(result.playlists["auto-upbeat"].kept) == len(files) // 2
    assert len(client.listplaylist("auto-upbeat")) == len(files) // 2
    store.close()
    client.disconnect()


def test_a_scan_with_failed_tracks_exits_1_and_an_unreadable_music_folder_is_named(tmp_path, mpd_small):
    """Issue 25 item 13: `library scan` exited 0 when tracks failed (its doc says 1), and a music folder the scan
    cannot read failed every track and exited 0 without saying which folder."""
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(mpd_small.music_dir, copy)
    gone = sorted(copy.rglob("*.ogg"))[0]
    gone.unlink()
    partly = library("scan", "--config", config_file(tmp_path, mpd_small, music_dir=str(copy)), "--no-progress",
                     check=False)
    assert partly.returncode == 1 and "failed 1" in partly.stdout and "1 track(s) could not be analysed" in \
        partly.stderr
    assert "Calling MPD" not in partly.stderr  # item 6: python-mpd2's connect lines stay out of the journal
    client = mpd_small.client()
    before = playlists(client)
    missing = tmp_path / "not-mounted"
    unreadable = library("scan", "--config", config_file(tmp_path, mpd_small, music_dir=str(missing)),
                         "--no-progress", check=False)
    assert unreadable.returncode == 1
    assert f"the music folder {missing} (library.music_dir) cannot be read by user" in unreadable.stderr
    assert "it does not exist" in unreadable.stderr and playlists(client) == before  # nothing emptied
    client.disconnect()
