"""``moodbox bench --sweep``: how small (how far away) a face can be for the box to find it and read it.

FER2013 PrivateTest faces (``split="public"``: PublicTest, for choosing device-side settings such as the crop
convention without looking at the faces the figures are reported on) with a FER+ majority label are pasted at
widths 16-160 px into 640x480 frames on textured walls, upright and rolled by +-20 deg, at a random position.
Each pasted face is a listener sitting still in front of one wall (the face moves by at most a pixel between
ticks, the sensor noise changes): our finder gets consecutive ticks until it finds the face (at most
``FIND_TICKS``), then ``TRACKED_TICKS`` more ticks show whether it keeps it. Then the listener's view
(:func:`listeners_view`): away for 2, 3, 5 and 20 ticks and back at the same seat, away and back at another
seat, then turned away in the seat and, in a new room, a look-alike object in the face's place
(:class:`LookAlikes`): ticks until found (again) and ticks that yield a reading. The Haar cascade looks once,
at the first frame. Per width: detection rates, ticks to find, per-tick cost (finder, crop and expression model:
CPU time of the calling thread, which with one thread is the work done, less sensitive to a busy machine than
wall time) and model passes (BlazeFace's and the face mesh's), and the expression model's accuracy against the
FER+ majority on the crops the device takes, eye alignment on and off. Empty frames measure false positives and
the cost with nobody in view (a new room every ``ROOM_FRAMES`` frames, a fresh pool of walls every
``POOL_FRAMES``: a wall the model takes for a face is found again and again, so false positives come in bursts
and only many pools give a rate). Distances are for a 15 cm face seen by a Pi Camera Module 3 at 640x480
(80/width metres; a Camera Module 3 Wide sees about half as many pixels).
"""

from __future__ import annotations

import sys
import time

import numpy as np

from moodbox.perception.expression import ExpressionModel
from moodbox.perception.crop import crop_face
from moodbox.perception.faces import FaceFinder
from moodbox.perception.pipeline import Perception
from moodbox.devkit.scenes import FRAME_SIZE, LookAlikes, Scene, face_patch, is_the_face, load_ferplus_faces

SPLIT_NAMES = {"public": "PublicTest", "private": "PrivateTest"}

SIZES = (24, 28, 32, 40, 48, 64, 96, 160)
ROLL_DEG = 20
TRACKED_TICKS = 3
FIND_TICKS = 60  # a still listener not found within this many ticks (a minute at one look a second) is missed
ABSENCES = (2, 3, 5, 20)  # ticks (seconds at one look a second) the listener is away before coming back
AGAIN_TICKS = 10  # ticks allowed to find a listener again (after an absence, or at another seat)
MOVE_AWAY_TICKS = 2  # ticks the listener is away while moving to another seat
LOOKALIKE_TICKS = 5  # ticks a turned-away head or a look-alike object stays in view
WITHIN = (1, 2, 3, 5)  # the "found within n ticks" shares
HEADS = ("back of head", "face blurred", "skin oval with hair")  # turned-away heads, in turn per listener
OBJECTS = ("textured ball", "framed wall picture")  # look-alike objects, in turn per listener
ROOM_FRAMES = 10
POOL_FRAMES = 1000
ALIGNED = {"align_min_deg": 10, "align_min_px": 0}  # eye alignment's defaults where the model's JSON names none
CAMERAS = {"Camera Module 3 (66 deg)": 80.0, "Camera Module 3 Wide (102 deg)": 40.0}  # metres * px, 15 cm face


