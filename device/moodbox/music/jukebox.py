"""The jukebox: the music side of the box, the one owner of the policy, the player and the feedback store.

The daemon hands it the listener's mood each tick (:meth:`Jukebox.follow`); the actions reach it for feedback
(:meth:`Jukebox.record`) and a skip's replacement (:meth:`Jukebox.replace_rejected`). The policy learns from the
store's log and checks hold-offs against MPD's playlists, the player queues what the policy arranges and records
each play: all through the jukebox, never through the daemon. Playlists MPD lacks are skipped with a warning (the
policy falls back to the tagger's and then the whole library), never a refusal; before the first mood is known the
resting mood's music plays. A store that cannot be opened is tried again with backoff, and old feedback is folded
into the learning summary at start and once a day.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from moodbox.music.player import Player, PlayerState, PlayerUnavailable, PlaylistUnavailable
from moodbox.music.policy import RESTING_MOOD, MusicPolicy
from moodbox.music.compaction import compact_feedback
from moodbox.music.reopening import ReopeningStore
from moodbox.music.store import Event, StoreError

if TYPE_CHECKING:
    from moodbox.config import Config
    from moodbox.perception.mood import MoodState

log = logging.getLogger(__name__)


COMPACT_EVERY_S = 86400.0  # old feedback is folded into the learning summary at start and once a day
RECHECK_PLAYLISTS_S = 30.0  # while a playlist is skipped: music and playlists added since (mpc update, a scan) play


class Jukebox:
    """Chooses and plays the music for a mood, and learns from the feedback::

        jukebox = Jukebox(config)
        jukebox.follow(mood_state, now, face=True)  # True: switched to the mood's playlist
    """

    def __init__(self, config: Config, *, clock: Callable[[], float] = time.monotonic):
        self.config = config
        self.clock = clock
        self.policy = self._policy(config)
        # the music plays without it (the status says why nothing is recorded); it is retried with backoff
        self.store = ReopeningStore(Path(config.state.dir) / "feedback.db", clock=clock)
        self._next_compaction = float("-inf")
        self._compact_if_due()
        self.player = Player.from_config(config, store=self.store, clock=clock, arrange=self._arrange_songs,
                                         witness=self._witnessed)
        self._playlists_checked = False
        self._checked_at = float("-inf")

    def start(self, wait_s: float, stop: threading.Event) -> None:
        """Give MPD up to ``wait_s`` to answer (it may be starting alongside us; ``stop`` cuts it short), then check
        the playlists. Without MPD the box runs degraded until it is up."""
        deadline = time.monotonic() + wait_s
        while not self.player.connect() and time.monotonic() < deadline and not stop.wait(0.1):
            pass
        try:
            if self.player.connected:
                self.check_playlists()
        except PlayerUnavailable as err:  # greeted, then did not answer: a hung MPD
            log.warning("%s", err)
        if not self.player.connected:
            log.warning("MPD at %s is not up yet; running degraded until it is", self.player.address)

    def check_playlists(self) -> None:
        """Missing and empty playlists are skipped with a warning (the policy falls back to others), never a
        refusal: a fresh box has none, and one deleted playlist must not silence the speaker."""
        available = self.policy.available
        wanted = available.wanted()
        missing = self.player.check_playlists(wanted)
        self._playlists_checked, self._checked_at = True, self.clock()
        available.mark_unavailable(missing, [name for name in wanted
                                             if name not in missing and self.player.playlist_length(name) == 0])

    def poll(self) -> PlayerState:
        """What MPD does now; the first time it answers after a start without it, the playlists are checked, and
        again every RECHECK_PLAYLISTS_S while some are skipped. A store that could not be opened is tried again (with
        backoff), and old feedback compacted once a day."""
        self.store.retry()
        self._compact_if_due()
        player_state = self.player.poll()
        recheck = self.policy.available.skipping() and self.clock() >= self._checked_at + RECHECK_PLAYLISTS_S
        if player_state.connected and (not self._playlists_checked or recheck):
            try:
                self.check_playlists()
            except PlayerUnavailable as err:
                log.warning("%s", err)
                player_state = self.player.last_state
        return player_state

    def follow(self, state: MoodState | None, now: float, *, face: bool) -> bool:
        """Pause for an empty room, resume when someone is back, switch to the mood's playlist unless held;
        True when switched. ``face``: whether a face was in view in this look (the policy's witness counts how much
        of a song was seen, and nothing is explored with nobody in view). Before the first mood is known (the camera
        off or lost from the start too) the resting mood's music plays."""
        playing = self.player.last_state
        self.policy.witness.observe(now, playing.track, playing.state == "play", face=face,
                                    confidence=state.confidence if state else None)
        if state is not None:
            self.player.follow_presence(state.present, state.pause_music)
        if self.policy.held(now):
            return False
        if state is None or state.mood is None:
            playlist = self._choose(self.policy.music_mood(RESTING_MOOD, 0.0), present=face, mood=None)
            if playlist is None:
                return False
            log.info("no mood known yet: playing %s, the %s music", playlist, RESTING_MOOD)
            return self._switch(playlist, self.config.music.switch, mood=None, reason="no mood yet")
        music_mood = self.policy.music_mood(state.mood, now - state.since)
        playlist = self._choose(music_mood, present=face, mood=state.mood)
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
        replacement = self._choose(self.policy.music_mood(state.mood, now - state.since), present=True,
                                   mood=state.mood)
        if replacement is None:
            return False
        log.info("%s rejected for mood %s: switching to %s", self.player.playlist, state.mood, replacement)
        return self._switch(replacement, "now", mood=state.mood, reason="skip")

    def _choose(self, music_mood: str, *, present: bool, mood: str | None) -> str | None:
        """The policy's playlist for the mood, None when that is what plays already (then the songs that start
        from now on count for ``mood``, as they would after a switch)."""
        playlist = self.policy.choose(music_mood, current=self.player.playlist, present=present)
        if playlist is None or playlist != self.player.playlist:
            return playlist
        self.player.keep_for(mood)
        return None

    def _switch(self, playlist: str, mode: str, *, mood: str | None, reason: str) -> bool:
        try:
            return self.player.switch_to(playlist, mode, mood=mood, reason=reason)
        except PlaylistUnavailable as err:  # deleted or renamed in MPD since the start: choose another next time
            self.policy.available.mark_unusable(err.playlist, str(err))
            return False

    def record(self, event: str, playing: PlayerState, *, expression: str | None, mood: MoodState | None) -> None:
        """Feedback for the store, with what the box saw and played at that moment, how far into the song (an
        early skip is a strong "no"), the mood's confidence and whether the music was held (the policy weighs the
        evidence by them). It counts for the playlist the track came from: a song kept through an "after_current"
        switch still belongs to the old playlist. StoreError while the store cannot be opened."""
        self.store.record_feedback(action=event, expression=expression, mood=mood.mood if mood else None,
                                   playlist=playing.track_playlist or self.player.playlist, track=playing.track,
                                   elapsed_s=playing.elapsed, confidence=mood.confidence if mood else None,
                                   held=self.policy.held(self.clock()))

    def _witnessed(self, track: str | None) -> dict:
        return self.policy.witness.of(track)  # the policy in use now (a reload may replace it)

    def problems(self, player_state: PlayerState) -> list[str]:
        """What keeps the music side from working as it should, for the status."""
        problems = []
        if not player_state.connected:
            problems.append(f"MPD down at {self.player.address}")
        if player_state.error:  # e.g. its audio output cannot be opened: MPD sits paused, the speaker is silent
            problems.append(f"MPD reports an error: {player_state.error}")
        if player_state.enabled_outputs == 0:
            problems.append(f"MPD at {self.player.address} has no enabled audio output (mpc enable 1)")
        if self.store.last_error:
            where = " (config key state.dir)" if self.store.unopenable else ""
            problems.append(f"feedback not recorded: {self.store.last_error}{where}")
        return problems

    def live(self) -> dict:
        """The music side of the status, from the last known state (never waiting on MPD)."""
        playing = self.player.last_state
        rounded = lambda seconds: None if seconds is None else round(seconds, 1)  # noqa: E731
        return {"playlist": self.player.playlist, "now_playing": playing.title,
                "mpd": "connected" if playing.connected else "down",
                "held_for_s": round(self.policy.held_for_s(self.clock()), 1),
                "store": str(Path(self.config.state.dir) / "feedback.db"),  # where moodbox top finds the history
                "warnings": self.policy.available.warnings(),  # skipped playlists, fallbacks: plays, not as asked
                "track": playing.track, "state": playing.state, "elapsed_s": rounded(playing.elapsed),
                "duration_s": rounded(playing.duration), "volume": playing.volume}

    def reload(self, new: Config) -> Callable[[], None]:
        """Build what a new config changes (raising leaves everything as it was); returns the swap to run once
        every other part is built too."""
        old = self.config
        policy = player = None
        if new.music != old.music:
            policy = self._policy(new)
        if new.mpd != old.mpd or new.music.shuffle != old.music.shuffle:
            player = Player.from_config(new, store=self.store, clock=self.clock, handover=self.player,
                                        arrange=self._arrange_songs, witness=self._witnessed)

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

    def _policy(self, config: Config) -> MusicPolicy:
        return MusicPolicy.from_config(config, events=self._feedback_events, songs=self._playlist_songs,
                                       summary=self._feedback_summary)

    def _compact_if_due(self) -> None:
        """Fold old feedback into the learning summary (at start, then daily; after a failure, an hour later)."""
        now = self.clock()
        if now < self._next_compaction:
            return
        try:
            compact_feedback(self.store, half_life_days=self.config.music.half_life_days,
                             history_days=self.config.state.history_days)
            self._next_compaction = now + COMPACT_EVERY_S
        except StoreError as err:
            log.warning("old feedback not compacted: %s", err)
            self._next_compaction = now + COMPACT_EVERY_S / 24

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
        try:
            return self.store.events_after(last_id)
        except StoreError as err:
            log.error("%s", err)
            return []

    def _feedback_summary(self) -> tuple[int, str] | None:
        return self.store.summary()  # a StoreError tells the policy to wait
