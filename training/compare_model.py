"""The issue-23 rows for any int8 expression model file, with the same functions as ``moodbox-train evaluate``.

For a model that did not train on the Taiwanese actors (e.g. the one shipped before) every actor is unseen, so it
is scored on all 17; the fold figures of a model trained on them come from ``evaluate --folds``. ``--split public``
compares candidates without looking at PrivateTest (the actors are then left out); ``--device-view`` scores the
crops as the device hands them to the model (smoothed when noisy: ``scoring.DENOISE``), ``evaluate``'s way;
without it the raw crop.
    git show 4dd9151:models/emotion.tflite > /tmp/before.tflite
    PYTHONPATH=training training/.venv/bin/python training/compare_model.py /tmp/before.tflite [--split public]
"""

import argparse

from moodbox_training import data, evaluate
from moodbox_training.posed import balanced_report, load_posed
from moodbox_training.runtime import TfliteClassifier
from moodbox_training.scoring import DENOISE, predict

parser = argparse.ArgumentParser()
parser.add_argument("models", nargs="+")
parser.add_argument("--split", choices=("public", "private"), default="private")
parser.add_argument("--device-view", action="store_true")
args = parser.parse_args()
fer = data.load("../shared/data")
rows = fer.split(args.split)
for path in args.models:
    model = TfliteClassifier(path)
    denoise = DENOISE if args.device_view else None
    scores = evaluate.degraded_scores(lambda faces, camera: predict(model, faces, path, True, denoise, camera),
                                      fer.pixels[rows], fer.ferplus_majority[rows])
    print(f"{path}: {args.split} FER+ (mirror-averaged, {'device view' if denoise else 'raw crop'}), clean and "
          "dim+blur+noise:", {name: round(value, 4) for name, value in scores.items()}, flush=True)
    if args.split == "private":
        posed = load_posed("../shared/data")
        print("  Taiwanese actors, all 17 (mirror-averaged):",
              balanced_report(model.predict(posed.pixels, True).argmax(1), posed.emotion.astype(int)))
