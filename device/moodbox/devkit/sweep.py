"""``moodbox bench --sweep``: how small (how far away) a face can be for the box to find it and read it.

FER2013 PrivateTest faces (``split="public"``: PublicTest, for choosing device-side settings such as the crop
convention without looking at the faces the figures are reported on) with a FER+ majority label are pasted at
widths 16-160 px into 640x480 frames on textured walls, upright and rolled by +-20 deg, at a random position.
Each pasted face is a listener sitting still in front of one wall (the face moves by at most a pixel between
ticks, the sensor noise changes): our finder gets consecutive ticks until it finds the face (at most one scan
cycle), then ``TRACKED_TICKS`` more ticks show whether it keeps it. The Haar cascade looks once, at the first
frame. Per width: detection rates, ticks to find, per-tick cost (finder, crop and expression model: CPU time of
the calling thread, which with one thread is the work done, less sensitive to a busy machine than wall time) and
model passes (BlazeFace's and the face mesh's), and the expression model's accuracy against the FER+ majority on
the crops the device takes, eye alignment on and off. Empty frames measure false positives and the cost with
nobody in view (a new room every ``ROOM_FRAMES`` frames, a fresh pool of walls every ``POOL_FRAMES``: a wall the
model takes for a face is found again and again, so false positives come in bursts and only many pools give a
rate). Distances are for a 15 cm face seen by a Pi Camera Module 3 at 640x480 (80/width metres; a Camera Module 3
Wide sees about half as many pixels).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import cv2
import numpy as np

from moodbox.perception.expression import ExpressionModel
from moodbox.perception.boxes import Face
from moodbox.perception.crop import crop_face
from moodbox.perception.faces import FaceFinder
from moodbox.perception.frames import FrameError
from moodbox.perception.pipeline import Perception
from moodbox.devkit.scripted import FERPLUS_COLUMN_OF_LABEL, HOW_TO_GET_DATA

SPLITS = {"public": 1, "private": 2}  # FER2013 'usage' codes, as training/moodbox_training/data.py numbers them
SPLIT_NAMES = {"public": "PublicTest", "private": "PrivateTest"}

SIZES = (16, 20, 24, 28, 32, 40, 48, 64, 96, 160)
ROLL_DEG = 20
TRACKED_TICKS = 3
ROOM_FRAMES = 10
POOL_FRAMES = 1000
FRAME_SIZE = (640, 480)
ALIGNED = {"align_min_deg": 10, "align_min_px": 0}  # eye alignment's defaults where the model's JSON names none
CAMERAS = {"Camera Module 3 (66 deg)": 80.0, "Camera Module 3 Wide (102 deg)": 40.0}  # metres * px, 15 cm face


def load_ferplus_faces(dataset_dir, split: str = "private") -> tuple[np.ndarray, np.ndarray]:
    """PrivateTest (or PublicTest) faces (N, 48, 48) and their FER+ majority label index, as
    training/moodbox_training/data.py defines it: plurality of the seven emotions, ties and rows led by
    contempt/unknown/not-a-face left out."""
    if dataset_dir is None:
        raise FrameError("no FER2013 faces given: give --dataset the folder holding fer2013.npz and "
                         "ferplus_votes.npz (the sweep needs the FER+ votes)")
    arrays = {}
    for name, keys in (("fer2013.npz", ("pixels", "usage")), ("ferplus_votes.npz", ("votes",))):
        path = Path(dataset_dir) / name
        if not path.is_file():
            raise FrameError(f"{path} not found. {HOW_TO_GET_DATA}")
        with np.load(path, allow_pickle=False) as npz:
            arrays.update({key: npz[key] for key in keys})
    votes = arrays["votes"][:, FERPLUS_COLUMN_OF_LABEL].astype(np.int32)
    top = votes.max(axis=1)
    clear = (top > 0) & ((votes == top[:, None]).sum(axis=1) == 1) & (arrays["votes"][:, 7:].max(axis=1) <= top)
    rows = np.flatnonzero(clear & (arrays["usage"] == SPLITS[split]))
    return arrays["pixels"][rows], votes[rows].argmax(axis=1)


def textured_background(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """A room-like wall: a lit gradient, furniture-like blocks with edges, striped fabric, sensor noise."""
    wall = np.linspace(rng.uniform(50, 120), rng.uniform(120, 210), width)[None, :].repeat(height, 0)
    for _ in range(10):
        x, y = rng.integers(0, width), rng.integers(0, height)
        w, h = rng.integers(20, width // 2), rng.integers(20, height // 2)
        wall[y:y + h, x:x + w] = rng.uniform(20, 230)
    yy, xx = np.mgrid[0:height, 0:width]
    for _ in range(3):
        x, y = rng.integers(0, width), rng.integers(0, height)
        w, h = rng.integers(40, 200), rng.integers(40, 200)
        angle, period = rng.uniform(0, np.pi), rng.uniform(4, 30)
        stripes = 25 * np.sin((np.cos(angle) * xx + np.sin(angle) * yy) * 2 * np.pi / period)
        wall[y:y + h, x:x + w] += stripes[y:y + h, x:x + w]
    wall = cv2.GaussianBlur(wall, (0, 0), 1.2) + rng.normal(0, 5, (height, width))
    return np.clip(wall, 0, 255).astype(np.uint8)


def face_patch(face48: np.ndarray, side: int, roll_deg: float) -> np.ndarray:
    """The 48x48 face turned by ``roll_deg`` (edges replicated into the corners) and sized to ``side`` px.

    The face is turned at its own resolution and then sized once, as an upright one: a camera samples a tilted
    face once, and turning the small patch instead resamples it twice at its final size, which halves its fine
    detail (at 24-32 px)."""
    if roll_deg:
        turn = cv2.getRotationMatrix2D(((face48.shape[1] - 1) / 2, (face48.shape[0] - 1) / 2), roll_deg, 1.0)
        face48 = cv2.warpAffine(face48, turn, face48.shape[::-1], flags=cv2.INTER_CUBIC,
                                borderMode=cv2.BORDER_REPLICATE)
    interpolation = cv2.INTER_AREA if side < face48.shape[0] else cv2.INTER_CUBIC
    return cv2.resize(face48, (side, side), interpolation=interpolation)


def is_the_face(face: Face, centre: tuple[float, float], side: int) -> bool:
    """A detection of the pasted face: centre within 0.3 of its width, width between 0.4 and 1.6 of it."""
    return (abs(face.x + face.w / 2 - centre[0]) < 0.3 * side and abs(face.y + face.h / 2 - centre[1]) < 0.3 * side
            and 0.4 * side < face.w < 1.6 * side)


class _Scene:
    """Walls (a pool, shifted and flipped into new ones) and frames of them with fresh sensor noise."""

    def __init__(self, rng: np.random.Generator, pool: int = 12):
        self.rng = rng
        width, height = FRAME_SIZE
        self._pool = [textured_background(rng, width, height) for _ in range(pool)]
        self._noise = [rng.integers(-4, 5, (height, width)).astype(np.int16) for _ in range(4)]

    def fresh(self) -> _Scene:
        """A scene with a new pool of walls (as many), drawn from the same random stream."""
        return _Scene(self.rng, len(self._pool))

    def wall(self) -> np.ndarray:
        wall = self._pool[self.rng.integers(len(self._pool))]
        wall = np.roll(wall, (self.rng.integers(0, 480), self.rng.integers(0, 640)), axis=(0, 1))
        return np.ascontiguousarray(wall[:, ::-1] if self.rng.integers(2) else wall)

    def frame(self, wall: np.ndarray, patch: np.ndarray | None = None, x: int = 0, y: int = 0) -> np.ndarray:
        """``wall`` with ``patch`` pasted at (x, y), plus a fresh look at the sensor's noise."""
        frame = wall.copy()
        if patch is not None:
            frame[y:y + patch.shape[0], x:x + patch.shape[1]] = patch
        noise = np.roll(self._noise[self.rng.integers(len(self._noise))], self.rng.integers(0, 640), axis=1)
        return np.clip(frame + noise, 0, 255).astype(np.uint8)


