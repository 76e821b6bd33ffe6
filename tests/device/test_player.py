"""The player against a real MPD server: switching modes, skip, pause, reconnecting after MPD dies."""

from __future__ import annotations

import logging

import pytest

from moodbox.player import Player, PlayerUnavailable, PlaylistUnavailable

from device_support import wait_until


class RecordingStore:
    """Stands in for FeedbackStore's record_play (our own code), keeping what the player recorded."""

    def __init__(self):
        self.plays = []

    def record_play(self, *, track, playlist, mood, reason, at=None):
        self.plays.append({"track": track, "playlist": playlist, "mood": mood, "reason": reason})
        return len(self.plays)


def queue_files(client) -> list[str]:
    return [song["file"] for song in client.playlistinfo()]


def test_check_playlists_names_the_missing_ones(mpd_server):
    player = Player(mpd_server.socket_path)
    assert player.check_playlists(["upbeat", "calm", "party", "calming", "jazz"]) == ["party", "jazz"]
    assert player.playlist_length("upbeat") == 3
    assert player.playlist_length("party") == 0


def test_switch_now_clears_and_plays_the_playlist(mpd_server, mpd_client, music_library):
    store = RecordingStore()
    player = Player(mpd_server.socket_path, store=store)
    assert player.switch_to("calm", "now", mood="sad")
    assert mpd_client.status()["state"] == "play"
    assert sorted(queue_files(mpd_client)) == sorted(music_library[2]["calm"])
    state = player.poll()
    assert state.playlist == "calm" and state.track.startswith("calm/") and "Calm" in state.title
    assert store.plays == [{"track": state.track, "playlist": "calm", "mood": "sad", "reason": "mood"}]

    assert player.switch_to("upbeat", "now", mood="happy")
    assert sorted(queue_files(mpd_client)) == sorted(music_library[2]["upbeat"])
    assert player.poll().track.startswith("upbeat/")


def test_a_playlist_deleted_while_running_is_refused_and_the_music_keeps_playing(mpd_server, mpd_client):
    player = Player(mpd_server.socket_path)
    assert player.switch_to("upbeat", "now", mood="happy")
    queue = queue_files(mpd_client)
    mpd_client.rm("calm")
    for mode in ("now", "after_current"):
        with pytest.raises(PlaylistUnavailable, match="cannot load playlist calm") as err:
            player.switch_to("calm", mode, mood="sad")
        assert err.value.playlist == "calm"
        assert player.playlist is None  # so that the daemon's next choice is not taken for the current one
        assert queue_files(mpd_client) == queue and mpd_client.status()["state"] == "play"


def test_switching_turns_off_random_single_and_consume(mpd_server, mpd_client):
    """Set by a listener with mpc, they would defeat "after current song" switching (or stop, or eat the queue)."""
    player = Player(mpd_server.socket_path, shuffle=False)
    player.switch_to("calm", "now", mood="sad")
    for command in ("random", "single", "consume"):
        getattr(mpd_client, command)(1)
    assert player.switch_to("upbeat", "after_current", mood="happy")
    status = mpd_client.status()
    assert (status["random"], status["single"], status["consume"], status["repeat"]) == ("0", "0", "0", "1")
    playing = mpd_client.currentsong()["file"]
    assert queue_files(mpd_client)[int(status["song"]) + 1:] == [f"upbeat/upbeat-0{n}.ogg" for n in (1, 2, 3)]
    assert playing.startswith("calm/")


def test_switch_after_current_keeps_the_song_and_replaces_what_follows(mpd_server, mpd_client, music_library):
    player = Player(mpd_server.socket_path, store=RecordingStore())
    player.switch_to("calm", "now", mood="sad")
    playing = mpd_client.currentsong()["file"]

    assert player.switch_to("upbeat", "after_current", mood="happy")
    assert mpd_client.currentsong()["file"] == playing  # the song was not cut
    queue = queue_files(mpd_client)
    current = int(mpd_client.status()["song"])
    assert queue[current] == playing
    assert sorted(queue[current + 1:]) == sorted(music_library[2]["upbeat"])

    mpd_client.next()  # the kept song ends: the new playlist plays and the kept song leaves the queue
    player.poll()
    assert mpd_client.currentsong()["file"].startswith("upbeat/")
    assert sorted(queue_files(mpd_client)) == sorted(music_library[2]["upbeat"])


