"""The action table against the real parts it drives: a Player on a test MPD, the MusicPolicy, a Camera."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from moodbox.frontends.actions import ACTIONS, Refused
from moodbox.cli import main as cli_main
from moodbox.perception.camera import Camera
from moodbox.music.policy import MusicPolicy
from moodbox.music.preferences import EARLY_SKIP_S
from moodbox.errors import MoodboxError
from moodbox.music.player import Player
from moodbox.music.store import StoreError

from device_support import FakeClock


class Box:
    """What a handler may use of the running daemon, with the feedback events kept in a list."""

    def __init__(self, player, camera):
        self.jukebox = SimpleNamespace(player=player, policy=MusicPolicy({"happy": ("upbeat",)}, hold_minutes=1.0))
        self.camera = camera
        self.clock = FakeClock()
        self.recorded: list[tuple[str, str | None]] = []
        self.store_error: str | None = None

    def record(self, event: str, playing) -> None:
        if self.store_error:
            raise StoreError(self.store_error)
        self.recorded.append((event, playing.track))

    def replace_rejected_playlist(self) -> bool:
        return False

    def status(self) -> dict:
        return {"camera": self.camera.status}


class Gray:
    def grab(self):
        return np.zeros((4, 4), np.uint8)

    def close(self):
        pass


@pytest.fixture
def box(mpd_server):
    player = Player(mpd_server.socket_path, shuffle=False)
    player.switch_to("upbeat", "now", mood="happy")
    camera = Camera(Gray)
    yield Box(player, camera)
    camera.close()
    player.close()


def test_each_action_does_its_job_and_records_the_store_event(box):
    assert ACTIONS["like"].handler(box) == {"action": "like", "playlist": "upbeat", "track": "upbeat/upbeat-01.ogg"}
    assert ACTIONS["skip"].handler(box)["track"] == "upbeat/upbeat-01.ogg"
    assert box.jukebox.player.current().track == "upbeat/upbeat-02.ogg"
    assert ACTIONS["hold"].handler(box)["held"] is True and box.jukebox.policy.held(box.clock())
    box.clock.advance(10)
    released = ACTIONS["hold"].handler(box)
    assert released["held"] is False and released["held_for_s"] == 0
    assert ACTIONS["pause"].handler(box) == {"camera": "paused"} and box.camera.grab() is None
    assert ACTIONS["pause"].handler(box) == {"camera": "ok"} and box.camera.grab() is not None
    assert ACTIONS["status"].handler(box) == {"camera": "ok"}
    assert box.recorded == [("like", "upbeat/upbeat-01.ogg"), ("skip", "upbeat/upbeat-01.ogg"),
                            ("hold", "upbeat/upbeat-02.ogg"), ("release", "upbeat/upbeat-02.ogg"),
                            ("pause", "upbeat/upbeat-02.ogg"), ("resume", "upbeat/upbeat-02.ogg")]


def test_every_action_is_a_cli_subcommand_with_its_help(capsys):
    with pytest.raises(SystemExit):
        cli_main(["--help"])
    usage = capsys.readouterr().out
    for action in ACTIONS.values():
        assert action.name in usage and action.help.replace("`", "")[:30] in usage.replace("`", "")


def test_a_failed_record_does_not_undo_a_skip_or_hold_but_fails_a_like(box):
    """Issue 10, defect 10: a skip answered ok: false (and looked failed) although MPD had skipped."""
    box.store_error = "feedback database /x/feedback.db: cannot record feedback: the disk is full"
    skipped = ACTIONS["skip"].handler(box)
    assert skipped["track"] == "upbeat/upbeat-01.ogg" and skipped["not_recorded"] == box.store_error
    assert box.jukebox.player.current().track == "upbeat/upbeat-02.ogg"
    assert ACTIONS["hold"].handler(box)["not_recorded"] == box.store_error and box.jukebox.policy.held(box.clock())
    assert ACTIONS["pause"].handler(box) == {"camera": "paused", "not_recorded": box.store_error}
    with pytest.raises(MoodboxError, match="the disk is full"):
        ACTIONS["like"].handler(box)


def test_skip_with_nothing_playing_is_a_plain_refusal_not_mpds_words(box, mpd_client):
    """Issue 27: the page showed MPD's "[55@0] {next} Not playing" with an HTTP 502."""
    mpd_client.stop()
    with pytest.raises(Refused, match="^nothing is playing: nothing to skip$"):
        ACTIONS["skip"].handler(box)
    assert box.recorded == []


def test_upcoming_lists_the_next_songs_and_choose_refuses_an_unknown_playlist(box):
    assert ACTIONS["upcoming"].handler(box) == {"upcoming": ["moodbox upbeat - Upbeat 2", "moodbox upbeat - Upbeat 3"]}
    assert ACTIONS["choose"].handler(box, mood="happy", playlist="upbeat", choice="exclude") == \
        {"mood": "happy", "playlist": "upbeat", "choice": "exclude"}
    assert dict(box.jukebox.policy.choices.items()) == {("happy", "upbeat"): "exclude"}
    with pytest.raises(Refused, match="no playlist 'jazz'"):
        ACTIONS["choose"].handler(box, mood="happy", playlist="jazz", choice="pin")


def test_skip_says_which_song_comes_next(box):
    """Issue 10, defect 25: `moodbox skip` printed the skipped song only."""
    skipped = ACTIONS["skip"].handler(box)
    assert (skipped["track"], skipped["next"]) == ("upbeat/upbeat-01.ogg", "upbeat/upbeat-02.ogg")


def test_an_early_skip_takes_the_song_out_of_the_queue(box, mpd_client):
    """Repeat is on: a song skipped in its first EARLY_SKIP_S seconds must not come back when the queue wraps."""
    assert box.jukebox.player.current().elapsed < EARLY_SKIP_S
    ACTIONS["skip"].handler(box)
    assert [song["file"] for song in mpd_client.playlistinfo()] == ["upbeat/upbeat-02.ogg", "upbeat/upbeat-03.ogg"]
    assert box.jukebox.player.current().track == "upbeat/upbeat-02.ogg"


def test_every_entry_of_the_vocabulary_has_its_handler_and_the_front_ends_derive_their_subsets():
    from moodbox.frontends import page, top, web
    from moodbox.names import ACTION_INFO

    assert list(ACTIONS) == list(ACTION_INFO)
    assert all(action.handler.__name__ == name and action.help == ACTION_INFO[name].help
               for name, action in ACTIONS.items())
    assert set(web.ACTIONS) == {name for name, info in ACTION_INFO.items() if info.button}
    assert set(page.view({"ok": True})["buttons"]) == set(web.ACTIONS)  # the page draws a button for each
    assert ACTIONS["choose"].params == ACTION_INFO["choose"].params == ("mood", "playlist", "choice")
    assert set(top.KEYS.values()) == {name for name, info in ACTION_INFO.items() if info.keys}
    assert not ACTIONS["status"].locked and not ACTION_INFO["status"].rate_limited
