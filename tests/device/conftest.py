"""Fixtures for the device tests: a real private MPD server per test over a library synthesised once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from moodbox.mpdserver import PrivateMPD, build_library


@pytest.fixture(scope="session")
def music_library(tmp_path_factory) -> tuple[Path, Path, dict[str, list[str]]]:
    """(music dir, playlists dir, playlist -> tracks): sox-made tagged tracks, 3 per mood playlist, 30 s each."""
    root = tmp_path_factory.mktemp("library")
    tracks = build_library(root / "music", root / "playlists", tracks_per_mood=3, seconds=30)
    return root / "music", root / "playlists", tracks


@pytest.fixture
def mpd_server(music_library, tmp_path):
    """A real MPD on a Unix socket with its own copy of the mood playlists; stopped after the test."""
    music_dir, playlists_dir, _ = music_library
    server = PrivateMPD(tmp_path / "mpd", music_dir=music_dir, playlists_dir=playlists_dir)
    server.start()
    yield server
    server.close()


@pytest.fixture
def mpd_client(mpd_server):
    """A second, independent connection for the test to look at what MPD really does."""
    client = mpd_server.client()
    yield client
    try:
        client.disconnect()
    except OSError:
        pass
