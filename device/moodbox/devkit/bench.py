"""``moodbox bench``: per-stage latency of our pipeline against the approach we descend from, and daemon cost.

Both pipelines see the same 640x480 frames (FER2013 test faces pasted into a larger frame) with one thread, in a
new order each frame (one run right after another finds what they share warm in the cache), and both run the
daemon's own perception call (:meth:`moodbox.perception.pipeline.Perception.look`), with different parts:

- ours: the Y plane of a YUV420 buffer as PiCameraSource takes it, then the parts the daemon builds from the
  default config (BlazeFace on LiteRT, the contract crop, the int8 model);
- baseline (webcam scripts and Flask pages): BGR -> gray with OpenCV, Haar cascade on the full frame, the
  float32 build of the same network (``emotion_float.tflite``).

Then ``python -m moodbox demo`` runs as a subprocess for ``seconds``: time from spawn to READY=1 on our own
NOTIFY_SOCKET, CPU% of one core from /proc/<pid>/stat and RSS from /proc/<pid>/status.

``--sweep`` runs the face-size sweep instead (:mod:`moodbox.devkit.sweep`): detection, cost and expression accuracy
per face width, as a table and a PNG.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from moodbox.config import Config, ModelConfig
from moodbox.paths import user_cache
from moodbox.perception.expression import ExpressionModel, ModelError
from moodbox.perception.faces import FaceFinder
from moodbox.perception.frames import FrameError, y_plane
from moodbox.perception.pipeline import Perception
from moodbox.devkit.scripted import LABELS, ScriptedFaceSource, default_dataset_dir

DEFAULT_MODEL = Path(ModelConfig().path)  # the checkout's, or the one setup.sh installs beside the venv
FRAME_SIZE = (640, 480)
STAGES = ("grab_to_gray", "face_finder", "crop", "model", "total")
WARMUP_FRAMES = 5


class _Pipeline:
    """One way of turning a camera buffer into expression probabilities, timed stage by stage."""

    def __init__(self, to_gray, perception: Perception):
        self.to_gray, self.perception = to_gray, perception
        self.times = {stage: [] for stage in STAGES}
        self.found = self.matches = self.frames = 0
        self.passes = []  # the face finder's model passes a frame (BlazeFace's; Haar counts none)

    def run(self, buffer: np.ndarray, expected: str, record=True) -> None:
        start = time.perf_counter()
        gray = self.to_gray(buffer)
        gray_done = time.perf_counter()
        passes = getattr(self.perception.finder, "passes", 0)
        reading = self.perception.look(gray)
        done = time.perf_counter()
        if not record:
            return
        self.frames += 1
        self.passes.append(getattr(self.perception.finder, "passes", 0) - passes)
        self.times["grab_to_gray"].append(gray_done - start)
        self.times["total"].append(done - start)
        for stage, seconds in reading.seconds.items():
            self.times[stage].append(seconds)
        if reading.face:
            self.found += 1
            self.matches += reading.expression == expected

    def report(self) -> dict:
        report = {stage: {"median_ms": round(float(np.median(times)) * 1000, 3),
                          "p90_ms": round(float(np.percentile(times, 90)) * 1000, 3)}
                  for stage, times in self.times.items() if times}
        report["faces_found"] = round(self.found / self.frames, 3)
        report["finder_passes"] = {"median": float(np.median(self.passes)),
                                   "mean": round(float(np.mean(self.passes)), 2)}
        report["top1_matches_script"] = round(self.matches / max(self.found, 1), 3)
        return report


def finder_from(path) -> object:
    """The ``FaceFinder()`` of another finder's module file (e.g. an earlier commit's, written out with
    ``git show COMMIT:device/moodbox/faces.py``), to time against ours on the same frames."""
    spec = importlib.util.spec_from_file_location("moodbox_bench_against", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module.FaceFinder()


def measure_stages(model_path, float_model_path, dataset_dir, frames: int, threads: int = 1,
                   against=None) -> dict:
    """Per-stage latency of ours and the baseline (and, with ``against``, a finder module file, of our pipeline
    with that finder instead), frame by frame in turn on the same frames."""
    width, height = FRAME_SIZE
    config = Config(model=ModelConfig(path=str(model_path), threads=threads))  # the daemon's defaults otherwise
    ours = _Pipeline(lambda yuv: y_plane(yuv, width, height), Perception.from_config(config))  # a bad model first
    step = [0.0]
    source = ScriptedFaceSource(dataset_dir, [(label, 1.0) for label in LABELS], frame_size=FRAME_SIZE,
                                clock=lambda: step[0])
    pipelines = {"ours": ours}
    result = {"frame_size": list(FRAME_SIZE), "threads": threads, "frames": frames,
              "ours_is": f"Y plane of YUV420 + {ours.perception.finder.detector_used} + crop + int8 "
                         f"{Path(model_path).name}",
              "baseline_is": "BGR->gray + Haar cascade on the full frame (scaleFactor 1.1, minNeighbors 5, "
                             f"min face 1/10 of the frame) + float {Path(float_model_path).name}"}
    if against is not None:
        pipelines["against"] = _Pipeline(ours.to_gray, Perception(finder_from(against), ours.perception.model))
        result["against_is"] = f"ours with the face finder of {against}"
    if Path(float_model_path).is_file():
        float_model = ExpressionModel(float_model_path, Path(model_path).with_suffix(".json"), threads=threads,
                                      allow_float=True)
        pipelines["baseline"] = _Pipeline(lambda bgr: cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY),
                                          Perception(FaceFinder("haar"), float_model))
    else:
        result["baseline"] = {"missing": f"{float_model_path} not found: the training's convert step writes it "
                                         "beside emotion.tflite"}
    chroma = np.full((height // 2, width), 128, np.uint8)
    order = np.random.default_rng(0)  # of the pipelines, new each frame
    for index in range(WARMUP_FRAMES + frames):
        step[0] = float(index)
        gray = source.grab()
        buffers = {"ours": np.vstack([gray, chroma]), "baseline": cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR)}
        buffers["against"] = buffers["ours"]
        for name in order.permutation(list(pipelines)):
            pipelines[name].run(buffers[name], source.expected_label(), record=index >= WARMUP_FRAMES)
    for name, pipeline in pipelines.items():
        result[name] = pipeline.report()
    if "baseline" in pipelines:
        result["speedup_total_median"] = round(
            result["baseline"]["total"]["median_ms"] / result["ours"]["total"]["median_ms"], 1)
    return result


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"/proc/{pid}/status has no VmRSS")


def measure_daemon(seconds: float, interval_s: float | None = None, ready_timeout_s: float = 60.0, *,
                   model_path=None, dataset_dir=None) -> dict:
    """Run ``python -m moodbox demo --json`` and measure start-to-READY=1, CPU% of one core and RSS."""
    command = [sys.executable, "-m", "moodbox", "demo", "--duration", str(int(seconds + 10)), "--json"]
    if model_path is not None:
        command += ["--model", str(model_path)]
    if dataset_dir is not None:
        command += ["--dataset", str(dataset_dir)]
    if interval_s is not None:
        command += ["--interval", str(interval_s)]
    with tempfile.TemporaryDirectory(prefix="moodbox-bench-") as tmp, \
            socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as notify_socket, \
            open(Path(tmp) / "stderr", "w+b") as stderr:
        notify_socket.bind(str(Path(tmp) / "notify"))
        spawned = time.monotonic()
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=stderr,
                                   env=dict(os.environ, NOTIFY_SOCKET=str(Path(tmp) / "notify")))

        def failure(what: str) -> dict:
            stderr.seek(0)
            return {"error": f"{what}; command: {' '.join(command)}",
                    "stderr_tail": stderr.read().decode(errors="replace")[-2000:]}

        try:
            while b"READY=1" not in b"\n".join(_receive(notify_socket, time.monotonic() + 0.2)).split(b"\n"):
                if process.poll() is not None:
                    return failure(f"demo exited with code {process.returncode} before READY=1")
                if time.monotonic() - spawned > ready_timeout_s:
                    return failure(f"no READY=1 within {ready_timeout_s:g} s")
            ready_s = time.monotonic() - spawned
            cpu_start, window_start, rss, notifications = _cpu_seconds(process.pid), time.monotonic(), [], 0
            while time.monotonic() - window_start < seconds:
                notifications += len(_receive(notify_socket, time.monotonic() + min(1.0, seconds)))
                if process.poll() is not None:
                    return failure(f"demo exited with code {process.returncode} during the measurement")
                rss.append(_rss_mb(process.pid))
            cpu_s, wall_s = _cpu_seconds(process.pid) - cpu_start, time.monotonic() - window_start
        finally:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    return {"start_to_ready_s": round(ready_s, 3), "cpu_percent_of_one_core": round(100 * cpu_s / wall_s, 2),
            "rss_mb_median": round(float(np.median(rss)), 1), "rss_mb_max": round(max(rss), 1),
            "notifications": notifications, "seconds": round(wall_s, 1),
            "interval_s": interval_s if interval_s is not None else "demo default",
            "command": " ".join(command)}


def _receive(notify_socket: socket.socket, until: float) -> list[bytes]:
    """The sd_notify datagrams that arrive before ``until`` (monotonic time).

    Reading them matters: a Unix datagram queue holds only a few messages, and a daemon whose notifications
    are not read blocks in send(), which would make it look idle.
    """
    messages = []
    while (left := until - time.monotonic()) > 0:
        notify_socket.settimeout(left)
        try:
            messages.append(notify_socket.recv(4096))
        except socket.timeout:
            break
    return messages


def run_bench(*, model_path=DEFAULT_MODEL, frames=300, seconds=60.0, interval_s=None, float_model_path=None,
              dataset_dir=None, daemon=True, threads=1, against=None) -> dict:
    """Per-stage latency of both pipelines, their speed-up, and (with ``daemon``) the demo daemon's cost."""
    float_model_path = float_model_path or Path(model_path).with_name("emotion_float.tflite")
    opencv_threads = cv2.getNumThreads()
    cv2.setNumThreads(threads)
    try:
        result = measure_stages(model_path, float_model_path, dataset_dir or default_dataset_dir(), frames, threads,
                                against)
    finally:
        cv2.setNumThreads(opencv_threads)
    result["daemon"] = (measure_daemon(seconds, interval_s, model_path=model_path, dataset_dir=dataset_dir)
                        if daemon else {"skipped": "--no-daemon"})
    return result