def _listener(perception, scene, patch, label, conventions, max_ticks):
    """One still listener: ticks until found (at most ``max_ticks``), then TRACKED_TICKS more; each tick is the
    daemon's own look at the frame."""
    finder, model = perception.finder, perception.model
    width, height = FRAME_SIZE
    side = patch.shape[0]
    x0, y0 = int(scene.rng.integers(1, width - side - 1)), int(scene.rng.integers(1, height - side - 1))
    wall = scene.wall()  # the room behind a listener stays the same from tick to tick
    finder.reset()
    result = {"found_tick": None, "held": 0, "costs": [], "passes": [], "held_costs": [], "held_passes": [],
              "correct": {}}  # correct: per tick that found the face
    for tick in range(max_ticks + TRACKED_TICKS):
        x, y = x0 + int(scene.rng.integers(-1, 2)), y0 + int(scene.rng.integers(-1, 2))
        frame = scene.frame(wall, patch, x, y)
        start, passes = time.thread_time(), finder.passes
        faces = perception.look(frame).faces
        result["costs"].append(time.thread_time() - start)
        result["passes"].append(finder.passes - passes)
        hit = bool(faces) and is_the_face(faces[0], (x + side / 2, y + side / 2), side)
        if tick == 0:
            result["first_frame"] = (frame, (x + side / 2, y + side / 2))
        if hit:
            for name, convention in conventions.items():
                scores = model.predict(crop_face(frame, faces[0], model.input_size, convention))
                result["correct"].setdefault(name, []).append(int(np.argmax(scores)) == label)
        if result["found_tick"] is None:
            if hit:
                result["found_tick"] = tick
            elif tick + 1 >= max_ticks:
                break
        else:
            result["held"] += hit
            result["held_costs"].append(result["costs"][-1])
            result["held_passes"].append(result["passes"][-1])
            if tick >= result["found_tick"] + TRACKED_TICKS:
                break
    return result


