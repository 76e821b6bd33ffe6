"""``moodbox demo``: the whole box on any Linux machine, with no camera, no GPIO and no system MPD.

It starts a private MPD on a Unix socket in a temporary folder with a synthesised, tagged library and the mood
playlists, uses as camera FER2013 test faces played in a scripted sequence of moods and pasted into a larger
frame (or a webcam / video / image folder given with ``--source``; FER2013 as Kaggle's fer2013.csv or as .npz
files with ``--dataset``). Without any of them, the machine's own webcam when it has one, else the scripted moods
fed straight to the mood tracker, past the camera and the model (every line says so). It runs the same
:class:`Daemon` as ``moodbox run`` with a short mood window, printing one line per tick. The music is silent
(MPD's null output) unless ``--audio`` plays it through the machine's sound card. Nothing is written outside the
temporary folder, which is removed at the end.
"""

from __future__ import annotations

import argparse
import glob
import json
import logging
import os
import sys
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Callable

from moodbox.config import CameraConfig, Config, MoodConfig, MPDConfig, MusicConfig, ButtonsConfig, StateConfig
from moodbox.daemon import Daemon, StartupError
from moodbox.errors import EXIT_FAILURE
from moodbox.notify import setup_logging
from moodbox.status import Tick
from moodbox.perception.frames import FrameError, open_source
from moodbox.devkit.mpdserver import MPDServerError, PrivateMPD
from moodbox.devkit.scripted import HOW_TO_GET_DATA, ScriptedFaceSource, ScriptedMoods, default_dataset_dir

log = logging.getLogger("moodbox.devkit.demo")

# Each mood long enough to settle (window + dwell) and each on its own playlist, so every change is a switch.
DEMO_SCRIPT = [("happy", 12.0), ("sad", 12.0), ("angry", 12.0), ("neutral", 12.0)]
DEMO_MOOD = MoodConfig(window_s=5.0, min_confidence=0.3, hysteresis=0.05, min_dwell_s=6.0)
DEMO_INTERVAL_S = 1.0
DEMO_TRACK_S = 15.0
NO_CAMERA = "scripted moods, no camera or model"
NO_CAMERA_MARK = "(scripted mood: no camera, no model)"
SOUND_CARD_OUTPUT = 'audio_output {\n  type "alsa"\n  name "sound card"\n  mixer_type "software"\n}\n'


def demo_config(mpd_socket: str, state_dir: Path, *, interval_s: float, source: str,
                model_path: str | None = None) -> Config:
    """The default config with the demo's short mood window, its private MPD and state, and no buttons."""
    config = Config(
        camera=CameraConfig(source=source, interval_s=interval_s),
        mood=DEMO_MOOD,
        # short demo: the music follows at once instead of after the song; no random tries of other moods' music
        # (a fresh box has learned nothing yet: `moodbox simulate` shows the learning)
        music=MusicConfig(switch="now", explore=0.0),
        mpd=MPDConfig(host=mpd_socket, timeout_s=5.0),
        buttons=ButtonsConfig(enabled=False),
        state=StateConfig(dir=str(state_dir), control_socket=str(state_dir / "control.sock")),
        source_path=None,
    )
    return replace(config, model=replace(config.model, path=model_path)) if model_path else config