def _listener(perception, scene, patch, label, conventions, max_ticks, lookalikes=None):
    """One listener's evening, each tick the daemon's own look at the frame: sitting still until found (at most
    ``max_ticks``), followed for TRACKED_TICKS; then away for each of ABSENCES ticks and back at the same seat
    (ticks until found again, at most AGAIN_TICKS); then away MOVE_AWAY_TICKS and back at another seat; then, with
    ``lookalikes`` ((kind, patch, mask) of a turned-away head, then of an object), the head turned away in the
    seat and, in a new room with nobody followed, the object in the face's place (ticks that yield a reading)."""
    finder, model = perception.finder, perception.model
    width, height = FRAME_SIZE
    side = patch.shape[0]
    x0, y0 = int(scene.rng.integers(1, width - side - 1)), int(scene.rng.integers(1, height - side - 1))
    wall = scene.wall()  # the room behind a listener stays the same from tick to tick
    finder.reset()
    result = {"found_tick": None, "held": 0, "costs": [], "passes": [], "held_costs": [], "held_passes": [],
              "correct": {}, "again": {}, "moved": None, "turned_read": [], "object_read": []}

    def tick(shown=patch, x=x0, y=y0, mask=None, record=True):
        """One look; whether it found the listener's face there."""
        x, y = x + int(scene.rng.integers(-1, 2)), y + int(scene.rng.integers(-1, 2))
        frame = scene.frame(wall, shown, x, y, mask)
        start, passes = time.thread_time(), finder.passes
        reading = perception.look(frame)
        if record:
            result["costs"].append(time.thread_time() - start)
            result["passes"].append(finder.passes - passes)
        faces = reading.faces
        hit = shown is patch and bool(faces) and is_the_face(faces[0], (x + side / 2, y + side / 2), side)
        if "first_frame" not in result:
            result["first_frame"] = (frame, (x + side / 2, y + side / 2))
        if hit and record:
            for name, convention in conventions.items():
                scores = model.predict(crop_face(frame, faces[0], model.input_size, convention))
                result["correct"].setdefault(name, []).append(int(np.argmax(scores)) == label)
        return hit, reading.face

    def until_found(limit, **place) -> int | None:
        for number in range(limit):
            if tick(**place, record=False)[0]:
                return number + 1
        return None

    for number in range(max_ticks):
        if tick()[0]:
            result["found_tick"] = number
            break
    if result["found_tick"] is None:
        return result
    for _ in range(TRACKED_TICKS):
        result["held"] += tick()[0]
        result["held_costs"].append(result["costs"][-1])
        result["held_passes"].append(result["passes"][-1])
    for away in ABSENCES:
        for _ in range(away):
            tick(shown=None, record=False)
        result["again"][away] = found = until_found(AGAIN_TICKS)
        if found is None:
            return result
    for _ in range(MOVE_AWAY_TICKS):
        tick(shown=None, record=False)
    x1, y1 = int(scene.rng.integers(1, width - side - 1)), int(scene.rng.integers(1, height - side - 1))
    result["moved"] = until_found(AGAIN_TICKS, x=x1, y=y1)
    if lookalikes is None or result["moved"] is None:
        return result
    (_, head, head_mask), (_, thing, thing_mask) = lookalikes
    result["turned_read"] = [tick(shown=head, x=x1, y=y1, mask=head_mask, record=False)[1]
                             for _ in range(LOOKALIKE_TICKS)]
    finder.reset()
    wall = scene.wall()
    x2, y2 = int(scene.rng.integers(1, width - side - 1)), int(scene.rng.integers(1, height - side - 1))
    result["object_read"] = [tick(shown=thing, x=x2, y=y2, mask=thing_mask, record=False)[1]
                             for _ in range(LOOKALIKE_TICKS)]
    return result


def run_sweep(model_path, dataset_dir, *, faces=60, haar_faces=25, empty=1000, haar_empty=50, seed=0,
              threads=1, sizes=SIZES, split="private", progress=sys.stderr, against=None, search_passes=None) -> dict:
    """The sweep's figures: one row per face width, plus empty frames (with ``against``, another finder given
    them in turn with ours: a searching tick's cost against its in the same process) and the native 48x48
    accuracy."""
    pixels, labels = load_ferplus_faces(dataset_dir, split)
    rng = np.random.default_rng(seed)
    chosen = rng.choice(len(pixels), size=min(faces, len(pixels)), replace=False)
    model = ExpressionModel(model_path, threads=threads)
    budget = {} if search_passes is None else {"search_passes": search_passes}
    finder, haar = FaceFinder("blazeface", threads=threads, **budget), FaceFinder("haar")
    perception = Perception(finder, model)
    conventions = {"aligned": {**ALIGNED, **model.face_crop, "align_eyes": True},
                   "unaligned": dict(model.face_crop, align_eyes=False)}
    max_ticks = FIND_TICKS
    scene = Scene(rng)
    lookalikes = LookAlikes(pixels[chosen], rng)
    native = np.mean([np.argmax(model.predict(pixels[i])) == labels[i] for i in chosen])
    rows, started, following = [], time.monotonic(), []
    for number, side in enumerate(sizes):
        cells = {"upright": [], "rolled": []}
        haar_hits, haar_costs = {"upright": 0, "rolled": 0}, []
        haar_count = min(haar_faces, len(chosen))
        for k, index in enumerate(chosen):
            for pose, roll in (("upright", 0), ("rolled", ROLL_DEG if k % 2 else -ROLL_DEG)):
                patch = face_patch(pixels[index], side, roll)
                head, thing = HEADS[k % len(HEADS)], OBJECTS[k % len(OBJECTS)]
                made = [(kind, *lookalikes.patch(kind, pixels[index], side)) for kind in (head, thing)]
                listener = _listener(perception, scene, patch, labels[index], conventions, max_ticks, made)
                cells[pose].append(listener)
                frame, centre = listener.pop("first_frame")  # Haar looks at the same first frame
                if k >= haar_count:
                    continue
                start = time.thread_time()
                found = haar.find(frame)
                haar_costs.append(time.thread_time() - start)
                haar_hits[pose] += any(is_the_face(face, centre, side) for face in found)
        rows.append(_row(side, cells, haar_hits, haar_costs, haar_count))
        following += [cost for trials in cells.values() for t in trials for cost in t["held_costs"]]
        elapsed = time.monotonic() - started
        print(f"sweep: {side} px done ({number + 1}/{len(sizes)}), {elapsed:.0f} s, about "
              f"{elapsed / (number + 1) * (len(sizes) - number - 1):.0f} s left", file=progress, flush=True)
    return {"frame_size": list(FRAME_SIZE), "threads": threads, "split": split, "faces_per_width": len(chosen),
            "haar_faces_per_width": haar_count,
            "tracked_ticks": TRACKED_TICKS, "max_ticks_to_find": max_ticks,
            "native_48px_accuracy": round(float(native), 3), "rows": rows,
            "following_cost_ms_median": round(float(np.median(following)) * 1000, 2) if following else None,
            "empty": _empty_frames(finder, haar, scene, empty, haar_empty, against)}