def run_sweep(model_path, dataset_dir, *, faces=60, haar_faces=25, empty=1000, haar_empty=50, seed=0,
              threads=1, sizes=SIZES, split="private", progress=sys.stderr) -> dict:
    """The sweep's figures: one row per face width, plus empty frames and the native 48x48 accuracy."""
    pixels, labels = load_ferplus_faces(dataset_dir, split)
    rng = np.random.default_rng(seed)
    chosen = rng.choice(len(pixels), size=min(faces, len(pixels)), replace=False)
    model = ExpressionModel(model_path, threads=threads)
    finder, haar = FaceFinder("blazeface", threads=threads), FaceFinder("haar")
    perception = Perception(finder, model)
    conventions = {"aligned": {**ALIGNED, **model.face_crop, "align_eyes": True},
                   "unaligned": dict(model.face_crop, align_eyes=False)}
    max_ticks = finder.scan_cycle_ticks(*FRAME_SIZE)
    scene = _Scene(rng)
    native = np.mean([np.argmax(model.predict(pixels[i])) == labels[i] for i in chosen])
    rows, started = [], time.monotonic()
    for number, side in enumerate(sizes):
        cells = {"upright": [], "rolled": []}
        haar_hits, haar_costs = {"upright": 0, "rolled": 0}, []
        haar_count = min(haar_faces, len(chosen))
        for k, index in enumerate(chosen):
            for pose, roll in (("upright", 0), ("rolled", ROLL_DEG if k % 2 else -ROLL_DEG)):
                patch = face_patch(pixels[index], side, roll)
                listener = _listener(perception, scene, patch, labels[index], conventions, max_ticks)
                cells[pose].append(listener)
                frame, centre = listener.pop("first_frame")  # Haar looks at the same first frame
                if k >= haar_count:
                    continue
                start = time.thread_time()
                found = haar.find(frame)
                haar_costs.append(time.thread_time() - start)
                haar_hits[pose] += any(is_the_face(face, centre, side) for face in found)
        rows.append(_row(side, cells, haar_hits, haar_costs, haar_count))
        elapsed = time.monotonic() - started
        print(f"sweep: {side} px done ({number + 1}/{len(sizes)}), {elapsed:.0f} s, about "
              f"{elapsed / (number + 1) * (len(sizes) - number - 1):.0f} s left", file=progress, flush=True)
    return {"frame_size": list(FRAME_SIZE), "threads": threads, "split": split, "faces_per_width": len(chosen),
            "haar_faces_per_width": haar_count,
            "tracked_ticks": TRACKED_TICKS, "max_ticks_to_find": max_ticks,
            "native_48px_accuracy": round(float(native), 3), "rows": rows,
            "empty": _empty_frames(finder, haar, scene, empty, haar_empty)}


def _rate(values) -> float | None:
    return round(float(np.mean(values)), 3) if len(values) else None


