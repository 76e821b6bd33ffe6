"""The daemon: one loop that turns a look at the listener into music, once per ``camera.interval_s``.

    frame -> faces -> listener -> crop -> expression -> mood -> playlist -> MPD

:meth:`Daemon.tick` is that flow, top to bottom. Around it: start-up checks that refuse to run half-way (bad config,
bad model), sd_notify (READY, STATUS, WATCHDOG), the control socket and buttons (both through
:meth:`Daemon.handle_action` and the table in :mod:`moodbox.frontends.actions`), SIGTERM to stop and SIGHUP to
reload the config. Missing playlists are skipped (the policy falls back, the status says so), never a refusal. A lost
camera or a restarting MPD makes the status "degraded" and the loop keeps going until they are back; a camera call
that has been stuck for CAMERA_STUCK_RESTART_S stops the watchdog pings, so that systemd restarts the service.

The daemon wires the parts and keeps none of their state: each part is built by its own ``from_config``.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import resource
import signal
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from moodbox.frontends.actions import ACTIONS
from moodbox.perception.camera import Camera
from moodbox.config import DAEMON_SECTIONS, Config, ConfigError, load_config
from moodbox.frontends.control import ControlError, ControlServer
from moodbox.errors import MoodboxError
from moodbox.perception.expression import ModelError
from moodbox.perception.frames import FrameSource
from moodbox.perception.mood import MoodState, MoodTracker
from moodbox.music.policy import RESTING_MOOD, MusicPolicy, compact_feedback
from moodbox.notify import notify, watchdog_period_s
from moodbox.perception.pipeline import Perception
from moodbox.music.player import Player, PlayerState, PlayerUnavailable, PlaylistUnavailable
from moodbox.music.store import ReopeningStore, StoreError

log = logging.getLogger("moodbox.daemon")

EXIT_FAILURE = 1      # could not start: control socket, buttons
EXIT_CONFIG = 2       # the config file is invalid
EXIT_MODEL = 3        # the expression model is missing, corrupt or does not match its JSON

# A camera call stuck this long (a hung driver) blocks every reopen; only a new process gets rid of it, so the
# daemon stops feeding the systemd watchdog and systemd restarts the service (WatchdogSec later).
CAMERA_STUCK_RESTART_S = 60.0
COMPACT_EVERY_S = 86400.0  # old feedback is folded into the learning summary at start and once a day


class StartupError(MoodboxError):
    """The daemon refuses to start; ``exit_code`` tells why (see the EXIT_* constants)."""

    def __init__(self, message: str, exit_code: int):
        super().__init__(message)
        self.exit_code = exit_code


@dataclass(frozen=True)
class Tick:
    """What one pass of the loop saw and did (the demo prints it; tests read it)."""
    at: float
    status: str                   # "ok" | "degraded" | "paused"
    problems: tuple[str, ...]     # why degraded
    face: bool
    expression: str | None        # top expression of this frame
    confidence: float | None
    mood: str | None              # smoothed mood
    mood_confidence: float
    playlist: str | None
    now_playing: str | None
    switched: bool                # the playlist changed in this tick
    held: bool


class Daemon:
    """The moodbox service. ``start()`` (may raise StartupError), then ``run()`` until SIGTERM or ``stop()``.

    ``frame_source_factory``, ``pin_factory``, ``face_finder`` and ``expression_model`` replace the hardware and
    the model stages (demo and tests); ``clock`` is the monotonic clock used for the mood and the backoffs.
    """

    def __init__(self, config: Config, *, frame_source_factory: Callable[[], FrameSource] | None = None,
                 pin_factory: Any = None, clock: Callable[[], float] = time.monotonic,
                 face_finder: Any = None, expression_model: Any = None, mpd_wait_s: float | None = None,
                 on_tick: Callable[[Tick], None] | None = None):
        self.config = config
        self._on_tick = on_tick
        self._frame_source_factory = frame_source_factory
        self._pin_factory = pin_factory
        self.clock = clock
        self._mpd_wait_s = config.mpd.timeout_s if mpd_wait_s is None else mpd_wait_s
        self._face_finder, self._expression_model = face_finder, expression_model
        self.perception: Perception | None = None
        self.store: ReopeningStore | None = None
        self.player: Player | None = None
        self.camera: Camera | None = None
        self.buttons = None
        self.control: ControlServer | None = None
        self.mood: MoodTracker | None = None
        self.policy: MusicPolicy | None = None
        self._lock = threading.RLock()  # main loop vs control socket and button threads
        self._stop = threading.Event()
        self._ready = False  # READY=1 was sent, so systemd expects STOPPING=1 at the end
        self._reload_requested = False
        self._playlists_checked = False
        self._last_expression: str | None = None
        self._last_expression_at: float | None = None
        self._watchdog_starved = False  # pings withheld because a camera call is stuck
        self._next_compaction = float("-inf")
        self._last_status_line: str | None = None
        self.last_tick: Tick | None = None

    # -- start and stop ---------------------------------------------------------------------------------------

    def start(self) -> None:
        """Bring every part up, or close what was opened and raise StartupError: never a half-started daemon."""
        try:
            self._start_parts()
        except BaseException:
            self.close()
            raise
        notify(READY=1, STATUS=self._status_line())
        self._ready = True
        log.info("moodbox ready: %s", self._status_line())

    def _start_parts(self) -> None:
        config = self.config
        try:
            self.perception = Perception.from_config(config, finder=self._face_finder, model=self._expression_model)
        except ModelError as err:
            raise StartupError(f"expression model refused: {err}", EXIT_MODEL) from err
        self.mood = MoodTracker.from_config(config, self.perception.labels)
        self.policy = MusicPolicy.from_config(config, events=self._feedback_events, songs=self._playlist_songs,
                                              summary=self._feedback_summary)
        # the music plays without it (the status says why nothing is recorded); it is retried with backoff
        self.store = ReopeningStore(Path(config.state.dir) / "feedback.db", clock=self.clock)
        self._compact_if_due()
        self.player = Player.from_config(config, store=self.store, clock=self.clock, arrange=self._arrange_songs)
        self._wait_for_mpd()
        try:
            if self.player.connected:
                self._check_playlists()
        except PlayerUnavailable as err:  # greeted, then did not answer: a hung MPD
            log.warning("%s", err)
        if not self.player.connected:
            log.warning("MPD at %s is not up yet; running degraded until it is", self.player.address)
        self.control = ControlServer(config.state.control_socket, self._handle_request)
        try:
            self.control.start()
        except ControlError as err:
            raise StartupError(f"{err} (config key state.control_socket)", EXIT_FAILURE) from err
        if config.buttons.enabled:
            from moodbox.frontends.buttons import Buttons, ButtonsError  # gpiozero only when buttons are used

            try:
                self.buttons = Buttons.from_config(config, on_action=self.handle_action,
                                                   pin_factory=self._pin_factory)
            except (ButtonsError, ValueError) as err:
                raise StartupError(f"{err} (config [buttons]; set buttons.enabled = false on a box without "
                                   "buttons)", EXIT_FAILURE) from err
        self.camera = self._make_camera(config)

    def _make_camera(self, config: Config, *, paused: bool = False) -> Camera:
        return Camera.from_config(config, open_frame_source=self._frame_source_factory, on_active=self._camera_active,
                                  clock=self.clock, paused=paused)

    def _wait_for_mpd(self) -> None:
        """Give MPD up to ``mpd_wait_s`` to answer (it may be starting alongside us); SIGTERM cuts it short."""
        deadline = time.monotonic() + self._mpd_wait_s
        while not self.player.connect() and time.monotonic() < deadline and not self._stop.wait(0.1):
            pass

    def _check_playlists(self) -> None:
        """Missing and empty playlists are skipped with a warning: the policy falls back to others."""
        wanted = self.policy.wanted_playlists()
        missing = self.player.check_playlists(wanted)
        self._playlists_checked = True
        self.policy.mark_unavailable(missing, [name for name in wanted
                                               if name not in missing and self.player.playlist_length(name) == 0])

    def close(self) -> None:
        """Stop every part that was started (safe to call twice): camera and LED off, sockets closed."""
        if self._ready:  # a start that failed never said READY=1: systemd sees the exit code, not a stop
            notify(STOPPING=1)
            self._ready = False
        for part in ("camera", "buttons", "control", "player", "store"):  # the camera first: LED off at once
            thing = getattr(self, part)
            if thing is not None:
                try:
                    thing.close()
                except Exception:
                    log.exception("closing the %s failed", part)
                setattr(self, part, None)

    # -- the loop ---------------------------------------------------------------------------------------------

    def run(self, duration_s: float | None = None) -> None:
        """Tick at the fixed interval until stopped (or for ``duration_s``), then close everything.

        On the main thread SIGTERM and SIGINT stop the loop and SIGHUP reloads the config.
        """
        if threading.current_thread() is threading.main_thread():
            self.install_signal_handlers()
        watchdog_s = watchdog_period_s()
        next_tick = self.clock()
        end = float("inf") if duration_s is None else next_tick + duration_s
        try:
            while not self._stop.is_set() and self.clock() < end:
                try:
                    if self._reload_requested:
                        self.reload()
                    tick = self.tick()
                    self._feed_watchdog()  # MPD cannot hold a tick up: every MPD call is bounded, one per tick
                    if self._on_tick is not None:
                        self._on_tick(tick)
                except Exception:
                    log.exception("tick failed; trying again next interval")
                next_tick += self.config.camera.interval_s
                if next_tick < self.clock():  # a slow tick: skip the missed ones instead of catching up
                    next_tick = self.clock()
                self._wait(min(next_tick, end), watchdog_s)
        finally:
            self.close()

    def _wait(self, until: float, watchdog_s: float | None) -> None:
        """Sleep until ``until`` or stop(); under a systemd watchdog, ping it at least every half period while
        waiting, since camera.interval_s may be far longer than WatchdogSec."""
        while not self._stop.is_set():
            left = until - self.clock()
            if left <= 0:
                return
            if watchdog_s is not None:
                left = min(left, watchdog_s / 2)
            if self._stop.wait(left):
                return
            if watchdog_s is not None:
                self._feed_watchdog()

    def _feed_watchdog(self) -> None:
        """WATCHDOG=1, unless a camera call has been stuck for CAMERA_STUCK_RESTART_S: then systemd restarts us."""
        stuck_s = self.camera.stuck_for_s() if self.camera is not None else 0.0
        if stuck_s >= CAMERA_STUCK_RESTART_S:
            if not self._watchdog_starved:
                log.error("a camera call has been stuck for %.0f s: no more watchdog pings, so that systemd "
                          "restarts moodbox (only a new process gets rid of a hung camera call)", stuck_s)
                self._watchdog_starved = True
            return
        self._watchdog_starved = False
        notify(WATCHDOG=1)

    def install_signal_handlers(self) -> None:
        """SIGTERM and SIGINT stop, SIGHUP reloads. ``moodbox run`` installs them before start(), so a SIGTERM
        while the model loads or MPD is awaited ends the daemon cleanly instead of killing it. The stop runs in a
        short-lived thread: a handler runs in the main thread between two of its steps, and setting the stop
        event there deadlocks when the main thread is inside that event's wait() holding its lock."""
        def stop_in_a_thread(*_):
            threading.Thread(target=self.stop, name="stop", daemon=True).start()

        signal.signal(signal.SIGTERM, stop_in_a_thread)
        signal.signal(signal.SIGINT, stop_in_a_thread)
        signal.signal(signal.SIGHUP, lambda *_: self.request_reload())

    def stop(self) -> None:
        self._stop.set()
        if self.player is not None:  # a tick waiting on a hung MPD must not hold up the stop
            self.player.interrupt()

    def tick(self) -> Tick:
        """One look at the listener, and what the music does about it."""
        now = self.clock()
        self.store.retry()
        self._compact_if_due()
        frame = self.camera.grab()
        reading = None
        if frame is not None:  # no frame (camera paused or lost) is no news: the mood stays as it was
            reading = self.perception.look(frame)
            self.mood.update(now, reading.probabilities)
        with self._lock:
            if reading is not None and reading.expression is not None:
                self._last_expression, self._last_expression_at = reading.expression, now
            player_state = self.player.poll()
            if player_state.connected and not self._playlists_checked:
                try:
                    self._check_playlists()
                except PlayerUnavailable as err:
                    log.warning("%s", err)
                    player_state = self.player.last_state
            mood = self.mood.state
            switched = self._follow_mood(now, mood)
            if switched:
                player_state = self.player.poll()
            problems = self._problems(player_state)
            tick = Tick(at=now, status=self._status(problems), problems=problems,
                        face=reading is not None and reading.face,
                        expression=reading.expression if reading else None,
                        confidence=reading.confidence if reading else None,
                        mood=mood.mood if mood else None, mood_confidence=mood.confidence if mood else 0.0,
                        playlist=self.player.playlist, now_playing=player_state.title, switched=switched,
                        held=self.policy.held(now))
            self.last_tick = tick
        self._send_status()
        return tick

    def _follow_mood(self, now: float, state: MoodState | None) -> bool:
        """Pause for an empty room, resume when someone is back, switch to the mood's playlist unless held. Before
        the first mood is known (the camera off or lost from the start too) the resting mood's music plays."""
        if state is not None:
            self.player.follow_presence(state.present, state.pause_music)
        if self.policy.held(now):
            return False
        known = state is not None and state.mood is not None
        mood = state.mood if known else RESTING_MOOD
        music_mood = self.policy.music_mood(mood, now - state.since if known else 0.0)
        playlist = self.policy.choose(music_mood, current=self.player.playlist)
        if playlist is None or playlist == self.player.playlist:
            return False
        if known:
            log.info("mood %s (%.2f): switching to %s%s", mood, state.confidence, playlist,
                     "" if music_mood == mood else f" (lifting towards {music_mood})")
        else:
            log.info("no mood known yet: playing %s, the %s music", playlist, RESTING_MOOD)
        try:
            return self.player.switch_to(playlist, self.config.music.switch, mood=state.mood if known else None,
                                         reason=f"mood {mood}" if known else "no mood yet")
        except PlaylistUnavailable as err:  # deleted or renamed in MPD since the start: choose another next tick
            self.policy.mark_unusable(err.playlist, str(err))
            return False

    def _problems(self, player_state: PlayerState) -> tuple[str, ...]:
        problems = []
        if self.camera.status == "lost":
            problems.append(f"camera lost ({self.camera.last_error})" if self.camera.last_error
                            else "camera lost")
        if not player_state.connected:
            problems.append(f"MPD down at {self.player.address}")
        if player_state.error:  # e.g. its audio output cannot be opened: MPD sits paused, the speaker is silent
            problems.append(f"MPD reports an error: {player_state.error}")
        if player_state.enabled_outputs == 0:
            problems.append(f"MPD at {self.player.address} has no enabled audio output (mpc enable 1)")
        if self.store.last_error:
            where = " (config key state.dir)" if self.store.unopenable else ""
            problems.append(f"feedback not recorded: {self.store.last_error}{where}")
        return tuple(problems)

    def _status(self, problems: tuple[str, ...]) -> str:
        if problems:
            return "degraded"
        return "paused" if self.camera.status == "paused" else "ok"

    def _status_line(self) -> str:
        tick = self.last_tick
        if tick is None:
            return "starting" if self.player is None or self.player.connected else "degraded: MPD not up yet"
        line = f"{tick.status}: mood {tick.mood or 'not known yet'}, playlist {tick.playlist or 'none'}"
        if tick.held:
            line += " (held)"
        if tick.problems:
            line += "; " + "; ".join(tick.problems)
        return line

    def _send_status(self) -> None:
        line = self._status_line()
        if line != self._last_status_line:
            self._last_status_line = line
            notify(STATUS=line)
            log.info("status: %s", line)

    # -- feedback: buttons and the control socket --------------------------------------------------------------

    def _handle_request(self, request: dict) -> dict:
        return self.handle_action(request["command"])

    def handle_action(self, name: str) -> dict:
        """Run an action of :data:`moodbox.frontends.actions.ACTIONS` (a button or ``moodbox <action>``); a JSON-able
        answer."""
        action = ACTIONS.get(name)
        if action is None:
            return {"ok": False, "error": f"unknown action {name!r}; expected one of {', '.join(ACTIONS)}"}
        if not action.locked:  # status: from the last known state, never waiting for a tick stuck on MPD
            return {"ok": True, **action.handler(self)}
        with self._lock:
            try:
                return {"ok": True, **action.handler(self)}
            except MoodboxError as err:
                log.error("%s failed: %s", name, err)
                return {"ok": False, "error": str(err)}

    def record(self, event: str, playing: PlayerState) -> None:
        """Feedback for the store, with what the box saw and played at that moment, and how far into the song (an
        early skip is a strong "no"). It counts for the playlist the track came from: a song kept through an
        "after_current" switch still belongs to the old playlist."""
        self.store.record_feedback(action=event, expression=self._last_expression, mood=self._current_mood(),
                                   playlist=playing.track_playlist or self.player.playlist, track=playing.track,
                                   elapsed_s=playing.elapsed)

    def replace_rejected_playlist(self) -> bool:
        """After an early skip: when the policy rejects the playing playlist for the mood (two early skips in a
        row, or no song left off hold-off), switch to its next choice at once; True when switched."""
        state = self.mood.state
        if state is None or state.mood is None or not self.policy.rejected():
            return False
        music_mood = self.policy.music_mood(state.mood, self.clock() - state.since)
        replacement = self.policy.choose(music_mood, current=self.player.playlist)
        if replacement is None or replacement == self.player.playlist:
            return False
        log.info("%s rejected for mood %s: switching to %s", self.player.playlist, state.mood, replacement)
        try:
            return self.player.switch_to(replacement, "now", mood=state.mood, reason="skip")
        except PlaylistUnavailable as err:
            self.policy.mark_unusable(err.playlist, str(err))
            return False

    def _camera_active(self, on: bool) -> None:
        if self.buttons is not None:
            self.buttons.set_camera_led(on)

    def _current_mood(self) -> str | None:
        return self.mood.state.mood if self.mood.state else None

    def _arrange_songs(self, songs: list[str]) -> tuple[set[int], list[int]]:
        return self.policy.arrange(songs)  # the policy in use now (a reload may replace it)

    def _playlist_songs(self, name: str) -> list[str] | None:
        """A playlist's songs for the policy's hold-off check; None (not known) while MPD is down."""
        try:
            return self.player.playlist_songs(name)
        except PlayerUnavailable:
            return None

    def _feedback_events(self, last_id: int) -> list:
        """The feedback log for the policy; nothing new while the store is closed or failing."""
        try:
            return self.store.events_after(last_id)
        except StoreError as err:
            log.error("%s", err)
            return []

    def _feedback_summary(self) -> tuple[int, str] | None:
        return self.store.summary()  # a StoreError tells the policy to wait

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

    def status(self) -> dict:
        """From the last tick and the parts' last known state, never waiting on MPD; status, problems and camera
        are read at the same moment, so they cannot disagree."""
        tick = self.last_tick
        now_playing = self.player.last_state
        problems = self._problems(now_playing) if tick else ()
        camera = self.camera.status
        seen_at = self._last_expression_at
        return {
            "status": self._status(problems) if tick else "starting",
            "problems": list(problems),
            "camera": camera,
            "face_in_view": tick.face if tick and camera == "ok" else None,  # None: the camera cannot tell now
            "mood": self._current_mood(),
            "expression": self._last_expression,
            "expression_age_s": None if seen_at is None else round(self.clock() - seen_at, 1),
            "playlist": self.player.playlist,
            "now_playing": now_playing.title,
            "mpd": "connected" if now_playing.connected else "down",
            "held_for_s": round(self.policy.held_for_s(self.clock()), 1),
            "store": str(Path(self.config.state.dir) / "feedback.db"),  # where moodbox top finds the history
            "warnings": self.policy.warnings(),  # skipped playlists, fallbacks: the box plays, but not as asked
            **self._live_details(),
        }

    def _live_details(self) -> dict:
        """For `moodbox top` and the phone page: the mood's confidence, the top expressions, and the song's progress
        and volume at the last look (like the rest of the status, never waiting on MPD)."""
        mood, playing = self.mood.state, self.player.last_state
        top = [] if mood is None else sorted(zip(self.mood.labels, mood.smoothed.tolist()), key=lambda p: -p[1])[:3]
        rounded = lambda seconds: None if seconds is None else round(seconds, 1)  # noqa: E731
        return {"mood_confidence": round(mood.confidence, 3) if mood else None,
                "expressions": {label: round(p, 3) for label, p in top if p > 0}, "track": playing.track,
                "state": playing.state, "elapsed_s": rounded(playing.elapsed),
                "duration_s": rounded(playing.duration), "volume": playing.volume}

    # -- reload ---------------------------------------------------------------------------------------------

    def request_reload(self) -> None:
        """SIGHUP: reload the config at the start of the next tick (not inside the signal handler)."""
        self._reload_requested = True

    def reload(self) -> bool:
        """Re-read the config file; one that is invalid or whose parts cannot be built is refused, and the
        running config and parts stay (never a mix of old and new)."""
        self._reload_requested = False
        try:
            new = load_config(self.config.source_path, own=DAEMON_SECTIONS)
            if new == self.config:
                log.info("config reloaded: no changes")
                return True
            with self._lock:
                return self._apply(new)
        except Exception as err:  # ConfigError, ModelError, or anything a part raises: the daemon keeps going
            log.error("config reload refused, keeping the running config: %s", err)
            return False

    def _apply(self, new: Config) -> bool:
        """Build every changed part first, then swap them all in."""
        old = self.config
        parts = {}
        if new.model != old.model or new.face != old.face:  # a finder or model unchanged is kept
            parts["perception"] = Perception.from_config(
                new, model=self.perception.model if new.model == old.model else None,
                finder=self.perception.finder if new.face == old.face and new.model.threads == old.model.threads
                else None)
        labels = parts.get("perception", self.perception).labels
        if new.mood != old.mood or labels != self.perception.labels:
            parts["mood"] = MoodTracker.from_config(new, labels)
        if new.music != old.music:
            parts["policy"] = MusicPolicy.from_config(new, events=self._feedback_events, songs=self._playlist_songs,
                                                      summary=self._feedback_summary)
        if new.mpd != old.mpd or new.music.shuffle != old.music.shuffle:
            parts["player"] = Player.from_config(new, store=self.store, clock=self.clock, handover=self.player,
                                                 arrange=self._arrange_songs)
        if new.camera != old.camera:  # the privacy pause outlives a new camera: only the listener lifts it
            parts["camera"] = self._make_camera(new, paused=self.camera.status == "paused")
        for name in ("player", "camera"):
            if name in parts:
                getattr(self, name).close()
        for name, part in parts.items():
            setattr(self, name, part)
        if "policy" in parts or "player" in parts:
            self._playlists_checked = False
        for section in ("buttons", "state"):
            if getattr(new, section) != getattr(old, section):
                log.warning("config [%s] changed: restart moodbox to apply it", section)
        self.config = dataclasses.replace(new, buttons=old.buttons, state=old.state)
        log.info("config reloaded from %s", new.source_path)
        return True


