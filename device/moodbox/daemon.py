"""The daemon: one loop that turns a look at the listener into music, once per ``camera.interval_s``.

    Perception.look (frame -> faces -> listener -> crop -> expression) -> MoodTracker.update -> Jukebox.follow

:meth:`Daemon.tick` is that flow, top to bottom. Around it: start-up checks that refuse to run half-way (bad config,
bad model; missing playlists are skipped, never a refusal), sd_notify (READY, STATUS, WATCHDOG), the control
socket and buttons (both through :meth:`Daemon.handle_action` and :mod:`moodbox.frontends.actions`), SIGTERM to stop
and SIGHUP to reload the config.
A lost camera or a restarting MPD makes the status "degraded" and the loop keeps going until they are back; a camera
call stuck for CAMERA_STUCK_RESTART_S stops the watchdog pings, so that systemd restarts the service. The daemon
wires the parts and keeps none of their state: the music side is the :class:`~moodbox.music.jukebox.Jukebox`'s.
"""

from __future__ import annotations

import dataclasses
import logging
import signal
import threading
import time
from typing import Any, Callable

from moodbox.config import DAEMON_SECTIONS, Config, load_config
from moodbox.errors import EXIT_FAILURE, EXIT_MODEL, MoodboxError
from moodbox.frontends.actions import ACTIONS, Refused
from moodbox.frontends.control import ControlError, ControlServer
from moodbox.music.jukebox import Jukebox
from moodbox.music.player import PlayerState
from moodbox.notify import Watchdog, notify, watchdog_period_s
from moodbox.perception.camera import Camera
from moodbox.perception.expression import ModelError
from moodbox.perception.frames import FrameSource
from moodbox.perception.mood import MoodTracker
from moodbox.perception.pipeline import Perception
from moodbox.status import Tick, box_status, status_line

log = logging.getLogger("moodbox.daemon")

# A camera call stuck this long (a hung driver) blocks every reopen; only a new process gets rid of it, so the
# daemon stops feeding the systemd watchdog and systemd restarts the service (WatchdogSec later).
CAMERA_STUCK_RESTART_S = 60.0


