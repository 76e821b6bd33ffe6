"""Measures the face-crop convention: where the device's face detector puts its box on a FER2013 face.

FER2013 faces are 48x48 crops registered by their authors. To crop a live face the way the training data
was cropped, the device needs the crop's size and centre relative to its own detector's box. This pastes
PrivateTest faces (upscaled x4) into a 640x480 frame, runs the device's FaceFinder (BlazeFace), and prints
the scale and vertical shift recorded as ``face_crop`` in ``models/emotion.json``. The faces are upright, so the
eye alignment of that convention (``align_eyes``; its thresholds come from ``moodbox bench --sweep``, which
scores crops with and without it) does not change what this measures.

Run with the device venv (it uses the device package, not TensorFlow):
    .venv/bin/python training/measure_crop.py [--data ../shared/data] [--faces 1000]
"""

import argparse
import json
from pathlib import Path

import cv2
import numpy as np

from moodbox.perception.faces import FaceFinder

UPSCALE = 4


def measure(pixels: np.ndarray) -> dict:
    finder = FaceFinder("blazeface")
    sides, shifts = [], []
    size = pixels.shape[1] * UPSCALE
    for face in pixels:
        frame = np.full((480, 640), 110, np.uint8)
        top, left = (480 - size) // 2, (640 - size) // 2
        frame[top:top + size, left:left + size] = cv2.resize(face, (size, size), interpolation=cv2.INTER_CUBIC)
        found = finder.find(frame)
        if not found:
            continue
        box = max(found, key=lambda f: f.w * f.h)
        side = max(box.w, box.h)
        sides.append(side)
        # Where the FER crop's centre lies relative to the box centre, in units of the box side.
        shifts.append((240 - (box.y + box.h / 2)) / side)
    side_in_crops = np.median(sides) / size
    return {"faces": len(pixels), "detected": len(sides), "scale": round(float(1 / side_in_crops), 3),
            "center_shift_y": round(float(np.median(shifts)), 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[1].parent / "shared" / "data")
    parser.add_argument("--faces", type=int, default=1000)
    args = parser.parse_args()
    with np.load(args.data / "fer2013.npz") as fer:
        pixels = fer["pixels"][np.flatnonzero(fer["usage"] == 2)[:args.faces]]
    print(json.dumps(measure(pixels)))


if __name__ == "__main__":
    main()