class JournalFormatter(logging.Formatter):
    """``<N>name: message``: journald reads the syslog priority from the prefix (sd-daemon(3)); no timestamps."""

    PRIORITIES = {logging.DEBUG: 7, logging.INFO: 6, logging.WARNING: 4, logging.ERROR: 3, logging.CRITICAL: 2}

    def format(self, record: logging.LogRecord) -> str:
        text = f"<{self.PRIORITIES.get(record.levelno, 6)}>{record.name}: {record.getMessage()}"
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info).replace("\n", "\n<3>")
        return text


def setup_logging(verbose: bool = False, *, journal: bool | None = None) -> None:
    """Log to stderr: journald priority prefixes under systemd ($JOURNAL_STREAM), "LEVEL name: msg" otherwise."""
    handler = logging.StreamHandler(sys.stderr)
    if journal is None:
        journal = bool(os.environ.get("JOURNAL_STREAM"))
    handler.setFormatter(JournalFormatter() if journal else logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    logging.getLogger("mpd").setLevel(logging.WARNING)  # python-mpd2 logs every command at INFO


def forbid_core_dumps() -> None:
    """A native crash (LiteRT, OpenCV, libcamera) must not write process memory, camera frames included, to disk."""
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def run_daemon(config_path: str | Path, *, verbose: bool = False) -> int:
    """``moodbox run``: load the config, start, loop until SIGTERM; returns the process exit code."""
    setup_logging(verbose)
    forbid_core_dumps()
    try:
        config = load_config(config_path, own=DAEMON_SECTIONS)
    except ConfigError as err:
        log.error("%s", err)
        return EXIT_CONFIG
    daemon = Daemon(config)
    daemon.install_signal_handlers()
    try:
        daemon.start()
    except StartupError as err:
        log.error("not starting: %s", err)
        return err.exit_code
    daemon.run()
    log.info("moodbox stopped")
    return 0
