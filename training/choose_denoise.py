"""What the device does to a noisy face crop before the model (``face_crop.denoise``), chosen on PublicTest.

1. ``min_noise``: a face is smoothed only when the noise level of its camera pixels (``moodbox.perception.crop.
   noise_level``) reaches the 99th percentile of that of clean PublicTest faces, rounded up to 0.1: clean faces are
   left as the model was trained on them (smoothing a clean far face costs it detail).
2. The filter: FER+ majority accuracy of an int8 model (mirror-averaged, as the device scores) on clean faces (at
   48 px, and shrunk to 32 and 24 px and enlarged back, as the device enlarges a far face's crop) and on the
   evaluation's dim + blur + noise faces (``robustness.py``) at each width, per filter, gated as in 1, with the
   filter's own cost per 48x48 face. The rule: the best on degraded 32 px faces among the filters costing at most
   0.1 ms a face that keep every clean column within 1 point of no filter.
PrivateTest is not looked at.
    PYTHONPATH=training training/.venv/bin/python training/choose_denoise.py [--model models/emotion.tflite]
"""

import argparse
import math
import time

import cv2
import numpy as np
from moodbox.perception.crop import noise_level

from moodbox_training import data, robustness
from moodbox_training.runtime import TfliteClassifier
from moodbox_training.scoring import predict

FILTERS = {
    "none": lambda face: face,
    "gaussian sigma 0.7": lambda face: cv2.GaussianBlur(face, (0, 0), 0.7),
    "median 3x3": lambda face: cv2.medianBlur(face, 3),
    "bilateral 5 px, 15 / 1.5": lambda face: cv2.bilateralFilter(face, 5, 15, 1.5),
    "bilateral 5 px, 20 / 1.5": lambda face: cv2.bilateralFilter(face, 5, 20, 1.5),
    "bilateral 5 px, 30 / 1.5": lambda face: cv2.bilateralFilter(face, 5, 30, 1.5),
    "bilateral 7 px, 20 / 1.5": lambda face: cv2.bilateralFilter(face, 7, 20, 1.5),
    "non-local means h 8": lambda face: cv2.fastNlMeansDenoising(face, None, 8, 5, 11),
}
MAX_MS, MAX_CLEAN_DROP, CLEAN_PERCENTILE = 0.1, 0.01, 99

parser = argparse.ArgumentParser()
parser.add_argument("--model", default="models/emotion.tflite")
parser.add_argument("--data", default="../shared/data")
args = parser.parse_args()
fer = data.load(args.data)
faces, truth = fer.ferplus_faces("public")

clean_levels = np.array([noise_level(face) for face in faces])
min_noise = math.ceil(np.percentile(clean_levels, CLEAN_PERCENTILE) * 10) / 10
print(f"noise level of clean PublicTest faces: median {np.median(clean_levels):.2f}, {CLEAN_PERCENTILE}th "
      f"percentile -> min_noise {min_noise:.1f} grey levels")

sets = {"clean 48": (faces, faces)}  # (the model's input, the camera's pixels the noise is judged on)
for size in robustness.SIZES[1:]:
    sets[f"clean {size}"] = robustness.seen_by_camera(faces, size, dim=1.0, blur_sigma=0.0, noise_sigma=0.0)
for size in robustness.SIZES:
    sets[f"degraded {size}"] = robustness.seen_by_camera(faces, size, seed=size)
noisy = {name: np.array([noise_level(c) >= min_noise for c in camera]) for name, (_, camera) in sets.items()}
for name, judged in noisy.items():
    print(f"  {name}: {judged.mean():.1%} of faces judged noisy")
start = time.perf_counter()
for face in faces[:1000]:
    noise_level(face)
print(f"judging a face's noise level: {(time.perf_counter() - start):.3f} ms")

model = TfliteClassifier(args.model)
print(f"{args.model} on {len(truth)} PublicTest faces (FER+ majority), int8, mirror-averaged")
print("| filter | ms a face | " + " | ".join(sets) + " |")
print("|---|---|" + "---|" * len(sets))
results = {}
for name, smooth in FILTERS.items():
    start = time.perf_counter()
    for face in faces[:1000]:
        smooth(face)
    cost_ms, accuracy = time.perf_counter() - start, {}  # per face: 1000 faces, in seconds = ms a face
    for key, (images, _) in sets.items():
        smoothed = np.stack([smooth(image) if judged else image for image, judged in zip(images, noisy[key])])
        accuracy[key] = float((predict(model, smoothed, key, True, denoise=None).argmax(1) == truth).mean())
    results[name] = (cost_ms, accuracy)
    print(f"| {name} | {results[name][0]:.3f} | " + " | ".join(f"{100 * v:.2f}%" for v in accuracy.values()) + " |",
          flush=True)
unfiltered = results["none"][1]
allowed = [name for name, (cost, accuracy) in results.items() if cost <= MAX_MS and all(
    accuracy[key] >= unfiltered[key] - MAX_CLEAN_DROP for key in sets if key.startswith("clean"))]
print("chosen:", max(allowed, key=lambda name: results[name][1]["degraded 32"]))