def test_skip_pause_play(mpd_server, mpd_client):
    store = RecordingStore()
    player = Player(mpd_server.socket_path, store=store, shuffle=False)
    player.switch_to("everyday", "now", mood="neutral")
    player.poll()
    player.skip()
    assert player.poll().track == "everyday/everyday-02.ogg"
    assert [p["reason"] for p in store.plays] == ["mood", "skip"]
    player.pause()
    assert mpd_client.status()["state"] == "pause"
    player.play()
    assert mpd_client.status()["state"] == "play"


def test_reconnects_after_mpd_is_killed_and_plays_the_right_playlist_again(mpd_server, music_library):
    player = Player(mpd_server.socket_path, store=RecordingStore(), min_backoff_s=0.05, max_backoff_s=0.2)
    player.switch_to("calming", "now", mood="angry")
    mpd_server.kill()
    assert not player.poll().connected
    with pytest.raises(PlayerUnavailable):
        player.skip()
    assert player.switch_to("calm", "after_current", mood="sad") is False  # remembered for later

    mpd_server.start()  # comes back with an empty queue (killed: no state saved)
    assert wait_until(lambda: player.poll().connected)
    client = mpd_server.client()
    assert client.status()["state"] == "play"
    assert sorted(queue_files(client)) == sorted(music_library[2]["calm"])
    client.disconnect()


def test_waits_for_an_mpd_that_is_not_up_yet(mpd_server):
    mpd_server.stop()
    player = Player(mpd_server.socket_path, min_backoff_s=0.05, max_backoff_s=0.1)
    assert not player.connect()
    mpd_server.start()
    assert wait_until(player.connect)
    assert player.check_playlists(["upbeat"]) == []


def test_backoff_grows_and_is_capped(tmp_path, caplog):
    now = [0.0]
    player = Player(str(tmp_path / "no-mpd.sock"), clock=lambda: now[0], min_backoff_s=1.0, max_backoff_s=4.0)
    caplog.set_level(logging.WARNING, logger="moodbox.player")
    attempts = []
    for _ in range(40):
        caplog.clear()
        assert not player.connect()
        if caplog.records:  # a real attempt was made (not skipped for the backoff)
            attempts.append(now[0])
            assert "no-mpd.sock not reachable" in caplog.text
        now[0] += 0.5
    gaps = [b - a for a, b in zip(attempts, attempts[1:])]
    assert gaps[:3] == [1.0, 2.0, 4.0] and set(gaps[3:]) == {4.0}


def test_absence_pause_is_owned_by_the_player_and_survives_a_handover(mpd_server, mpd_client):
    player = Player(mpd_server.socket_path, shuffle=False)
    player.switch_to("everyday", "now", mood="neutral")
    player.follow_presence(present=False, nobody_for_long=False)
    assert mpd_client.status()["state"] == "play"
    player.follow_presence(present=False, nobody_for_long=True)
    assert mpd_client.status()["state"] == "pause"
    player.close()
    reloaded = Player(mpd_server.socket_path, shuffle=False, handover=player)  # a reload with new [mpd] keys
    assert (reloaded.playlist, reloaded.mood) == ("everyday", "neutral")
    reloaded.poll()
    assert mpd_client.status()["state"] == "pause"  # reconnecting does not undo the absence pause
    reloaded.follow_presence(present=True, nobody_for_long=False)
    assert mpd_client.status()["state"] == "play"
    reloaded.follow_presence(present=True, nobody_for_long=False)  # only a pause of its own is lifted
    assert mpd_client.status()["state"] == "play"


def test_missing_playlists_text_says_how_to_make_one(mpd_server):
    text = Player(mpd_server.socket_path).missing_playlists_text(["party", "jazz"])
    assert text == (f"MPD at {mpd_server.socket_path} has no stored playlist named party, jazz: create them in MPD "
                    "(e.g. `mpc save party`) or name existing ones")
