"""Queue editing: MPD's queue replaced by a stored playlist, at once ("now") or after the current song
("after_current": the song keeps playing and only what follows it is replaced).

An ``arrange`` callback (the music policy's track memory) may leave songs out of what is queued and move others to
the front; it sees the songs' ``file`` values only, so MPD and Mopidy are alike. ``unsure`` stays set when an edit
fails half-way, so that the queue is rebuilt from scratch, never patched.
"""

from __future__ import annotations

import logging
import time
from typing import Callable

import mpd

from moodbox.errors import MoodboxError
from moodbox.music.availability import WHOLE_LIBRARY
from moodbox.music.mpd_connection import MpdConnection, PlayerUnavailable
from moodbox.music.play_recorder import PlayRecorder

log = logging.getLogger("moodbox.music.queue_editor")


class PlaylistUnavailable(MoodboxError):
    """MPD refused to load a stored playlist (deleted or renamed since the start); ``playlist`` names it."""

    def __init__(self, playlist: str, message: str):
        super().__init__(message)
        self.playlist = playlist


class QueueEditor:
    """Edits MPD's queue over the player's ``connection``; tells ``recorder`` why the next song was queued and
    when the queue restarted (the song that played was cut)."""

    def __init__(self, connection: MpdConnection, recorder: PlayRecorder, *, shuffle: bool = True,
                 arrange: Callable[[list[str]], tuple[set[int], list[int]]] | None = None):
        self._mpd, self._recorder = connection, recorder
        self.shuffle = shuffle
        self._arrange = arrange
        self.unsure = False  # a queue edit was cut short: the queue is rebuilt before anything else
        self._kept_song_id: str | None = None  # the song kept playing through an "after_current" switch
        self._kept_from: str | None = None     # ... and the playlist it came from

    def track_playlist(self, song_id: str | None, playlist: str | None) -> str | None:
        """The playlist the song ``song_id`` came from: the old one for a kept song, else ``playlist``."""
        return self._kept_from if song_id == self._kept_song_id else playlist

    def forget(self) -> None:
        """MPD was lost: which song was kept is unknown."""
        self._kept_song_id = self._kept_from = None

    def replace(self, playlist: str, mode: str, *, reason: str, previous: str | None = None,
                play: bool = True) -> None:
        """Replace the queue with ``playlist`` (after the current song for "after_current"); ``play``: start it
        when it replaces a stopped queue or all of it (not when the listener has it paused)."""
        call = self._mpd.call
        status = call("status")
        playing = status.get("state") in ("play", "pause") and "song" in status
        self._recorder.reason_for_next = reason
        self.unsure = True
        if mode == "now" or not playing:
            old_length = int(status.get("playlistlength", 0))
            if playing:  # stopped, MPD answers the edits below at once (see SONG_END_WAIT_MAX_S)
                call("stop")
            try:
                self._load(playlist)  # before removing the old queue: a refused playlist leaves the music playing
            except PlaylistUnavailable:
                if status.get("state") == "play":
                    call("play")  # the song that played starts again
                raise
            if old_length:
                call("delete", f"0:{old_length}")
            if self.shuffle:
                call("shuffle")
            self._arrange_queue(0)
            self._set_play_modes()
            self._recorder.restarted()
            if play:
                call("play", 0)
            self._kept_song_id = self._kept_from = None
            self.unsure = False
            return
        position, length = int(status["song"]), int(status["playlistlength"])
        song_id = status.get("songid")
        kept_from = self._kept_from if song_id == self._kept_song_id else previous
        song_end = time.monotonic() + max(float(status.get("duration", 0)) - float(status.get("elapsed", 0)), 0.0)
        self._load(playlist, song_end=song_end)
        # The new playlist is arranged where it was appended, then only the kept song and the new playlist stay:
        # with repeat on, any old song left before or after the kept one would come back after the new playlist's
        # last song. The song MPD has queued next is replaced last, by one edit (see SONG_END_WAIT_MAX_S).
        new_length = int(call("status")["playlistlength"])
        if self.shuffle and new_length - length > 1:
            call("shuffle", f"{length}:{new_length}", song_end=song_end)
        self._arrange_queue(length, song_end=song_end)
        if position > 0:
            call("delete", f"0:{position}", song_end=song_end)
        if position + 1 < length:  # Mopidy refuses "delete N:" when nothing follows
            call("delete", f"1:{length - position}", song_end=song_end)
        self._set_play_modes()
        self._kept_song_id, self._kept_from = song_id, kept_from
        self.unsure = False

    def _load(self, playlist: str, *, song_end: float | None = None) -> None:
        """Append the stored playlist to the queue, or raise PlaylistUnavailable (the queue is unchanged)."""
        try:
            if playlist == WHOLE_LIBRARY:
                self._mpd.call("add", "/", song_end=song_end)
            else:
                self._mpd.call("load", playlist, song_end=song_end)
        except mpd.CommandError as err:
            raise PlaylistUnavailable(playlist, f"MPD at {self._mpd.address} cannot load playlist {playlist}: {err} "
                                                "(deleted or renamed?): skipped") from err

    def _arrange_queue(self, first: int, *, song_end: float | None = None) -> None:
        """Let ``arrange`` leave out songs from position ``first`` on and move others to its front."""
        if self._arrange is None:
            return
        songs = self._mpd.call("playlistinfo")[first:]
        held, liked = self._arrange([song["file"] for song in songs])
        for index in held:
            self._mpd.call("deleteid", songs[index]["id"], song_end=song_end)
        for offset, index in enumerate(liked):
            self._mpd.call("moveid", songs[index]["id"], first + offset, song_end=song_end)

    def _set_play_modes(self) -> None:
        """Play the queue in order and keep it: a listener's `mpc random on` (or single, consume) would play a
        song of the old mood after an "after_current" switch, stop after one song, or eat the queue."""
        for command, value in (("repeat", 1), ("random", 0), ("single", 0), ("consume", 0)):
            self._mpd.call(command, value)

    def drop_kept_song_once_over(self, song_id: str | None) -> None:
        """The song kept through an "after_current" switch has ended (``song_id`` plays now): drop it from the
        queue so repeat does not bring it back."""
        if self._kept_song_id is None or song_id == self._kept_song_id:
            return
        kept, self._kept_song_id, self._kept_from = self._kept_song_id, None, None
        try:
            self._mpd.call("deleteid", kept)
        except mpd.CommandError:
            log.info("kept song %s already left the queue", kept)
        except PlayerUnavailable:
            pass  # MPD went away; the queue is rebuilt on reconnect