def summary(result: dict) -> str:
    """The figures for a person (``--json`` prints them all)."""
    ours, lines = result["ours"], []
    lines.append(f"moodbox bench: {result['frames']} frames of {result['frame_size'][0]}x{result['frame_size'][1]}, "
                 f"{result['threads']} thread(s)")
    lines.append(f"  ours:     {ours['total']['median_ms']:.2f} ms a look (median; p90 {ours['total']['p90_ms']:.2f}), "
                 f"face found in {ours['faces_found']:.0%}   [{result['ours_is']}]")
    baseline = result["baseline"]
    if "missing" in baseline:
        lines.append(f"  baseline: not measured: {baseline['missing']}")
    else:
        lines.append(f"  baseline: {baseline['total']['median_ms']:.2f} ms a look (median), face found in "
                     f"{baseline['faces_found']:.0%}   [{result['baseline_is']}]")
        lines.append(f"  speed-up: {result['speedup_total_median']:g}x")
    if "against" in result:
        lines.append(f"  against:  {result['against']['total']['median_ms']:.2f} ms a look (median; face finder "
                     f"{result['against']['face_finder']['median_ms']:.2f} vs ours "
                     f"{ours['face_finder']['median_ms']:.2f}; passes median "
                     f"{result['against']['finder_passes']['median']:g} vs {ours['finder_passes']['median']:g}), "
                     f"face found in {result['against']['faces_found']:.0%}   [{result['against_is']}]")
    daemon = result["daemon"]
    if "error" in daemon:
        lines.append(f"  daemon:   failed: {daemon['error']}")
    elif "skipped" in daemon:
        lines.append("  daemon:   not measured (--no-daemon)")
    else:
        lines.append(f"  daemon:   ready in {daemon['start_to_ready_s']:.1f} s, "
                     f"{daemon['cpu_percent_of_one_core']:.1f}% of one core, {daemon['rss_mb_median']:.0f} MB "
                     f"resident (median over {daemon['seconds']:g} s)")
    return "\n".join(lines)


