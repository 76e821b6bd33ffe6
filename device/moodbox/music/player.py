"""The player: plays MPD stored playlists for moods, the one user of the MPD connection.

Its parts: :mod:`~moodbox.music.mpd_connection` (every command under one lock, timeouts, reconnecting with
backoff), :mod:`~moodbox.music.queue_editor` (switching "now" or "after_current") and
:mod:`~moodbox.music.play_recorder` (plays and songs played to their end, into the store). After a reconnect the
player re-applies the playlist it was asked to play. The name :data:`~moodbox.music.availability.WHOLE_LIBRARY`
stands for every song in MPD's database (the last fallback).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

import mpd

from moodbox.music.availability import WHOLE_LIBRARY
from moodbox.music.mpd_connection import MpdConnection, PlayerUnavailable
from moodbox.music.play_recorder import PlayRecorder
from moodbox.music.queue_editor import PlaylistUnavailable, QueueEditor

if TYPE_CHECKING:
    from moodbox.config import Config

log = logging.getLogger("moodbox.music.player")

SWITCH_MODES = ("after_current", "now")
# MPD pauses when its audio output cannot be opened and never tries again by itself: a USB DAC or HDMI that is not
# there yet at boot would leave the box silent for good. While that lasts, play again this often.
RETRY_PLAY_S = 10.0


@dataclass(frozen=True)
class PlayerState:
    connected: bool
    state: str | None = None         # "play" | "pause" | "stop" as MPD says
    track: str | None = None         # the song's file URI (opaque: MPD or Mopidy naming)
    title: str | None = None         # "Artist - Title" for people
    playlist: str | None = None      # the stored playlist we last queued
    track_playlist: str | None = None  # the playlist the current track came from (the old one for a kept song)
    error: str | None = None         # MPD's own error, e.g. an audio output it cannot open (a silent speaker)
    enabled_outputs: int | None = None  # audio outputs MPD has enabled (None: MPD cannot say)
    elapsed: float | None = None     # seconds into the current song
    duration: float | None = None    # the current song's length in seconds
    volume: int | None = None        # 0-100; None when MPD's output has no mixer


class Player:
    """Plays MPD stored playlists for moods::

        player = Player("/run/mpd/socket", store=store)
        player.switch_to("upbeat", "after_current", mood="happy")  # True: MPD took it
    """

    def __init__(self, host: str, port: int = 6600, *, timeout_s: float = 10.0, store: Any = None,
                 shuffle: bool = True, clock: Callable[[], float] = time.monotonic,
                 min_backoff_s: float = 0.5, max_backoff_s: float = 30.0, handover: Player | None = None,
                 arrange: Callable[[list[str]], tuple[set[int], list[int]]] | None = None,
                 witness: Callable[[str | None], dict] | None = None):
        self.connection = MpdConnection(host, port, timeout_s=timeout_s, clock=clock, min_backoff_s=min_backoff_s,
                                        max_backoff_s=max_backoff_s, on_connect=self._after_reconnect,
                                        on_drop=self._after_drop)
        self._lock = self.connection.lock
        self._recorder = PlayRecorder(store, witness)
        self._queue = QueueEditor(self.connection, self._recorder, shuffle=shuffle, arrange=arrange)
        self.playlist: str | None = None     # what the policy asked for last; re-applied after a reconnect
        self.mood: str | None = None
        self.last_state = PlayerState(connected=False)  # what MPD did at the last look (never blocks to read)
        self._paused_by_us = False
        self._paused_for_absence = False
        self._clock = clock
        self._next_play_retry = float("-inf")
        self._switched_once = False
        if handover is not None:  # a reload: carry on with what the old player was asked to do
            self.playlist, self.mood = handover.playlist, handover.mood
            self._paused_by_us, self._paused_for_absence = handover._paused_by_us, handover._paused_for_absence
            self._switched_once = True

    @classmethod
    def from_config(cls, config: Config, *, store: Any = None, clock: Callable[[], float] = time.monotonic,
                    handover: Player | None = None,
                    arrange: Callable[[list[str]], tuple[set[int], list[int]]] | None = None,
                    witness: Callable[[str | None], dict] | None = None) -> Player:
        """The player of ``config.mpd`` (and ``music.shuffle``), recording plays into ``store``; ``arrange`` is
        the policy's track memory, ``witness`` what the box saw while a song played."""
        return cls(config.mpd.host, config.mpd.port, timeout_s=config.mpd.timeout_s, store=store,
                   shuffle=config.music.shuffle, clock=clock, handover=handover, arrange=arrange, witness=witness)

    @property
    def address(self) -> str:
        return self.connection.address

    @property
    def connected(self) -> bool:
        return self.connection.connected

    def connect(self) -> bool:
        """Connect if not connected and the backoff allows a new attempt now; return whether connected."""
        return self.connection.connect()

    def _after_reconnect(self) -> None:
        """MPD may have restarted with an empty, stopped or restored old queue (a clean stop saves its state
        file), or a queue edit was cut short: compare the queue with what we were asked to play and rebuild it."""
        if self.playlist is None:
            return
        call = self.connection.call
        try:
            status = call("status")
            queued = {song["file"] for song in call("playlistinfo")}
            wanted = set(self.playlist_songs(self.playlist))  # none when gone since: queueing it says so
            stopped = not self._paused_by_us and status.get("state") != "play"
            if self._queue.unsure or stopped or not queued or not queued <= wanted:
                log.info("re-applying playlist %s after reconnecting", self.playlist)
                self._queue.replace(self.playlist, "now", reason="reconnect", play=not self._paused_by_us)
        except mpd.CommandError as err:
            log.warning("re-applying playlist %s failed: %s", self.playlist, err)
        except PlayerUnavailable:
            pass  # the connection has been dropped; the next poll tries again
        except PlaylistUnavailable as err:
            log.warning("%s", err)
            self.playlist = None  # the daemon chooses again on its next tick

    def _after_drop(self, edit_lost: bool) -> None:
        """The connection was lost: what MPD plays is unknown until it is back; a lost edit rebuilds the queue."""
        self._queue.unsure |= edit_lost
        self._queue.forget()
        self._recorder.forget()
        self.last_state = PlayerState(connected=False, playlist=self.playlist)

    def check_playlists(self, names: list[str]) -> list[str]:
        """The names among ``names`` that MPD has no stored playlist for."""
        existing = {entry["playlist"] for entry in self.connection.call("listplaylists")} | {WHOLE_LIBRARY}
        return [name for name in names if name not in existing]

    def missing_playlists_text(self, missing: list[str]) -> str:
        """What to tell the owner about ``missing`` stored playlists (the caller names the config key)."""
        return (f"MPD at {self.address} has no stored playlist named {', '.join(missing)}: create "
                f"{'it' if len(missing) == 1 else 'them'} in MPD (e.g. `mpc save {missing[0]}`) or name existing ones")

    def playlist_length(self, name: str) -> int:
        return len(self.playlist_songs(name))

    def playlist_songs(self, name: str) -> list[str]:
        """The ``file`` values of a stored playlist's songs (none when MPD has no such playlist)."""
        if name == WHOLE_LIBRARY:
            return [entry["file"] for entry in self.connection.call("listall") if "file" in entry]
        try:
            return self.connection.call("listplaylist", name)
        except mpd.CommandError:
            return []

    def keep_for(self, mood: str | None) -> None:
        """The playing playlist stays for ``mood``: songs that start from now on count for it."""
        with self._lock:
            self.mood = mood

    def switch_to(self, playlist: str, mode: str = "after_current", *, mood: str | None = None,
                  reason: str = "mood") -> bool:
        """Play ``playlist``; True when MPD took it now, False when MPD is down (it is applied on reconnect).

        Raises PlaylistUnavailable when MPD has no such stored playlist (any more); the queue is left as it was
        and ``self.playlist`` is reset so that the caller's next choice is not taken for the current one.
        """
        if mode not in SWITCH_MODES:
            raise ValueError(f"switch mode must be one of {SWITCH_MODES}, got {mode!r}")
        with self._lock:
            previous = self.playlist
            self.playlist, self.mood = playlist, mood
            try:
                self._queue.replace(playlist, mode, reason=reason, previous=previous, play=not self._paused_by_us)
            except PlayerUnavailable:
                log.warning("MPD down: %s will play when it is back", playlist)
                return False
            except PlaylistUnavailable:
                self.playlist = None
                raise
            except mpd.CommandError as err:  # e.g. MPD's queue changed under us: rebuilt on the next poll
                log.error("switching to %s failed: %s; rebuilding the queue next tick", playlist, err)
                self._queue.unsure = True
                return False
            log.info("switched to playlist %s (%s, %s)", playlist, mode, reason)
            if not self._switched_once and not self._paused_by_us:
                self._play_if_paused()
            self._switched_once = True
            return True

    def _play_if_paused(self) -> None:
        """The box has just started: MPD restores a pause from before (its state file; e.g. an output that failed
        then), which no listener asked of this box, so it plays."""
        if self.connection.call("status").get("state") == "pause":
            log.info("MPD was paused when the box started: playing")
            self.connection.call("play")

    def skip(self, *, drop: bool = False) -> None:
        """Next song; with ``drop`` the skipped song also leaves the queue (repeat must not bring it back)."""
        with self._lock:
            self._recorder.reason_for_next = "skip"
            self._recorder.cut()
            status = self.connection.call("status")
            song_id = status.get("songid")
            self.connection.call("next")
            if drop and song_id is not None and int(status.get("playlistlength", 0)) > 1:  # never an empty queue
                try:
                    self.connection.call("deleteid", song_id)
                except mpd.CommandError:
                    pass  # already gone
            self.poll()  # record the song skipped to, even if the next skip comes before the next tick

    def follow_presence(self, present: bool, nobody_for_long: bool) -> None:
        """Pause the music for an empty room and resume it when someone is back (only a pause it made itself)."""
        try:
            if nobody_for_long and not self._paused_for_absence:
                log.info("nobody here for a while: pausing the music")
                self.pause()
                self._paused_for_absence = True
            elif present and self._paused_for_absence:
                log.info("someone is back: resuming the music")
                self.play()
                self._paused_for_absence = False
        except PlayerUnavailable as err:
            log.warning("%s", err)

    def pause(self) -> None:
        with self._lock:
            self._paused_by_us = True
            self.connection.call("pause", 1)

    def play(self) -> None:
        with self._lock:
            self._paused_by_us = False
            self.connection.call("play")

    def change_volume(self, step: int) -> int:
        """Turn the volume up (step > 0) or down by ``step`` points, within 0-100; returns the new volume."""
        with self._lock:
            volume = _volume(self.connection.call("status"))
            if volume is None:
                raise PlayerUnavailable(f"MPD at {self.address} has no volume control (no mixer on its output)")
            volume = max(0, min(100, volume + step))
            self.connection.call("setvol", volume)
            self._read_state()  # the status shows the new volume at once, not after the next tick
            return volume

    def upcoming(self, count: int) -> list[str]:
        """The titles of the next ``count`` songs in the queue after the current one (in play order; repeat wraps)."""
        with self._lock:
            status = self.connection.call("status")
            length = int(status.get("playlistlength", 0))
            if length < 2 or "song" not in status:
                return []
            after = int(status["song"]) + 1
            positions = [(after + n) % length for n in range(min(count, length - 1))]
            songs = {int(song["pos"]): song for song in self.connection.call("playlistinfo")}
        return [_title(songs[p]) for p in positions if p in songs]

    def current(self) -> PlayerState:
        """What MPD is doing now; ``connected=False`` when MPD is down."""
        return self._read_state()[0]

    def _read_state(self) -> tuple[PlayerState, str | None]:
        with self._lock:
            call = self.connection.call
            try:
                for _ in range(3):  # a song that ends between the two reads: read both again
                    status = call("status")
                    song = call("currentsong") if "songid" in status else {}
                    if song.get("id") == status.get("songid"):
                        break
                try:
                    enabled_outputs = sum(output.get("outputenabled") == "1" for output in call("outputs"))
                except mpd.CommandError:
                    enabled_outputs = None
            except PlayerUnavailable:
                self.last_state = PlayerState(connected=False, playlist=self.playlist)
                return self.last_state, None
            title = None
            if song:
                title = _title(song)
            song_id = status.get("songid")
            track_playlist = None
            if song:
                track_playlist = self._queue.track_playlist(song_id, self.playlist)
            state = PlayerState(connected=True, state=status.get("state"), track=song.get("file"), title=title,
                                playlist=self.playlist, track_playlist=track_playlist, error=status.get("error"),
                                enabled_outputs=enabled_outputs,
                                elapsed=float(status["elapsed"]) if "elapsed" in status else None,
                                duration=float(status["duration"]) if "duration" in status else None,
                                volume=_volume(status))
            self.last_state = state
            return state, song_id

    def poll(self) -> PlayerState:
        """Called every tick: reconnect when due, tidy the queue, record a song that started."""
        with self._lock:
            if not self.connect():
                self.last_state = PlayerState(connected=False, playlist=self.playlist)
                return self.last_state
            if self._queue.unsure and self.playlist is not None:
                self._rebuild()
            state, song_id = self._read_state()
            if state.error and state.state != "play" and not self._paused_by_us and self.playlist is not None:
                self._play_again(state.error)
            self._queue.drop_kept_song_once_over(song_id)
            self._recorder.saw(song_id, state.state == "play", track=state.track, title=state.title,
                               playlist=state.track_playlist, mood=self.mood)
            return state

    def _play_again(self, error: str) -> None:
        """MPD paused itself on an output error: clear it and play, every RETRY_PLAY_S (the status shows the error
        meanwhile)."""
        now = self._clock()
        if now < self._next_play_retry:
            return
        first = self._next_play_retry == float("-inf")
        self._next_play_retry = now + RETRY_PLAY_S
        (log.warning if first else log.debug)("MPD paused on an error (%s): playing again every %.0f s until it "
                                              "plays", error, RETRY_PLAY_S)
        try:
            self.connection.call("clearerror")
            self.connection.call("play")
        except mpd.CommandError as err:
            log.warning("playing again failed: %s", err)

    def _rebuild(self) -> None:
        """A queue edit was cut short (a timeout, a refused command): queue the playlist again from scratch."""
        log.info("rebuilding the queue for playlist %s", self.playlist)
        try:
            self._queue.replace(self.playlist, "now", reason="rebuild", play=not self._paused_by_us)
        except (PlayerUnavailable, PlaylistUnavailable, mpd.CommandError) as err:
            log.warning("rebuilding the queue for playlist %s failed: %s", self.playlist, err)

    def interrupt(self) -> None:
        """Stopping: cut a call that is waiting on a hung MPD short (without its lock) and connect no more."""
        self.connection.interrupt()

    def close(self) -> None:
        self.connection.close()


def _title(song: dict) -> str:
    """"Artist - Title" for people (the file when the song has no tags)."""
    return " - ".join(part for part in (song.get("artist"), song.get("title")) if part) or song["file"]


def _volume(status: dict) -> int | None:
    """MPD's volume 0-100 from its status; None when its output has no mixer (MPD says -1 or nothing)."""
    volume = int(status.get("volume", -1))
    return volume if volume >= 0 else None
