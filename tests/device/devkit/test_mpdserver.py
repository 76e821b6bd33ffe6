"""The private MPD server and its synthesised library."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from moodbox.devkit import mpdserver
from moodbox.devkit.mpdserver import LIBRARY_MOODS, MPDServerError, PrivateMPD


def test_library_tracks_are_tagged_per_mood_and_playlists_exist(mpd_client, music_library):
    _, playlists_dir, tracks = music_library
    assert {p["playlist"] for p in mpd_client.listplaylists()} == set(LIBRARY_MOODS)
    for name, (genre, _, _) in LIBRARY_MOODS.items():
        songs = mpd_client.find("genre", genre)
        assert sorted(s["file"] for s in songs) == sorted(tracks[name])
        assert all(s["artist"] == f"moodbox {name}" and s["title"].startswith(name.title()) for s in songs)
        assert (playlists_dir / f"{name}.m3u").read_text().split() == tracks[name]
    assert int(mpd_client.stats()["db_playtime"]) == 30 * len(LIBRARY_MOODS) * 3


def test_mpd_listens_only_on_its_unix_socket(mpd_server):
    assert "bind_to_address \"/" in mpd_server.conf_path.read_text()
    assert 'type "null"' in mpd_server.conf_path.read_text()
    listening = subprocess.run(["ss", "-Hltnp"], capture_output=True, text=True)
    if listening.returncode == 0:
        assert f"pid={mpd_server.pid}," not in listening.stdout


def test_plays_in_real_time_on_the_null_output(mpd_client):
    mpd_client.load("calm")
    mpd_client.play(0)
    assert mpd_client.status()["state"] == "play"
    assert float(mpd_client.status().get("elapsed", 0)) < 30


def test_kill_and_restart(mpd_server):
    pid = mpd_server.pid
    mpd_server.kill()
    assert not mpd_server.running
    with pytest.raises(OSError):
        mpd_server.client()
    mpd_server.start()
    assert mpd_server.running and mpd_server.pid != pid
    client = mpd_server.client()
    assert len(client.listplaylists()) == len(LIBRARY_MOODS)
    client.disconnect()
    mpd_server.restart()
    assert mpd_server.running


def test_own_library_and_cleanup(tmp_path):
    with PrivateMPD(tracks_per_mood=1, track_seconds=2) as server:
        root = server.root
        client = server.client()
        assert int(client.stats()["songs"]) == len(LIBRARY_MOODS)
        client.disconnect()
    assert not root.exists()


def test_missing_programs_name_the_apt_packages(monkeypatch, tmp_path):
    monkeypatch.setattr(mpdserver.shutil, "which", lambda name: None)
    with pytest.raises(MPDServerError, match="'sox' is not installed; .*apt-get install .*mpd .*sox libsox-fmt-base"):
        mpdserver.build_library(tmp_path / "m", tmp_path / "p")


def test_mpd_ends_when_its_parent_is_killed(tmp_path, music_library):
    """A demo or test killed with SIGKILL leaves no private MPD running."""
    music_dir, playlists_dir, _ = music_library
    script = (f"from moodbox.devkit.mpdserver import PrivateMPD; import time; "
              f"s = PrivateMPD({str(tmp_path / 'mpd')!r}, music_dir={str(music_dir)!r}).start(); "
              f"print(s.pid, flush=True); time.sleep(60)")
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    mpd_pid = int(parent.stdout.readline())
    assert Path(f"/proc/{mpd_pid}").exists()
    parent.kill()
    parent.wait()
    deadline = time.monotonic() + 10
    while Path(f"/proc/{mpd_pid}").exists() and time.monotonic() < deadline:
        if Path(f"/proc/{mpd_pid}/stat").read_text().split(") ")[1].startswith("Z"):
            break  # a zombie waiting for init to reap it: it has ended
        time.sleep(0.05)
    assert not Path(f"/proc/{mpd_pid}").exists() or \
        Path(f"/proc/{mpd_pid}/stat").read_text().split(") ")[1].startswith("Z")
