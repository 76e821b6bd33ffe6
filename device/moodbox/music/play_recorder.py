"""Play recording: each song that starts goes into the store with the reason it was queued, and each song that
played to its end (nobody skipped or cut it) as a "played" event, a weak "yes" credited to the playlist and mood it
was queued for."""

from __future__ import annotations

import logging
from typing import Any, Callable

from moodbox.music.store import StoreError

log = logging.getLogger("moodbox.music.play_recorder")


class PlayRecorder:
    """Told by the player what MPD plays (``saw``), what cut a song short (``cut``) and why the next song was
    queued (``reason_for_next``); records into ``store`` (None: only logs)."""

    def __init__(self, store: Any = None, witness: Callable[[str | None], dict] | None = None):
        self._store = store
        self._witness = witness  # what the box knew while a song played (fields for its "played" record)
        self.reason_for_next = "next"
        self._last_song_id: str | None = None
        # the current song: (song id, file, playlist, mood) as queued, so feedback credits where it came from
        self._playing: tuple[str, str | None, str | None, str | None] | None = None
        self._cut = False  # the current song was skipped or cut by a switch: it did not play to its end

    def cut(self) -> None:
        """The current song is skipped or cut by a switch: it does not count as played to its end."""
        self._cut = True

    def restarted(self) -> None:
        """The queue was replaced and played from its start: the song that then plays is recorded as new."""
        self._cut = True
        self._last_song_id = None

    def forget(self) -> None:
        """MPD was lost: what played before is unknown."""
        self._last_song_id = None
        self._playing = None

    def saw(self, song_id: str | None, playing: bool, *, track: str | None, title: str | None,
            playlist: str | None, mood: str | None) -> None:
        """The player's look at MPD: record a song that started (and the one before it, if it played to its end);
        ``playlist`` is the one the song came from."""
        if song_id is not None and song_id != self._last_song_id and playing:
            self._record_played_to_end()
            self._last_song_id = song_id
            self._playing = (song_id, track, playlist, mood)
            self._record_play(track, title, playlist, mood)

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

    def _record_play(self, track: str | None, title: str | None, playlist: str | None, mood: str | None) -> None:
        reason, self.reason_for_next = self.reason_for_next, "next"
        source = f"playlist {playlist}" if playlist else "MPD's own queue (not one of ours)"
        log.info("now playing %s from %s (%s)", title, source, reason)
        if self._store is not None:
            try:
                self._store.record_play(track=track, playlist=playlist, mood=mood, reason=reason)
            except StoreError as err:  # the song plays all the same; the store keeps the error for the status
                log.error("%s", err)
