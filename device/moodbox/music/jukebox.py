"""The jukebox: the music side of the box, the one owner of the policy, the player and the feedback store.

The daemon hands it the listener's mood each tick (:meth:`Jukebox.follow`); the actions reach it for feedback
(:meth:`Jukebox.record`) and a skip's replacement (:meth:`Jukebox.replace_rejected`). The policy learns from the
store's log and checks hold-offs against MPD's playlists, the player queues what the policy arranges and records
each play: all through the jukebox, never through the daemon.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from moodbox.errors import MoodboxError
from moodbox.music.player import Player, PlayerState, PlayerUnavailable, PlaylistUnavailable
from moodbox.music.policy import MusicPolicy
from moodbox.music.store import Event, FeedbackStore, StoreError, open_store

if TYPE_CHECKING:
    from moodbox.config import Config
    from moodbox.perception.mood import MoodState

log = logging.getLogger(__name__)


class PlaylistsMissing(MoodboxError):
    """MPD lacks playlists the config names (found at the start: the daemon refuses to run)."""


class Jukebox:
    """Chooses and plays the music for a mood, and learns from the feedback::

        jukebox = Jukebox(config)
        jukebox.follow(mood_state, now)  # True: switched to the mood's playlist
    """

    def __init__(self, config: Config, *, clock: Callable[[], float] = time.monotonic):
        self.config = config
        self.clock = clock
        self.store: FeedbackStore | None = None
        self.store_problem: str | None = None  # why there is no feedback store (it could not be opened)
        self.policy = MusicPolicy.from_config(config, events=self._feedback_events, songs=self._playlist_songs)
        try:
            self.store = open_store(Path(config.state.dir) / "feedback.db")
        except StoreError as err:  # the music plays without it; status says why nothing is recorded
            self.store_problem = f"{err} (config key state.dir)"
            log.error("%s: playing without recording feedback", self.store_problem)
        self.player = Player.from_config(config, store=self.store, clock=clock, arrange=self._arrange_songs)
        self._playlists_checked = False

    def start(self, wait_s: float, stop: threading.Event) -> None:
        """Give MPD up to ``wait_s`` to answer (it may be starting alongside us; ``stop`` cuts it short), then check
        the playlists: PlaylistsMissing when MPD lacks some. Without MPD the box runs degraded until it is up."""
        deadline = time.monotonic() + wait_s
        while not self.player.connect() and time.monotonic() < deadline and not stop.wait(0.1):
            pass
        try:
            if self.player.connected:
                self.check_playlists(refuse=True)
        except PlayerUnavailable as err:  # greeted, then did not answer: a hung MPD
            log.warning("%s", err)
        if not self.player.connected:
            log.warning("MPD at %s is not up yet; running degraded until it is", self.player.address)

    def check_playlists(self, *, refuse: bool) -> None:
        """Missing playlists raise PlaylistsMissing when ``refuse``; found later (MPD was down at start) they are
        logged and avoided. Empty ones are never chosen."""
        wanted = self.config.all_playlists()
        missing = self.player.check_playlists(wanted)
        self._playlists_checked = True
        if missing:
            message = (f"{self.player.missing_playlists_text(missing)} (config key music.playlists in "
                       f"{self.config.source_path or 'the config'})")
            if refuse:
                raise PlaylistsMissing(message)
            log.error("%s", message)
        self.policy.mark_empty(missing + [name for name in wanted
                                          if name not in missing and self.player.playlist_length(name) == 0])

    def poll(self) -> PlayerState:
        """What MPD does now; the first time it answers after a start without it, the playlists are checked."""
        player_state = self.player.poll()
        if player_state.connected and not self._playlists_checked:
            try:
                self.check_playlists(refuse=False)
            except PlayerUnavailable as err:
                log.warning("%s", err)
                player_state = self.player.last_state
        return player_state

    def follow(self, state: MoodState | None, now: float) -> bool:
        """Pause for an empty room, resume when someone is back, switch to the mood's playlist unless held;
        True when switched."""
        if state is None:
            return False
        self.player.follow_presence(state.present, state.pause_music)
        if state.mood is None or self.policy.held(now):
            return False
        music_mood = self.policy.music_mood(state.mood, now - state.since)
        playlist = self._choose(music_mood)
        if playlist is None:
            return False
        log.info("mood %s (%.2f): switching to %s%s", state.mood, state.confidence, playlist,
                 "" if music_mood == state.mood else f" (lifting towards {music_mood})")
        return self._switch(playlist, self.config.music.switch, mood=state.mood, reason=f"mood {state.mood}")

    def replace_rejected(self, state: MoodState | None, now: float) -> bool:
        """After an early skip: when the policy rejects the playing playlist for the mood (two early skips in a
        row, or no song left off hold-off), switch to its next choice at once; True when switched."""
        if state is None or state.mood is None or not self.policy.rejected():
            return False
        replacement = self._choose(self.policy.music_mood(state.mood, now - state.since))
        if replacement is None:
            return False
        log.info("%s rejected for mood %s: switching to %s", self.player.playlist, state.mood, replacement)
        return self._switch(replacement, "now", mood=state.mood, reason="skip")

    def _choose(self, music_mood: str) -> str | None:
        """The policy's playlist for the mood, None when that is what plays already."""
        playlist = self.policy.choose(music_mood, current=self.player.playlist)
        return None if playlist == self.player.playlist else playlist

    def _switch(self, playlist: str, mode: str, *, mood: str, reason: str) -> bool:
        try:
            return self.player.switch_to(playlist, mode, mood=mood, reason=reason)
        except PlaylistUnavailable as err:  # deleted or renamed in MPD since the start: choose another next time
            self.policy.mark_unusable(err.playlist, str(err))
            return False

    def record(self, event: str, playing: PlayerState, *, expression: str | None, mood: str | None) -> None:
        """Feedback for the store, with what the box saw and played at that moment, and how far into the song (an
        early skip is a strong "no"). It counts for the playlist the track came from: a song kept through an
        "after_current" switch still belongs to the old playlist."""
        if self.store is None:
            raise StoreError(self.store_problem)
        self.store.record_feedback(action=event, expression=expression, mood=mood,
                                   playlist=playing.track_playlist or self.player.playlist, track=playing.track,
                                   elapsed_s=playing.elapsed)

    def problems(self, player_state: PlayerState) -> list[str]:
        """What keeps the music side from working as it should, for the status."""
        problems = []
        if not player_state.connected:
            problems.append(f"MPD down at {self.player.address}")
        if player_state.error:  # e.g. its audio output cannot be opened: MPD sits paused, the speaker is silent
            problems.append(f"MPD reports an error: {player_state.error}")
        if player_state.enabled_outputs == 0:
            problems.append(f"MPD at {self.player.address} has no enabled audio output (mpc enable 1)")
        store_error = self.store_problem if self.store is None else self.store.last_error
        if store_error:
            problems.append(f"feedback not recorded: {store_error}")
        return problems

    def live(self) -> dict:
        """The music side of the status, from the last known state (never waiting on MPD)."""
        playing = self.player.last_state
        rounded = lambda seconds: None if seconds is None else round(seconds, 1)  # noqa: E731
        return {"playlist": self.player.playlist, "now_playing": playing.title,
                "mpd": "connected" if playing.connected else "down",
                "held_for_s": round(self.policy.held_for_s(self.clock()), 1),
                "store": str(self.store.path),  # where moodbox top finds the history
                "track": playing.track, "state": playing.state, "elapsed_s": rounded(playing.elapsed),
                "duration_s": rounded(playing.duration), "volume": playing.volume}

    def reload(self, new: Config) -> Callable[[], None]:
        """Build what a new config changes (raising leaves everything as it was); returns the swap to run once
        every other part is built too."""
        old = self.config
        policy = player = None
        if new.music != old.music:
            policy = MusicPolicy.from_config(new, events=self._feedback_events, songs=self._playlist_songs)
        if new.mpd != old.mpd or new.music.shuffle != old.music.shuffle:
            player = Player.from_config(new, store=self.store, clock=self.clock, handover=self.player,
                                        arrange=self._arrange_songs)

        def swap() -> None:
            if player is not None:
                self.player.close()
                self.player = player
            if policy is not None:
                self.policy = policy
            if policy is not None or player is not None:
                self._playlists_checked = False
            self.config = new

        return swap

    def interrupt(self) -> None:
        self.player.interrupt()

    def close(self) -> None:
        """Close the player, then the store, even when the player's close fails (the daemon logs that)."""
        try:
            self.player.close()
        finally:
            if self.store is not None:
                self.store.close()

    def _arrange_songs(self, songs: list[str]) -> tuple[set[int], list[int]]:
        return self.policy.arrange(songs)  # the policy in use now (a reload may replace it)

    def _playlist_songs(self, name: str) -> list[str] | None:
        """A playlist's songs for the policy's hold-off check; None (not known) while MPD is down."""
        try:
            return self.player.playlist_songs(name)
        except PlayerUnavailable:
            return None

    def _feedback_events(self, last_id: int) -> list[Event]:
        """The feedback log for the policy; nothing new while the store is closed or failing."""
        if self.store is None:
            return []
        try:
            return self.store.events_after(last_id)
        except StoreError as err:
            log.error("%s", err)
            return []
