"""The player: the one owner of the MPD connection.

Every MPD command goes through :class:`Player`, under one lock, so the main loop, the control socket and the
buttons never share a python-mpd2 client between threads. When MPD is down (stopped, restarting, or not started
yet behind socket activation) the player reconnects with capped exponential backoff and then re-applies the
playlist it was asked to play. Switching keeps the current song and replaces what follows it ("after_current"),
or switches at once ("now"). Each song that starts is recorded in the store with the reason it was queued, and
each song that played to its end (nobody skipped or cut it) as a "played" event, credited to the playlist and
mood it was queued for. An ``arrange`` callback (the music policy's track memory) may leave songs out of what is
queued and move others to the front; it sees the songs' ``file`` values only, so MPD and Mopidy are alike.
The name :data:`~moodbox.music.availability.WHOLE_LIBRARY` stands for every song in MPD's database (the last
fallback).
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

import mpd

from moodbox.backoff import Backoff
from moodbox.errors import MoodboxError
from moodbox.music.availability import WHOLE_LIBRARY
from moodbox.music.store import StoreError

if TYPE_CHECKING:
    from moodbox.config import Config

log = logging.getLogger("moodbox.music.player")

SWITCH_MODES = ("after_current", "now")
# MPD (0.23) answers an edit that replaces the song it has queued next only when the current song ends, once its
# decoder has started on that next song (in the last seconds of a song). A "now" switch stops MPD
# first, which it answers at once; an "after_current" switch waits up to the song's end for its edits, beyond
# ``timeout_s``, and at most this much longer.
SONG_END_WAIT_MAX_S = 10.0


_CONNECTION_ERRORS = (OSError, mpd.ConnectionError, mpd.ProtocolError)
# Commands that change nothing: safe to send again on a fresh connection when the old one dropped. A queue edit is
# never replayed (MPD may have done it before the answer was lost); the queue is rebuilt from a known state instead.
_READ_ONLY = frozenset({"status", "currentsong", "playlistinfo", "listplaylists", "listplaylist", "outputs",
                        "listall"})


class PlayerUnavailable(MoodboxError):
    """MPD cannot be reached right now; the player keeps trying in the background."""


class PlaylistUnavailable(MoodboxError):
    """MPD refused to load a stored playlist (deleted or renamed since the start); ``playlist`` names it."""

    def __init__(self, playlist: str, message: str):
        super().__init__(message)
        self.playlist = playlist


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
        self.host, self.port, self.timeout_s = host, port, timeout_s
        self._witness = witness  # what the box knew while a song played (fields for its "played" record)
        self._store = store
        self.shuffle = shuffle
        self._backoff = Backoff(min_backoff_s, max_backoff_s, clock)
        self._lock = threading.RLock()
        self._client: mpd.MPDClient | None = None
        self.playlist: str | None = None     # what the policy asked for last; re-applied after a reconnect
        self.mood: str | None = None
        self._reason_for_next = "next"
        self._kept_song_id: str | None = None  # the song kept playing through an "after_current" switch
        self._kept_from: str | None = None     # ... and the playlist it came from
        self._queue_unsure = False  # a queue edit was cut short: the queue is rebuilt before anything else
        self._closing = False
        self.last_state = PlayerState(connected=False)  # what MPD did at the last look (never blocks to read)
        self._last_song_id: str | None = None
        self._paused_by_us = False
        self._arrange = arrange
        # the current song: (song id, file, playlist, mood) as queued, so feedback credits where it came from
        self._playing: tuple[str, str | None, str | None, str | None] | None = None
        self._cut = False  # the current song was skipped or cut by a switch: it did not play to its end
        self._paused_for_absence = False
        if handover is not None:  # a reload: carry on with what the old player was asked to do
            self.playlist, self.mood = handover.playlist, handover.mood
            self._paused_by_us, self._paused_for_absence = handover._paused_by_us, handover._paused_for_absence

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
        return self.host if self.host.startswith("/") else f"{self.host}:{self.port}"

    @property
    def connected(self) -> bool:
        return self._client is not None

    def connect(self) -> bool:
        """Connect if not connected and the backoff allows a new attempt now; return whether connected."""
        with self._lock:
            if self._client is not None:
                return True
            if self._closing or not self._backoff.due():
                return False
            client = mpd.MPDClient()
            client.timeout = self.timeout_s
            try:
                if self.host.startswith("/"):
                    client.connect(self.host)
                else:
                    client.connect(self.host, self.port)
            except _CONNECTION_ERRORS as err:
                log.warning("MPD at %s not reachable (%s); next try in %.1f s", self.address, err,
                            self._backoff.failed())
                return False
            self._client = client  # the backoff is reset by the first answer: an MPD that greets and then hangs
            log.info("connected to MPD at %s (protocol %s)", self.address, client.mpd_version)
            self._after_reconnect()
            return self._client is not None

    def _after_reconnect(self) -> None:
        """MPD may have restarted with an empty, stopped or restored old queue (a clean stop saves its state
        file), or a queue edit was cut short: compare the queue with what we were asked to play and rebuild it."""
        if self.playlist is None:
            return
        try:
            status = self._call("status")
            queued = {song["file"] for song in self._call("playlistinfo")}
            wanted = set(self.playlist_songs(self.playlist))  # none when gone since: queueing it says so
            stopped = not self._paused_by_us and status.get("state") != "play"
            if self._queue_unsure or stopped or not queued or not queued <= wanted:
                log.info("re-applying playlist %s after reconnecting", self.playlist)
                self._queue(self.playlist, "now", reason="reconnect")
        except mpd.CommandError as err:
            log.warning("re-applying playlist %s failed: %s", self.playlist, err)
        except PlayerUnavailable:
            pass  # _call has dropped the connection; the next poll tries again
        except PlaylistUnavailable as err:
            log.warning("%s", err)
            self.playlist = None  # the daemon chooses again on its next tick

    def _drop(self, err: Exception) -> None:
        log.warning("lost MPD connection at %s: %s", self.address, err)
        client, self._client = self._client, None
        self._last_song_id = None
        self._kept_song_id = self._kept_from = None
        self._playing = None
        self.last_state = PlayerState(connected=False, playlist=self.playlist)
        self._backoff.failed()
        if client is not None:
            try:
                client.disconnect()
            except (OSError, mpd.MPDError):
                pass

    def _call(self, command: str, *args: Any, song_end: float | None = None) -> Any:
        """Run one MPD command, bounded by ``timeout_s`` (counted from ``song_end`` instead, a ``time.monotonic()``
        time, when MPD may hold the answer until the current song ends). When the connection turns out dropped
        (MPD's idle timeout, a restart) a read-only command reconnects at once and is retried once; a timeout (a hung
        MPD) or a queue edit is not retried: PlayerUnavailable, and the backoff decides when to try again."""
        with self._lock:
            for retry in (False, True):
                if not self.connect():
                    raise PlayerUnavailable(f"MPD at {self.address} is not reachable")
                client = self._client
                if song_end is not None:
                    client.timeout = self.timeout_s + min(max(song_end - time.monotonic(), 0.0), SONG_END_WAIT_MAX_S)
                try:
                    answer = getattr(client, command)(*args)
                except _CONNECTION_ERRORS as err:
                    if command not in _READ_ONLY:
                        self._queue_unsure = True
                    self._drop(err)
                    if retry or isinstance(err, TimeoutError) or command not in _READ_ONLY or self._closing:
                        raise PlayerUnavailable(f"MPD at {self.address} is not answering ({command}: "
                                                f"{err or type(err).__name__})") from err
                    self._backoff.retry_now()  # reconnect at once, not after the backoff
                else:
                    self._backoff.succeeded()
                    return answer
                finally:
                    client.timeout = self.timeout_s

    def check_playlists(self, names: list[str]) -> list[str]:
        """The names among ``names`` that MPD has no stored playlist for."""
        existing = {entry["playlist"] for entry in self._call("listplaylists")} | {WHOLE_LIBRARY}
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
            return [entry["file"] for entry in self._call("listall") if "file" in entry]
        try:
            return self._call("listplaylist", name)
        except mpd.CommandError:
            return []

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
                self._queue(playlist, mode, reason=reason, previous=previous)
            except PlayerUnavailable:
                log.warning("MPD down: %s will play when it is back", playlist)
                return False
            except PlaylistUnavailable:
                self.playlist = None
                raise
            except mpd.CommandError as err:  # e.g. MPD's queue changed under us: rebuilt on the next poll
                log.error("switching to %s failed: %s; rebuilding the queue next tick", playlist, err)
                self._queue_unsure = True
                return False
            log.info("switched to playlist %s (%s, %s)", playlist, mode, reason)
            return True

    def _queue(self, playlist: str, mode: str, *, reason: str, previous: str | None = None) -> None:
        """Replace the queue with ``playlist`` (after the current song for "after_current"). ``_queue_unsure``
        stays set when any edit fails half-way, so that the queue is rebuilt from scratch, never patched."""
        status = self._call("status")
        playing = status.get("state") in ("play", "pause") and "song" in status
        self._reason_for_next = reason
        self._queue_unsure = True
        if mode == "now" or not playing:
            old_length = int(status.get("playlistlength", 0))
            if playing:  # stopped, MPD answers the edits below at once (see SONG_END_WAIT_MAX_S)
                self._call("stop")
            try:
                self._load(playlist)  # before removing the old queue: a refused playlist leaves the music playing
            except PlaylistUnavailable:
                if status.get("state") == "play":
                    self._call("play")  # the song that played starts again
                raise
            if old_length:
                self._call("delete", f"0:{old_length}")
            if self.shuffle:
                self._call("shuffle")
            self._arrange_queue(0)
            self._set_play_modes()
            self._cut = True
            if not self._paused_by_us:
                self._call("play", 0)
            self._kept_song_id = self._kept_from = None
            self._last_song_id = None
            self._queue_unsure = False
            return
        position, length = int(status["song"]), int(status["playlistlength"])
        song_id = status.get("songid")
        kept_from = self._kept_from if song_id == self._kept_song_id else previous
        song_end = time.monotonic() + max(float(status.get("duration", 0)) - float(status.get("elapsed", 0)), 0.0)
        self._load(playlist, song_end=song_end)
        # The new playlist is arranged where it was appended, then only the kept song and the new playlist stay:
        # with repeat on, any old song left before or after the kept one would come back after the new playlist's
        # last song. The song MPD has queued next is replaced last, by one edit (see SONG_END_WAIT_MAX_S).
        new_length = int(self._call("status")["playlistlength"])
        if self.shuffle and new_length - length > 1:
            self._call("shuffle", f"{length}:{new_length}", song_end=song_end)
        self._arrange_queue(length, song_end=song_end)
        if position > 0:
            self._call("delete", f"0:{position}", song_end=song_end)
        if position + 1 < length:  # Mopidy refuses "delete N:" when nothing follows
            self._call("delete", f"1:{length - position}", song_end=song_end)
        self._set_play_modes()
        self._kept_song_id, self._kept_from = song_id, kept_from
        self._queue_unsure = False

    def _load(self, playlist: str, *, song_end: float | None = None) -> None:
        """Append the stored playlist to the queue, or raise PlaylistUnavailable (the queue is unchanged)."""
        try:
            if playlist == WHOLE_LIBRARY:
                self._call("add", "/", song_end=song_end)
            else:
                self._call("load", playlist, song_end=song_end)
        except mpd.CommandError as err:
            raise PlaylistUnavailable(playlist, f"MPD at {self.address} cannot load playlist {playlist}: {err} "
                                                "(deleted or renamed?): skipped") from err

    def _arrange_queue(self, first: int, *, song_end: float | None = None) -> None:
        """Let ``arrange`` leave out songs from position ``first`` on and move others to its front."""
        if self._arrange is None:
            return
        songs = self._call("playlistinfo")[first:]
        held, liked = self._arrange([song["file"] for song in songs])
        for index in held:
            self._call("deleteid", songs[index]["id"], song_end=song_end)
        for offset, index in enumerate(liked):
            self._call("moveid", songs[index]["id"], first + offset, song_end=song_end)

    def _set_play_modes(self) -> None:
        """Play the queue in order and keep it: a listener's `mpc random on` (or single, consume) would play a
        song of the old mood after an "after_current" switch, stop after one song, or eat the queue."""
        for command, value in (("repeat", 1), ("random", 0), ("single", 0), ("consume", 0)):
            self._call(command, value)

    def skip(self, *, drop: bool = False) -> None:
        """Next song; with ``drop`` the skipped song also leaves the queue (repeat must not bring it back)."""
        with self._lock:
            self._reason_for_next = "skip"
            self._cut = True
            status = self._call("status")
            song_id = status.get("songid")
            self._call("next")
            if drop and song_id is not None and int(status.get("playlistlength", 0)) > 1:  # never an empty queue
                try:
                    self._call("deleteid", song_id)
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
            self._call("pause", 1)

    def play(self) -> None:
        with self._lock:
            self._paused_by_us = False
            self._call("play")

    def change_volume(self, step: int) -> int:
        """Turn the volume up (step > 0) or down by ``step`` points, within 0-100; returns the new volume."""
        with self._lock:
            volume = _volume(self._call("status"))
            if volume is None:
                raise PlayerUnavailable(f"MPD at {self.address} has no volume control (no mixer on its output)")
            volume = max(0, min(100, volume + step))
            self._call("setvol", volume)
            self._read_state()  # the status shows the new volume at once, not after the next tick
            return volume

    def upcoming(self, count: int) -> list[str]:
        """The titles of the next ``count`` songs in the queue after the current one (in play order; repeat wraps)."""
        with self._lock:
            status = self._call("status")
            length = int(status.get("playlistlength", 0))
            if length < 2 or "song" not in status:
                return []
            after = int(status["song"]) + 1
            positions = [(after + n) % length for n in range(min(count, length - 1))]
            songs = {int(song["pos"]): song for song in self._call("playlistinfo")}
        return [_title(songs[p]) for p in positions if p in songs]

    def current(self) -> PlayerState:
        """What MPD is doing now; ``connected=False`` when MPD is down."""
        return self._read_state()[0]

    def _read_state(self) -> tuple[PlayerState, str | None]:
        with self._lock:
            try:
                for _ in range(3):  # a song that ends between the two reads: read both again
                    status = self._call("status")
                    song = self._call("currentsong") if "songid" in status else {}
                    if song.get("id") == status.get("songid"):
                        break
                try:
                    enabled_outputs = sum(output.get("outputenabled") == "1" for output in self._call("outputs"))
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
                track_playlist = self._kept_from if song_id == self._kept_song_id else self.playlist
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
            if self._queue_unsure and self.playlist is not None:
                self._rebuild()
            state, song_id = self._read_state()
            if self._kept_song_id is not None and song_id != self._kept_song_id:
                self._forget_kept_song()
            if song_id is not None and song_id != self._last_song_id and state.state == "play":
                self._record_played_to_end()
                self._last_song_id = song_id
                self._playing = (song_id, state.track, state.track_playlist, self.mood)
                self._record_play(state)
            return state

    def _rebuild(self) -> None:
        """A queue edit was cut short (a timeout, a refused command): queue the playlist again from scratch."""
        log.info("rebuilding the queue for playlist %s", self.playlist)
        try:
            self._queue(self.playlist, "now", reason="rebuild")
        except (PlayerUnavailable, PlaylistUnavailable, mpd.CommandError) as err:
            log.warning("rebuilding the queue for playlist %s failed: %s", self.playlist, err)

    def _forget_kept_song(self) -> None:
        """The song kept through an "after_current" switch has ended: drop it so repeat does not bring it back."""
        kept, self._kept_song_id, self._kept_from = self._kept_song_id, None, None
        try:
            self._call("deleteid", kept)
        except mpd.CommandError:
            log.info("kept song %s already left the queue", kept)
        except PlayerUnavailable:
            pass  # MPD went away; the queue is rebuilt on reconnect

    def _record_played_to_end(self) -> None:
        """The previous song ended by itself (no skip, no cut): a weak "yes" for its playlist in its mood."""
        playing, cut, self._cut = self._playing, self._cut, False
        if playing is None or cut or self._store is None:
            return
        try:
            self._store.record_feedback(action="played", expression=None, mood=playing[3], playlist=playing[2],
                                        track=playing[1], **(self._witness(playing[1]) if self._witness else {}))
        except StoreError as err:  # the music goes on; the store keeps the error for the status
            log.error("%s", err)

    def _record_play(self, state: PlayerState) -> None:
        reason, self._reason_for_next = self._reason_for_next, "next"
        source = f"playlist {state.track_playlist}" if state.track_playlist else "MPD's own queue (not one of ours)"
        log.info("now playing %s from %s (%s)", state.title, source, reason)
        if self._store is not None:
            try:
                self._store.record_play(track=state.track, playlist=state.track_playlist, mood=self.mood,
                                       reason=reason)
            except StoreError as err:  # the song plays all the same; the store keeps the error for the status
                log.error("%s", err)

    def interrupt(self) -> None:
        """Stopping: cut a call that is waiting on a hung MPD short (without its lock) and connect no more."""
        self._closing = True
        sock = getattr(self._client, "_sock", None)  # python-mpd2 keeps its socket there
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self) -> None:
        self.interrupt()
        with self._lock:
            if self._client is not None:
                try:
                    self._client.close()
                    self._client.disconnect()
                except (OSError, mpd.MPDError):
                    pass
                self._client = None


def _title(song: dict) -> str:
    """"Artist - Title" for people (the file when the song has no tags)."""
    return " - ".join(part for part in (song.get("artist"), song.get("title")) if part) or song["file"]


def _volume(status: dict) -> int | None:
    """MPD's volume 0-100 from its status; None when its output has no mixer (MPD says -1 or nothing)."""
    volume = int(status.get("volume", -1))
    return volume if volume >= 0 else None
