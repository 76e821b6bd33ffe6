"""``moodbox camera-check``: one look through the camera for an owner on SSH: grab a frame, find the face, print
the expression.

The frame stays in memory; it is
written to disk only when --save-frame PATH is given. The camera LED is lit while the camera is in use.
Stop the service first if the camera is busy: sudo systemctl stop moodbox
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from moodbox.frontends.buttons import ButtonsError, CameraLED
from moodbox.perception.camera import Camera
from moodbox.config import DEFAULT_PATH, Config, ConfigError, load_config
from moodbox.errors import MoodboxError
from moodbox.perception.pipeline import Perception


def describe(probabilities: np.ndarray, labels: tuple[str, ...]) -> str:
    order = np.argsort(probabilities)[::-1]
    top, *rest = order[:3]
    others = ", ".join(f"{labels[i]} {probabilities[i]:.2f}" for i in rest)
    return f"{labels[top]} {probabilities[top]:.2f} ({others})"


def open_led(config: Config) -> CameraLED:
    """The privacy LED, lit by the Camera while it is open (none when buttons are disabled or GPIO is missing)."""
    try:
        with warnings.catch_warnings():  # gpiozero warns about every pin backend it tries and skips
            warnings.simplefilter("ignore")
            return CameraLED.from_config(config)
    except ButtonsError as err:  # no GPIO on this machine, or the daemon holds the pin
        print(f"note: camera LED not available ({err})")
        return CameraLED(None)


def check(config: Config, source: str, count: int, interval_s: float, save_frame: Path | None) -> int:
    """Grab and look the daemon's way: its Camera wrapper (timeout, LED) and its perception call."""
    perception = Perception.from_config(config)
    led = open_led(config)
    camera = Camera.from_config(config, source=source, on_active=led.set)
    seen_face = False
    try:
        for number in range(1, count + 1):
            started = time.monotonic()
            gray = camera.grab()
            if gray is None:
                print(f"camera {source!r}: no frame ({camera.last_error}). If the service is running it holds "
                      "the camera: sudo systemctl stop moodbox", file=sys.stderr)
                return 1
            reading = perception.look(gray)
            took = (time.monotonic() - started) * 1000
            line = f"frame {number}: {gray.shape[1]}x{gray.shape[0]}, {took:.0f} ms, "
            if not reading.face:
                print(line + "no face")
            else:
                seen_face = True
                where = ", ".join(f"face {face.w:.0f}x{face.h:.0f} at ({face.x:.0f}, {face.y:.0f}) score "
                                  f"{face.score:.2f}" for face in reading.faces)
                print(line + f"{where}: {describe(reading.probabilities, perception.labels)}")
            if save_frame is not None and number == count:
                import cv2
                if not cv2.imwrite(str(save_frame), gray):
                    print(f"could not write {save_frame}", file=sys.stderr)
                    return 1
                print(f"saved the last frame to {save_frame} (delete it when done: it shows a face)")
            if number < count:
                time.sleep(interval_s)
    finally:
        camera.close()
        led.close()
    if not seen_face:
        print("no face seen: look at the camera, check the light and the focus, or lower face.min_score")
    return 0


def main(argv: list[str] | None = None) -> int:
    from moodbox.helptext import plain_text

    parser = argparse.ArgumentParser(prog="moodbox camera-check", description=plain_text(" ".join(
        __doc__.split("\n\n")[0].split("\n"))))
    parser.add_argument("--config", default=str(DEFAULT_PATH), help=f"config file (default {DEFAULT_PATH}, if present)")
    parser.add_argument("--source", help="camera source instead of camera.source (picamera, 0, gst:..., a folder)")
    parser.add_argument("--count", type=int, default=1, help="frames to check (default 1)")
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between frames (default 1)")
    parser.add_argument("--save-frame", type=Path, metavar="PATH", help="also write the last frame as an image")
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config) if Path(args.config).exists() or args.config != str(DEFAULT_PATH) \
            else Config()
    except ConfigError as err:
        print(err, file=sys.stderr)
        return 2
    try:
        return check(config, args.source or config.camera.source, max(1, args.count), args.interval, args.save_frame)
    except MoodboxError as err:  # the model (or the face finder) cannot be loaded
        print(err, file=sys.stderr)
        return 2