class StartupError(MoodboxError):
    """The daemon refuses to start; ``exit_code`` tells why (the EXIT_* table of :mod:`moodbox.errors`)."""

    def __init__(self, message: str, exit_code: int):
        super().__init__(message)
        self.exit_code = exit_code


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
        self.mood: MoodTracker | None = None
        self.jukebox: Jukebox | None = None
        self.camera: Camera | None = None
        self.buttons = None
        self.control: ControlServer | None = None
        self._lock = threading.RLock()  # main loop vs control socket and button threads
        self._stop = threading.Event()
        self._ready = False  # READY=1 was sent, so systemd expects STOPPING=1 at the end
        self._reload_requested = False
        self._last_expression: str | None = None
        self._last_expression_at: float | None = None
        self.watchdog = Watchdog(CAMERA_STUCK_RESTART_S)
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
        self.jukebox = Jukebox(config, clock=self.clock)
        self.jukebox.start(self._mpd_wait_s, self._stop)
        self.control = ControlServer(config.state.control_socket,
                                     lambda request: self.handle_action(request["command"], request))
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

    def close(self) -> None:
        """Stop every part that was started (safe to call twice): camera and LED off, sockets closed."""
        if self._ready:  # a start that failed never said READY=1: systemd sees the exit code, not a stop
            notify(STOPPING=1)
            self._ready = False
        for part in ("camera", "buttons", "control", "jukebox"):  # the camera first: LED off at once
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
        self.watchdog.feed(self.camera.stuck_for_s() if self.camera is not None else 0.0)

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
        if self.jukebox is not None:  # a tick waiting on a hung MPD must not hold up the stop
            self.jukebox.interrupt()

    def tick(self) -> Tick:
        """One look at the listener, and what the music does about it."""
        now = self.clock()
        frame = self.camera.grab()
        reading = None
        if frame is not None:  # no frame (camera paused or lost) is no news: the mood stays as it was
            reading = self.perception.look(frame)
            self.mood.update(now, reading.probabilities)
        with self._lock:
            if reading is not None and reading.expression is not None:
                self._last_expression, self._last_expression_at = reading.expression, now
            player_state = self.jukebox.poll()
            mood = self.mood.state
            switched = self.jukebox.follow(mood, now, face=reading is not None and reading.face)
            if switched:
                player_state = self.jukebox.player.poll()
            problems = self._problems(player_state)
            tick = Tick(at=now, status=self._status(problems), problems=problems,
                        face=reading is not None and reading.face,
                        expression=reading.expression if reading else None,
                        confidence=reading.confidence if reading else None,
                        mood=mood.mood if mood else None, mood_confidence=mood.confidence if mood else 0.0,
                        playlist=self.jukebox.player.playlist, now_playing=player_state.title, switched=switched,
                        held=self.jukebox.policy.held(now))
            self.last_tick = tick
        self._send_status()
        return tick

    def _problems(self, player_state: PlayerState) -> tuple[str, ...]:
        problems = []
        if self.camera.status == "lost":
            problems.append(f"camera lost ({self.camera.last_error})" if self.camera.last_error
                            else "camera lost")
        return tuple(problems + self.jukebox.problems(player_state))

    def _status(self, problems: tuple[str, ...]) -> str:
        if problems:
            return "degraded"
        return "paused" if self.camera.status == "paused" else "ok"

    def _status_line(self) -> str:
        return status_line(self.last_tick, mpd_up=self.jukebox is None or self.jukebox.player.connected)

    def _send_status(self) -> None:
        line = self._status_line()
        if line != self._last_status_line:
            self._last_status_line = line
            notify(STATUS=line)
            log.info("status: %s", line)

    # -- feedback: buttons and the control socket --------------------------------------------------------------

    def handle_action(self, name: str, request: dict | None = None) -> dict:
        """Run an action of :data:`~moodbox.frontends.actions.ACTIONS` (its parameters from ``request``)."""
        action = ACTIONS.get(name)
        if action is None:
            return {"ok": False, "error": f"unknown action {name!r}; expected one of {', '.join(ACTIONS)}"}
        if not action.locked:  # status: from the last known state, never waiting for a tick stuck on MPD
            return {"ok": True, **action.run(self, request)}
        with self._lock:
            try:
                return {"ok": True, **action.run(self, request)}
            except MoodboxError as err:  # a Refused one is an ordinary refusal (nothing to skip), not a failure
                refused = isinstance(err, Refused)
                log.log(logging.INFO if refused else logging.ERROR, "%s: %s", name, err)
                return {"ok": False, "error": str(err), **({"refused": True} if refused else {})}

    def record(self, event: str, playing: PlayerState) -> None:
        """Feedback into the store, with what the box saw at that moment (see :meth:`Jukebox.record`)."""
        self.jukebox.record(event, playing, expression=self._last_expression, mood=self.mood.state)

    def replace_rejected_playlist(self) -> bool:
        """After an early skip: another playlist at once when the policy rejects this one for the mood."""
        return self.jukebox.replace_rejected(self.mood.state, self.clock())

    def _camera_active(self, on: bool) -> None:
        if self.buttons is not None:
            self.buttons.set_camera_led(on)

    def status(self) -> dict:
        """From the last tick and the parts' last known state, never waiting on MPD; status, problems and camera
        are read at the same moment, so they cannot disagree."""
        tick = self.last_tick
        problems = self._problems(self.jukebox.player.last_state) if tick else ()
        camera = self.camera.status
        seen_at = self._last_expression_at
        return box_status(
            status=self._status(problems) if tick else "starting", problems=list(problems), camera=camera,
            face_in_view=tick.face if tick and camera == "ok" else None,  # None: the camera cannot tell now
            expression=self._last_expression,
            expression_age_s=None if seen_at is None else round(self.clock() - seen_at, 1),
            **self.mood.live(), **self.jukebox.live())

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
        config = dataclasses.replace(new, buttons=old.buttons, state=old.state)
        swap_music = self.jukebox.reload(config)
        if new.camera != old.camera:  # the privacy pause outlives a new camera: only the listener lifts it
            parts["camera"] = self._make_camera(new, paused=self.camera.status == "paused")
        swap_music()
        if "camera" in parts:
            self.camera.close()
        for name, part in parts.items():
            setattr(self, name, part)
        for section in ("buttons", "state"):
            if getattr(new, section) != getattr(old, section):
                log.warning("config [%s] changed: restart moodbox to apply it", section)
        self.config = config
        log.info("config reloaded from %s", new.source_path)
        return True