def _rate(values) -> float | None:
    return round(float(np.mean(values)), 3) if len(values) else None


def _ticks(values: list[int | None]) -> dict:
    """Median and p90 of ticks until found (None: not found in time, counted as later than any), and the
    shares found within WITHIN ticks."""
    if not values:
        return {"count": 0, "median": None, "p90": None, **{f"within_{n}": None for n in WITHIN}}
    ticks = np.array([np.inf if value is None else value for value in values], dtype=float)
    quantile = lambda q: (None if not np.isfinite(value := np.percentile(ticks, q, method="higher"))  # noqa: E731
                          else float(value))
    return {"count": len(values), "median": quantile(50), "p90": quantile(90),
            **{f"within_{n}": _rate(ticks <= n) for n in WITHIN}}


def listeners_view(trials) -> dict:
    """The listener's view of one width: ticks until found (still), found again after each absence and at
    another seat, and the share of ticks a turned-away head or a look-alike object gave a reading."""
    return {
        "still": _ticks([None if t["found_tick"] is None else t["found_tick"] + 1 for t in trials]),
        "again": {str(away): _ticks([t["again"][away] for t in trials if away in t["again"]]) for away in ABSENCES},
        "moved": _ticks([t["moved"] for t in trials if t["again"] and len(t["again"]) == len(ABSENCES)
                         and all(t["again"].values())]),
        "turned_read": _rate([read for t in trials for read in t["turned_read"]]),
        "turned_ticks": sum(len(t["turned_read"]) for t in trials),
        "object_read": _rate([read for t in trials for read in t["object_read"]]),
        "object_ticks": sum(len(t["object_read"]) for t in trials),
    }


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
        "view": listeners_view(all_trials),
    }


def _empty_frames(finder, haar, scene, frames, haar_frames, against=None) -> dict:
    finder.reset()
    costs, false_frames, passes, against_costs = [], 0, finder.passes, []
    for index in range(frames):
        if index and index % POOL_FRAMES == 0:
            scene = scene.fresh()
        if index % ROOM_FRAMES == 0:
            wall = scene.wall()
        frame = scene.frame(wall)
        start = time.thread_time()
        false_frames += bool(finder.find(frame))
        costs.append(time.thread_time() - start)
        if against is not None:
            start = time.thread_time()
            against.find(frame)
            against_costs.append(time.thread_time() - start)
    passes = (finder.passes - passes) / frames
    haar_false = sum(bool(haar.find(scene.frame(scene.wall()))) for _ in range(haar_frames))
    costs_ms = np.array(costs) * 1000
    return {"frames": frames, "false_positive_frames": false_frames,
            "cost_ms_median": round(float(np.median(costs_ms)), 2),
            "cost_ms_p90": round(float(np.percentile(costs_ms, 90)), 2), "passes_mean": round(passes, 2),
            "haar_frames": haar_frames, "haar_false_positive_frames": haar_false,
            **({"against_cost_ms_median": round(float(np.median(against_costs)) * 1000, 2)} if against_costs else {})}