def main(argv=None) -> int:
    from moodbox.helptext import plain_text
    parser = argparse.ArgumentParser(prog="moodbox bench", description=plain_text(__doc__.split("\n")[0]))
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL, help="int8 model (JSON beside it)")
    parser.add_argument("--float-model", type=Path, help="baseline float model (default: emotion_float.tflite "
                                                         "beside --model)")
    parser.add_argument("--dataset", type=Path, help="Kaggle's fer2013.csv, or a folder with it or with fer2013.npz "
                                                     "and ferplus_votes.npz (default: $MOODBOX_DATA or ../shared/data)")
    parser.add_argument("--frames", type=int, default=300, help="frames timed per pipeline (default 300)")
    parser.add_argument("--seconds", type=float, default=60.0, help="daemon measurement window (default 60)")
    parser.add_argument("--interval", type=float, help="daemon tick interval (default: the demo's)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--no-daemon", action="store_true", help="only the per-stage latency")
    parser.add_argument("--against-finder", type=Path, help="also time the FaceFinder of this module file")
    parser.add_argument("--json", action="store_true", help="every figure as JSON instead of the summary")
    sweep_options = parser.add_argument_group("face-size sweep (--sweep; see moodbox/devkit/sweep.py)")
    sweep_options.add_argument("--sweep", action="store_true", help="instead: detection rate, cost and expression "
                                                                    "accuracy per face width; prints a table")
    sweep_options.add_argument("--faces", type=int, default=60, help="faces per width (default 60)")
    sweep_options.add_argument("--haar-faces", type=int, default=25, help="of those, how many Haar looks at "
                                                                           "(default 25; it is slow)")
    sweep_options.add_argument("--empty", type=int, default=1000, help="empty frames (default 1000)")
    sweep_options.add_argument("--sizes", help="face widths in px, comma-separated (default 24,28,32,40,48,64,96,160)")
    sweep_options.add_argument("--seed", type=int, default=0, help="random seed of faces, places and walls")
    sweep_options.add_argument("--search-passes", type=float, help="the finder's budget a searching tick")
    sweep_options.add_argument("--split", choices=("private", "public"), default="private",
                               help="FER2013 faces to paste: PrivateTest (default, the reported figures) or "
                                    "PublicTest (to choose device-side settings without looking at those)")
    sweep_options.add_argument("--plot", type=Path, default=user_cache("face_sweep.png"), help="its PNG (%(default)s)")
    args = parser.parse_args(argv)
    if args.frames < 1 or args.seconds <= 0:
        parser.error("--frames and --seconds must be positive")
    if args.sweep:
        return _sweep(args, parser)
    try:
        result = run_bench(model_path=args.model, frames=args.frames, seconds=args.seconds,
                           interval_s=args.interval, float_model_path=args.float_model, dataset_dir=args.dataset,
                           daemon=not args.no_daemon, threads=args.threads, against=args.against_finder)
    except (ModelError, FrameError) as exc:
        print(f"moodbox bench: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(result, indent=2) if args.json else summary(result))
    return 1 if "error" in result["daemon"] else 0


def _sweep(args, parser) -> int:
    from moodbox.devkit import scenes, sweep, sweep_report

    if args.faces < 1 or args.empty < 1 or args.haar_faces < 0:
        parser.error("--faces and --empty must be positive, --haar-faces at least 0")
    try:
        sizes = {"sizes": tuple(int(size) for size in args.sizes.split(","))} if args.sizes else {}
    except ValueError:
        parser.error(f"--sizes {args.sizes!r}: expected widths in px separated by commas, e.g. 24,48,96")
    if any(size < 8 or size > min(scenes.FRAME_SIZE) - 4 for size in sizes.get("sizes", ())):
        parser.error(f"--sizes: each width must be 8-{min(scenes.FRAME_SIZE) - 4} px")
    opencv_threads = cv2.getNumThreads()
    cv2.setNumThreads(args.threads)
    try:
        result = sweep.run_sweep(args.model, args.dataset or default_dataset_dir(), faces=args.faces,
                                 haar_faces=args.haar_faces, empty=args.empty, seed=args.seed,
                                 threads=args.threads, split=args.split, **sizes, search_passes=args.search_passes,
                                 against=finder_from(args.against_finder) if args.against_finder else None)
    except (ModelError, FrameError) as exc:
        print(f"moodbox bench: {exc}", file=sys.stderr)
        return 2
    finally:
        cv2.setNumThreads(opencv_threads)
    print(json.dumps(result, indent=2) if args.json
          else f"{sweep_report.table(result)}\n\n{sweep_report.coverage_table(result)}\n\nThe listener's view:\n"
               f"{sweep_report.view_table(result)}\n\n{sweep_report.targets(result)}")
    try:
        print(f"plot: {sweep_report.plot(result, args.plot)}", file=sys.stderr if args.json else sys.stdout)
    except ImportError:
        print("moodbox bench: no plot written: matplotlib is missing (pip install -e 'device[plot]')",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