def _row(side, cells, haar_hits, haar_costs, count) -> dict:
    all_trials = cells["upright"] + cells["rolled"]
    found = {pose: [t for t in trials if t["found_tick"] is not None] for pose, trials in cells.items()}
    costs = np.concatenate([t["costs"] for t in all_trials]) * 1000
    passes = np.concatenate([t["passes"] for t in all_trials])
    held_costs = np.array([cost for t in all_trials for cost in t["held_costs"]]) * 1000
    held_passes = [count for t in all_trials for count in t["held_passes"]]
    ticks = [t["found_tick"] + 1 for trials in found.values() for t in trials]
    return {
        "width_px": side, "cm3_distance_m": round(80 / side, 2),
        "found_upright": _rate([t["found_tick"] is not None for t in cells["upright"]]),
        "found_rolled": _rate([t["found_tick"] is not None for t in cells["rolled"]]),
        "ticks_to_find_median": float(np.median(ticks)) if ticks else None,
        "ticks_to_find_max": int(max(ticks)) if ticks else None,
        "held": _rate([t["held"] / TRACKED_TICKS for trials in found.values() for t in trials]),
        "haar_upright": round(haar_hits["upright"] / count, 3) if count else None,
        "haar_rolled": round(haar_hits["rolled"] / count, 3) if count else None,
        "accuracy_upright": _rate([hit for t in found["upright"] for hit in t["correct"]["aligned"]]),
        "accuracy_upright_unaligned": _rate([hit for t in found["upright"] for hit in t["correct"]["unaligned"]]),
        "accuracy_rolled_aligned": _rate([hit for t in found["rolled"] for hit in t["correct"]["aligned"]]),
        "accuracy_rolled_unaligned": _rate([hit for t in found["rolled"] for hit in t["correct"]["unaligned"]]),
        "cost_ms_median": round(float(np.median(costs)), 2), "cost_ms_p90": round(float(np.percentile(costs, 90)), 2),
        "passes_median": float(np.median(passes)), "passes_p90": float(np.percentile(passes, 90)),
        "held_cost_ms_median": round(float(np.median(held_costs)), 2) if held_passes else None,
        "held_cost_ms_p90": round(float(np.percentile(held_costs, 90)), 2) if held_passes else None,
        "held_passes_mean": round(float(np.mean(held_passes)), 2) if held_passes else None,
        "haar_cost_ms_median": round(float(np.median(haar_costs)) * 1000, 1) if haar_costs else None,
    }


def _empty_frames(finder, haar, scene, frames, haar_frames) -> dict:
    finder.reset()
    costs, false_frames, passes = [], 0, finder.passes
    for index in range(frames):
        if index and index % POOL_FRAMES == 0:
            scene = scene.fresh()
        if index % ROOM_FRAMES == 0:
            wall = scene.wall()
        frame = scene.frame(wall)
        start = time.thread_time()
        false_frames += bool(finder.find(frame))
        costs.append(time.thread_time() - start)
    passes = (finder.passes - passes) / frames
    haar_false = sum(bool(haar.find(scene.frame(scene.wall()))) for _ in range(haar_frames))
    costs_ms = np.array(costs) * 1000
    return {"frames": frames, "false_positive_frames": false_frames,
            "cost_ms_median": round(float(np.median(costs_ms)), 2),
            "cost_ms_p90": round(float(np.percentile(costs_ms, 90)), 2), "passes_mean": round(passes, 2),
            "haar_frames": haar_frames, "haar_false_positive_frames": haar_false}


def _held(row) -> str:
    if row["held_passes_mean"] is None:
        return "-"
    return f"{row['held_cost_ms_median']}/{row['held_cost_ms_p90']}, {row['held_passes_mean']:g}"


def _percent(value) -> str:
    return "-" if value is None else f"{100 * value:.0f}"


def table(result: dict) -> str:
    """The sweep as a Markdown table (percentages), with the empty-frame line below it."""
    lines = ["| width px | CM3 m | found 0 / +-20 deg % | ticks to find med/max | held % | Haar 0 / +-20 % | "
             "acc 0 deg aligned / not % | acc +-20 deg aligned / not % | CPU ms med/p90 | passes med/p90 | "
             "once found: CPU ms med/p90, passes | Haar CPU ms |",
             "|" + "---|" * 12]
    for row in result["rows"]:
        ticks = ("-" if row["ticks_to_find_median"] is None
                 else f"{row['ticks_to_find_median']:g}/{row['ticks_to_find_max']}")
        lines.append(
            f"| {row['width_px']} | {row['cm3_distance_m']} | {_percent(row['found_upright'])} / "
            f"{_percent(row['found_rolled'])} | {ticks} | {_percent(row['held'])} | "
            f"{_percent(row['haar_upright'])} / {_percent(row['haar_rolled'])} | "
            f"{_percent(row['accuracy_upright'])} / {_percent(row['accuracy_upright_unaligned'])} | "
            f"{_percent(row['accuracy_rolled_aligned'])} / {_percent(row['accuracy_rolled_unaligned'])} | "
            f"{row['cost_ms_median']}/{row['cost_ms_p90']} | {row['passes_median']:g}/{row['passes_p90']:g} | "
            f"{_held(row)} | "
            f"{'-' if row['haar_cost_ms_median'] is None else row['haar_cost_ms_median']} |")
    empty = result["empty"]
    lines.append(f"\nEmpty frames: {empty['false_positive_frames']} of {empty['frames']} with a face found "
                 f"(Haar {empty['haar_false_positive_frames']} of {empty['haar_frames']}); cost with nobody in view "
                 f"CPU median {empty['cost_ms_median']} ms, p90 {empty['cost_ms_p90']} ms, {empty['passes_mean']} "
                 f"model passes per frame. "
                 f"{result['faces_per_width']} {SPLIT_NAMES[result.get('split', 'private')]} faces per width, "
                 f"each upright and rolled (Haar: the first "
                 f"{result['haar_faces_per_width']}); expression accuracy on the "
                 f"same faces as 48x48 originals: {_percent(result['native_48px_accuracy'])}%.")
    return "\n".join(lines)


