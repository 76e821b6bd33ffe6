"""The daemon: one loop that turns a look at the listener into music, once per ``camera.interval_s``.

    frame -> faces -> listener -> crop -> expression -> mood -> playlist -> MPD

:meth:`Daemon.tick` is that flow, top to bottom. Around it: start-up checks that refuse to run half-way (bad model,
missing playlists), sd_notify (READY, STATUS, WATCHDOG), the control socket and buttons (both through
:meth:`Daemon.handle_action`), SIGTERM to stop and SIGHUP to reload the config. A lost camera or a restarting MPD
makes the status "degraded" and the loop keeps going until they are back.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from moodbox.config import Config, ConfigError, load_config
from moodbox.control import ControlError, ControlServer
from moodbox.expression import ExpressionModel, ModelError
from moodbox.faces import FaceFinder, crop_face, pick_listener
from moodbox.frames import Camera, FrameSource, open_source
from moodbox.mood import MoodState, MoodTracker
from moodbox.music import MusicPolicy
from moodbox.notify import notify
from moodbox.player import Player, PlayerUnavailable
from moodbox.store import FeedbackStore, StoreError

log = logging.getLogger("moodbox.daemon")

EXIT_FAILURE = 1      # could not start: control socket, state directory, buttons
EXIT_CONFIG = 2       # the config file is invalid
EXIT_MODEL = 3        # the expression model is missing, corrupt or does not match its JSON
EXIT_PLAYLISTS = 4    # MPD lacks playlists the config names

ACTIONS = ("skip", "like", "hold", "pause", "status")


class StartupError(Exception):
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
        self._clock = clock
        self._mpd_wait_s = config.mpd.timeout_s if mpd_wait_s is None else mpd_wait_s
        self.face_finder = face_finder
        self.model = expression_model
        self.store: FeedbackStore | None = None
        self.player: Player | None = None
        self.camera: Camera | None = None
        self.buttons = None
        self.control: ControlServer | None = None
        self.mood: MoodTracker | None = None
        self.policy: MusicPolicy | None = None
        self._lock = threading.RLock()  # main loop vs control socket and button threads
        self._stop = threading.Event()
        self._reload_requested = False
        self._playlists_checked = False
        self._paused_for_absence = False
        self._mood_state: MoodState | None = None
        self._mood_since: tuple[str | None, float] = (None, 0.0)  # the mood and since when (for "lift")
        self._last_expression: str | None = None
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
        log.info("moodbox ready: %s", self._status_line())

    def _start_parts(self) -> None:
        config = self.config
        if self.model is None:
            try:
                self.model = ExpressionModel(config.model.path, threads=config.model.threads)
            except ModelError as err:
                raise StartupError(f"expression model refused: {err} (config key model.path in "
                                   f"{config.source_path or 'the config'})", EXIT_MODEL) from err
        if self.face_finder is None:
            self.face_finder = FaceFinder(config.face.detector, min_score=config.face.min_score,
                                          threads=config.model.threads)
        self.mood = self._make_mood_tracker(config)
        self.policy = self._make_policy(config)
        self.player = self._make_player(config)
        self._wait_for_mpd()
        if self.player.connected:
            self._check_playlists(refuse=True)
        else:
            log.warning("MPD at %s is not up yet; running degraded until it is", self.player.address)
        try:
            self.store = self.player.store = FeedbackStore(Path(config.state.dir) / "feedback.db")
        except StoreError as err:
            raise StartupError(f"{err} (config key state.dir)", EXIT_FAILURE) from err
        self.control = ControlServer(config.state.control_socket, self._handle_request)
        try:
            self.control.start()
        except ControlError as err:
            raise StartupError(f"{err} (config key state.control_socket)", EXIT_FAILURE) from err
        if config.buttons.enabled:
            self.buttons = self._make_buttons(config)
        self.camera = self._make_camera(config)

    def _make_mood_tracker(self, config: Config) -> MoodTracker:
        mood = config.mood
        return MoodTracker(self.model.labels, window_s=mood.window_s, min_confidence=mood.min_confidence,
                           hysteresis=mood.hysteresis, min_dwell_s=mood.min_dwell_s,
                           pause_after_absent_s=mood.pause_after_absent_min * 60.0)

    def _make_policy(self, config: Config) -> MusicPolicy:
        return MusicPolicy(config.music.playlists, hold_minutes=config.music.hold_minutes,
                           policy=config.music.policy, lift_step_min=config.music.lift_step_min,
                           scores=self._playlist_scores)

    def _make_player(self, config: Config) -> Player:
        return Player(config.mpd.host, config.mpd.port, timeout_s=config.mpd.timeout_s, store=self.store,
                      shuffle=config.music.shuffle, clock=self._clock)

    def _make_camera(self, config: Config) -> Camera:
        factory = self._frame_source_factory or (
            lambda: open_source(config.camera.source, size=config.camera.size))
        return Camera(factory, timeout_s=config.camera.grab_timeout_s, on_active=self._camera_active,
                      clock=self._clock)

    def _make_buttons(self, config: Config):
        from moodbox.buttons import Buttons, ButtonsError  # gpiozero only when buttons are used

        pins = config.buttons
        try:
            return Buttons(skip_pin=pins.skip_pin, like_pin=pins.like_pin, privacy_pin=pins.privacy_pin,
                           led_pin=pins.led_pin, pull_up=pins.pull_up, hold_time_s=pins.hold_time_s,
                           debounce_s=pins.debounce_s, on_action=self._on_button, pin_factory=self._pin_factory)
        except (ButtonsError, ValueError) as err:
            raise StartupError(f"{err} (config [buttons]; set buttons.enabled = false on a box without "
                               "buttons)", EXIT_FAILURE) from err

    def _wait_for_mpd(self) -> None:
        """Give MPD up to ``mpd_wait_s`` to answer (it may be starting alongside us)."""
        deadline = time.monotonic() + self._mpd_wait_s
        while not self.player.connect() and time.monotonic() < deadline:
            time.sleep(0.1)

    def _check_playlists(self, *, refuse: bool) -> None:
        """Missing playlists refuse the start; found later (MPD was down at start) they are logged and avoided."""
        wanted = self.config.all_playlists()
        missing = self.player.check_playlists(wanted)
        self._playlists_checked = True
        if missing:
            message = (f"MPD at {self.player.address} has no stored playlist named {', '.join(missing)} "
                       f"(config key music.playlists in {self.config.source_path or 'the config'}): create "
                       "them in MPD (e.g. `mpc save NAME`) or name existing ones")
            if refuse:
                raise StartupError(message, EXIT_PLAYLISTS)
            log.error("%s", message)
        self.policy.mark_empty(missing + [name for name in wanted
                                          if name not in missing and self.player.playlist_length(name) == 0])

    def close(self) -> None:
        """Stop every part that was started (safe to call twice): camera and LED off, sockets closed."""
        notify(STOPPING=1)
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
            signal.signal(signal.SIGTERM, lambda *_: self.stop())
            signal.signal(signal.SIGINT, lambda *_: self.stop())
            signal.signal(signal.SIGHUP, lambda *_: self.request_reload())
        next_tick = self._clock()
        end = float("inf") if duration_s is None else next_tick + duration_s
        try:
            while not self._stop.is_set() and self._clock() < end:
                if self._reload_requested:
                    self.reload()
                try:
                    tick = self.tick()
                    notify(WATCHDOG=1)
                    if self._on_tick is not None:
                        self._on_tick(tick)
                except Exception:
                    log.exception("tick failed; trying again next interval")
                next_tick += self.config.camera.interval_s
                now = self._clock()
                if next_tick < now:  # a slow tick: skip the missed ones instead of catching up
                    next_tick = now
                self._stop.wait(next_tick - now)
        finally:
            self.close()

    def stop(self) -> None:
        self._stop.set()

    def tick(self) -> Tick:
        """One look at the listener, and what the music does about it."""
        now = self._clock()
        frame = self.camera.grab()
        face, expression, confidence = False, None, None
        if frame is not None:  # no frame (camera paused or lost) is no news: the mood stays as it was
            listeners = pick_listener(self.face_finder.find(frame), self.config.face.listener)
            probabilities = None
            if listeners:
                crops = [crop_face(frame, listener, self.model.input_size, self.model.face_crop)
                         for listener in listeners]
                probabilities = np.mean([self.model.predict(crop) for crop in crops], axis=0)
                face, top = True, int(np.argmax(probabilities))
                expression, confidence = self.model.labels[top], float(probabilities[top])
            self._mood_state = self.mood.update(now, probabilities)
        with self._lock:
            if expression is not None:
                self._last_expression = expression
            player_state = self.player.poll()
            if player_state.connected and not self._playlists_checked:
                self._check_playlists(refuse=False)
            switched = self._follow_mood(now, self._mood_state)
            if switched:
                player_state = self.player.poll()
            problems = self._problems(player_state.connected)
            mood = self._mood_state
            tick = Tick(at=now, status=self._status(problems), problems=problems, face=face,
                        expression=expression, confidence=confidence,
                        mood=mood.mood if mood else None, mood_confidence=mood.confidence if mood else 0.0,
                        playlist=self.player.playlist, now_playing=player_state.title, switched=switched,
                        held=self.policy.held(now))
            self.last_tick = tick
        self._send_status()
        return tick

    def _follow_mood(self, now: float, state: MoodState | None) -> bool:
        """Pause for an empty room, resume when someone is back, switch to the mood's playlist unless held."""
        if state is None:
            return False
        try:
            if state.pause_music and not self._paused_for_absence:
                log.info("nobody here for a while: pausing the music")
                self.player.pause()
                self._paused_for_absence = True
            elif state.present and self._paused_for_absence:
                log.info("someone is back: resuming the music")
                self.player.play()
                self._paused_for_absence = False
        except PlayerUnavailable as err:
            log.warning("%s", err)
        if state.mood != self._mood_since[0]:
            self._mood_since = (state.mood, now)
        if state.mood is None or self.policy.held(now):
            return False
        music_mood = self.policy.music_mood(state.mood, now - self._mood_since[1])
        playlist = self.policy.choose(music_mood, current=self.player.playlist)
        if playlist is None or playlist == self.player.playlist:
            return False
        log.info("mood %s (%.2f): switching to %s%s", state.mood, state.confidence, playlist,
                 "" if music_mood == state.mood else f" (lifting towards {music_mood})")
        self.player.switch_to(playlist, self.config.music.switch, mood=state.mood, reason=f"mood {state.mood}")
        return True

    def _problems(self, mpd_connected: bool) -> tuple[str, ...]:
        problems = []
        if self.camera.status == "lost":
            problems.append(f"camera lost ({self.camera.last_error})" if self.camera.last_error
                            else "camera lost")
        if not mpd_connected:
            problems.append(f"MPD down at {self.player.address}")
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

    def _on_button(self, action: str) -> None:
        self.handle_action("pause" if action == "privacy" else action)

    def _handle_request(self, request: dict) -> dict:
        return self.handle_action(request["command"])

    def handle_action(self, action: str) -> dict:
        """skip | like | hold | pause | status, from a button or ``moodbox <action>``; answers a JSON-able dict."""
        if action not in ACTIONS:
            return {"ok": False, "error": f"unknown action {action!r}; expected one of {', '.join(ACTIONS)}"}
        with self._lock:
            if action == "status":
                return {"ok": True, **self.status()}
            if action == "pause":
                return {"ok": True, "camera": self._toggle_privacy_pause()}
            try:
                track = self.player.current().track
                if action == "skip":
                    self.player.skip()
                elif action == "hold":
                    now = self._clock()
                    if self.policy.held(now):
                        self.policy.release()
                    else:
                        self.policy.hold(now)
                held = self.policy.held(self._clock())
                self.store.record_feedback(action=action, expression=self._last_expression,
                                           mood=self._current_mood(), playlist=self.player.playlist, track=track)
            except (PlayerUnavailable, StoreError) as err:
                log.error("%s failed: %s", action, err)
                return {"ok": False, "error": str(err)}
            log.info("%s (playlist %s, track %s)", action, self.player.playlist, track)
            answer = {"ok": True, "action": action, "playlist": self.player.playlist, "track": track}
            if action == "hold":
                answer["held_for_s"] = round(self.policy.held_for_s(self._clock()), 1)
                answer["held"] = held
            return answer

    def _toggle_privacy_pause(self) -> str:
        if self.camera.status == "paused":
            self.camera.resume()
            log.info("privacy pause off: camera back on")
        else:
            self.camera.pause()
            log.info("privacy pause on: camera off")
        return self.camera.status

    def _camera_active(self, on: bool) -> None:
        if self.buttons is not None:
            self.buttons.set_camera_led(on)

    def _current_mood(self) -> str | None:
        return self._mood_state.mood if self._mood_state else None

    def _playlist_scores(self) -> dict[str, float]:
        if self.store is None:
            return {}
        try:
            return self.store.playlist_scores()
        except StoreError as err:
            log.error("%s", err)
            return {}

    def status(self) -> dict:
        tick = self.last_tick
        now_playing = self.player.current()
        return {
            "status": tick.status if tick else "starting",
            "problems": list(tick.problems) if tick else [],
            "camera": self.camera.status,
            "mood": self._current_mood(),
            "expression": self._last_expression,
            "playlist": self.player.playlist,
            "now_playing": now_playing.title,
            "mpd": "connected" if now_playing.connected else "down",
            "held_for_s": round(self.policy.held_for_s(self._clock()), 1),
        }

    # -- reload ---------------------------------------------------------------------------------------------

    def request_reload(self) -> None:
        """SIGHUP: reload the config at the start of the next tick (not inside the signal handler)."""
        self._reload_requested = True

    def reload(self) -> bool:
        """Re-read the config file; an invalid one is refused and the running config stays."""
        self._reload_requested = False
        try:
            new = load_config(self.config.source_path)
        except ConfigError as err:
            log.error("config reload refused, keeping the running config: %s", err)
            return False
        if new == self.config:
            log.info("config reloaded: no changes")
            return True
        with self._lock:
            return self._apply(new)

    def _apply(self, new: Config) -> bool:
        old = self.config
        if new.model != old.model:
            try:
                self.model = ExpressionModel(new.model.path, threads=new.model.threads)
            except ModelError as err:
                log.error("config reload refused, keeping the running config: %s", err)
                return False
        if new.face != old.face:
            self.face_finder = FaceFinder(new.face.detector, min_score=new.face.min_score,
                                          threads=new.model.threads)
        if new.mood != old.mood or new.model != old.model:
            self.mood = self._make_mood_tracker(new)
        if new.music != old.music:
            self.policy = self._make_policy(new)
            self._playlists_checked = False
        if new.mpd != old.mpd or new.music.shuffle != old.music.shuffle:
            playlist, mood = self.player.playlist, self.player.mood
            self.player.close()
            self.player = self._make_player(new)
            self.player.playlist, self.player.mood = playlist, mood
            self._playlists_checked = False
        if new.camera != old.camera:
            self.camera.close()
            self.camera = self._make_camera(new)
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


def run_daemon(config_path: str | Path, *, verbose: bool = False) -> int:
    """``moodbox run``: load the config, start, loop until SIGTERM; returns the process exit code."""
    setup_logging(verbose)
    try:
        config = load_config(config_path)
    except ConfigError as err:
        log.error("%s", err)
        return EXIT_CONFIG
    daemon = Daemon(config)
    try:
        daemon.start()
    except StartupError as err:
        log.error("not starting: %s", err)
        return err.exit_code
    daemon.run()
    log.info("moodbox stopped")
    return 0