def main(argv: list[str] | None = None) -> int:
    from moodbox.helptext import plain_text
    parser = argparse.ArgumentParser(prog="moodbox demo", description=plain_text(__doc__.split("\n")[0]))
    parser.add_argument("--duration", type=float, default=None, metavar="S",
                        help="stop after S seconds (default: run until Ctrl-C)")
    parser.add_argument("--json", action="store_true", help="print one JSON object per tick instead of text")
    parser.add_argument("--dataset", type=Path, default=None, metavar="PATH",
                        help="Kaggle's fer2013.csv (fer2013new.csv beside it adds the FER+ labels), a folder "
                             "with it, or a folder with fer2013.npz and ferplus_votes.npz (default: $MOODBOX_DATA "
                             "or the checkout's ../shared/data)")
    parser.add_argument("--source", default=None, metavar="SPEC",
                        help="a real camera instead of the scripted faces: 0, /dev/video0, gst:<pipeline>, "
                             "picamera, a video file or an image folder")
    parser.add_argument("--interval", type=float, default=DEMO_INTERVAL_S, metavar="S",
                        help=f"seconds between looks (default {DEMO_INTERVAL_S:g})")
    parser.add_argument("--model", default=None, metavar="PATH", help="expression model (default: the shipped one)")
    parser.add_argument("--audio", action="store_true",
                        help="play the music through this machine's sound card (default: silent, MPD's null output)")
    parser.add_argument("--state-dir", type=Path, default=None, metavar="DIR",
                        help="keep the control socket and the feedback database in DIR, for moodbox top/history/web "
                             "(default: a temporary folder, removed at the end)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    args = parser.parse_args(argv)
    if args.interval <= 0:
        parser.error("--interval must be > 0 seconds")
    setup_logging(args.verbose)
    if not args.verbose:
        logging.getLogger().setLevel(logging.WARNING)  # the tick lines tell the story

    try:
        source, expected, spec = _face_source(args)
    except FrameError as err:
        print(f"moodbox demo: no face source: {err}\nGive it faces in one of two ways:\n"
              "  --source SPEC: a webcam (0 or /dev/video0), a video file, a folder of images, picamera on a Pi;\n"
              "  --dataset PATH: Kaggle's fer2013.csv, or the folder holding fer2013.npz and ferplus_votes.npz "
              "(or set $MOODBOX_DATA).", file=sys.stderr)
        return EXIT_FAILURE
    stand_in = source() if spec == NO_CAMERA else None  # the scripted moods stand in for the finder and model
    with tempfile.TemporaryDirectory(prefix="moodbox-demo-") as tmp:
        tmp = Path(tmp)
        try:
            mpd = PrivateMPD(tmp / "mpd", track_seconds=DEMO_TRACK_S,
                             audio_output=SOUND_CARD_OUTPUT if args.audio else None).start()
        except MPDServerError as err:
            print(f"moodbox demo: {err}", file=sys.stderr)
            return EXIT_FAILURE
        try:
            config = demo_config(mpd.socket_path, args.state_dir or tmp / "state", interval_s=args.interval,
                                 source=spec, model_path=args.model)
            printer = _json_line if args.json else _text_line
            if spec == NO_CAMERA:
                printer = _marked(printer)
            summary = _Summary()

            def on_tick(tick: Tick) -> None:
                printer(tick, expected())
                summary.add(tick)

            daemon = Daemon(config, frame_source_factory=source, on_tick=on_tick, face_finder=stand_in,
                            expression_model=stand_in)
            try:
                daemon.start()
            except StartupError as err:
                print(f"moodbox demo: not starting: {err}", file=sys.stderr)
                return err.exit_code
            if not args.json:
                print(f"moodbox demo: private MPD at {mpd.socket_path}, looking every {args.interval:g} s"
                      + (f" through {spec}" if spec not in ("scripted", NO_CAMERA) else f", scripted moods "
                         f"{_script_text()}" + (" fed past the camera and the model" if spec == NO_CAMERA else ""))
                      + ("" if args.audio else ", silent (--audio plays through the sound card)")
                      + " (Ctrl-C stops)")
                print(f"watch and steer it: moodbox top --socket {config.state.control_socket}", flush=True)
            daemon.run(args.duration)
            print(summary.line(), file=sys.stderr if args.json else sys.stdout)
        finally:
            mpd.close()
    return 0


def _face_source(args) -> tuple[Callable, Callable[[], str | None], str]:
    """(frame source factory for the Camera, the scripted expression now or None for a real camera, camera.source).

    Without --source the scripted FER2013 faces; when their files are missing (a fresh clone), the machine's own
    webcam if it has one, else the FrameError saying what is missing."""
    if args.source:
        return (lambda: open_source(args.source)), (lambda: None), args.source
    try:
        scripted = ScriptedFaceSource(args.dataset or default_dataset_dir(), DEMO_SCRIPT)
    except FrameError as err:
        if args.dataset:  # the owner named data that is not there: say so rather than show something else
            raise
        webcam = _webcam()
        if webcam is not None:
            print(f"moodbox demo: no FER2013 faces; using the webcam {webcam} instead: look at it. "
                  f"{HOW_TO_GET_DATA}", file=sys.stderr)
            return (lambda: open_source(webcam)), (lambda: None), webcam
        print(f"moodbox demo: no FER2013 faces and no webcam ({err.args[0].split('. ')[0]}): the scripted moods "
              f"are fed past the camera and the model. {HOW_TO_GET_DATA} Or --source a video or a folder of photos.",
              file=sys.stderr)
        moods = ScriptedMoods(DEMO_SCRIPT)
        return (lambda: moods), moods.expected_label, NO_CAMERA
    return (lambda: scripted), scripted.expected_label, "scripted"


def _marked(printer: Callable) -> Callable:
    """Every line of a demo without camera and model says so."""
    def print_marked(tick: Tick, scripted: str | None) -> None:
        if printer is _json_line:
            print(json.dumps({**_fields(tick, scripted), "source": NO_CAMERA}), flush=True)
        else:
            print(f"{NO_CAMERA_MARK} ", end="")
            printer(tick, scripted)
    return print_marked


def _webcam() -> str | None:
    """The first V4L2 camera this user may open, or None."""
    for device in sorted(glob.glob("/dev/video*")):
        if os.access(device, os.R_OK | os.W_OK):
            return device
    return None


class _Summary:
    """Counts what the demo did, for one line when it stops."""

    def __init__(self):
        self.ticks = self.faces = self.switches = 0
        self.playlists: list[str] = []
        self.problems: set[str] = set()

    def add(self, tick: Tick) -> None:
        self.ticks += 1
        self.faces += tick.face
        if tick.switched:
            self.switches += 1
            self.playlists.append(tick.playlist)
        self.problems.update(tick.problems)

    def line(self) -> str:
        played = " -> ".join(self.playlists) or "none"
        text = (f"moodbox demo: {self.ticks} looks, a face in {self.faces}, {self.switches} playlist switches "
                f"({played})")
        return text + (f"; problems seen: {'; '.join(sorted(self.problems))}" if self.problems else "")



def _script_text() -> str:
    return ", ".join(f"{label} {seconds:g} s" for label, seconds in DEMO_SCRIPT)


def _fields(tick: Tick, scripted: str | None) -> dict:
    return {"t": round(tick.at, 2), "scripted": scripted, "face": tick.face, "expression": tick.expression,
            "confidence": None if tick.confidence is None else round(tick.confidence, 3), "mood": tick.mood,
            "mood_confidence": round(tick.mood_confidence, 3), "playlist": tick.playlist,
            "now_playing": tick.now_playing, "switched": tick.switched, "status": tick.status,
            "problems": list(tick.problems)}


def _json_line(tick: Tick, scripted: str | None) -> None:
    print(json.dumps(_fields(tick, scripted)), flush=True)


def _text_line(tick: Tick, scripted: str | None) -> None:
    seen = f"face: {tick.expression:<8} {tick.confidence:4.0%}" if tick.face else "no face" + " " * 12
    mood = f"{tick.mood} ({tick.mood_confidence:.0%})" if tick.mood else "settling..."
    line = (f"{'[' + scripted + ']' if scripted else '':<11}{seen}  mood: {mood:<16} "
            f"playlist: {tick.playlist or '-':<9} playing: {tick.now_playing or '-'}")
    if tick.switched:
        line += "   <- switched"
    if tick.problems:
        line += "   [" + "; ".join(tick.problems) + "]"
    print(line, flush=True)