def plot(result: dict, path: Path) -> Path:
    """Detection rate and expression accuracy against face width, with the Camera Module 3 distance on top."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = result["rows"]
    widths = [row["width_px"] for row in rows]
    series = lambda key: [np.nan if row[key] is None else 100 * row[key] for row in rows]  # noqa: E731
    figure, (found, accuracy) = plt.subplots(1, 2, figsize=(12, 4.5))
    for key, label, style in (("found_upright", "ours, upright", "o-"), ("found_rolled", "ours, +-20 deg", "s-"),
                              ("haar_upright", "Haar, upright", "o--"), ("haar_rolled", "Haar, +-20 deg", "s--")):
        found.plot(widths, series(key), style, label=label)
    for key, label, style in (("accuracy_upright", "upright", "o-"),
                              ("accuracy_rolled_aligned", "+-20 deg, eyes aligned", "s-"),
                              ("accuracy_rolled_unaligned", "+-20 deg, not aligned", "s--")):
        accuracy.plot(widths, series(key), style, label=label)
    accuracy.axhline(100 * result["native_48px_accuracy"], color="gray", lw=1, label="48x48 originals")
    for axes, title in ((found, "listener found (within one scan cycle)"),
                        (accuracy, "expression accuracy vs FER+ majority")):
        axes.set_xscale("log")
        axes.set_xticks(widths, [str(w) for w in widths])
        axes.minorticks_off()
        axes.set_xlabel("face width in a 640x480 frame (px)")
        axes.set_ylabel("%")
        axes.set_ylim(0, 101)
        axes.set_title(title)
        axes.grid(alpha=0.3)
        axes.legend(fontsize=8)
        top = axes.secondary_xaxis("top", functions=(lambda w: 80 / np.maximum(w, 1e-3),
                                                     lambda d: 80 / np.maximum(d, 1e-3)))
        top.set_xticks([80 / w for w in widths], [f"{80 / w:.1f}" for w in widths], fontsize=7)
        top.minorticks_off()
        top.set_xlabel("distance for a Camera Module 3 (m)")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def coverage_table(result: dict, found_min=0.95, accuracy_drop=0.05) -> str:
    """Per Pi camera, how far away the listener is still found (>= ``found_min`` upright and rolled) and their
    expression still read (accuracy upright and rolled, eyes aligned, each within ``accuracy_drop`` of its own at
    48 px), from the sweep's rows."""
    rows = sorted(result["rows"], key=lambda row: -row["width_px"])
    poses = ("accuracy_upright", "accuracy_rolled_aligned")
    reference = next((row for row in rows if row["width_px"] == 48), None)

    def down_to(good) -> int | None:
        """The smallest width reached from the largest one with every width in between good."""
        smallest = None
        for row in rows:
            if not good(row):
                break
            smallest = row["width_px"]
        return smallest

    def found_well(row) -> bool:
        return min(row["found_upright"] or 0, row["found_rolled"] or 0) >= found_min

    def read_well(row) -> bool:
        return reference is not None and all(
            row[pose] is not None and reference[pose] is not None and row[pose] >= reference[pose] - accuracy_drop
            for pose in poses)

    found = down_to(found_well)
    read = down_to(lambda row: found_well(row) and read_well(row))
    poses_named = f"upright and +-{ROLL_DEG} deg"
    lines = [f"| camera at 640x480 | listener found (>= {100 * found_min:.0f}%, {poses_named}) up to | expression "
             f"read ({poses_named}, within {100 * accuracy_drop:.0f} points of 48 px) up to |", "|---|---|---|"]
    for camera, metres_px in CAMERAS.items():
        cells = [f"{metres_px / width:.1f} m ({width} px face)" if width else "-" for width in (found, read)]
        lines.append(f"| {camera} | {cells[0]} | {cells[1]} |")
    return "\n".join(lines)
