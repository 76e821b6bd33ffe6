"""The issue-23 rows for any int8 expression model file, with the same functions as ``moodbox-train evaluate``.

For a model that did not train on the Taiwanese actors (e.g. the one shipped before) every actor is unseen, so it
is scored on all 17; the fold figures of a model trained on them come from ``evaluate --folds``.
    git show 4dd9151:models/emotion.tflite > /tmp/before.tflite
    PYTHONPATH=training training/.venv/bin/python training/compare_model.py /tmp/before.tflite
"""

import sys

from moodbox_training import data, evaluate
from moodbox_training.posed import balanced_report, load_posed
from moodbox_training.runtime import TfliteClassifier

model = TfliteClassifier(sys.argv[1])
fer = data.load("../shared/data")
rows = fer.split("private")
print("PrivateTest FER+ (mirror-averaged), clean and dim+blur+noise:",
      evaluate.degraded_scores(lambda faces, _: model.predict(faces, True),  # the raw crop: no denoise of its own
                               fer.pixels[rows], fer.ferplus_majority[rows]))
posed = load_posed("../shared/data")
print("Taiwanese actors, all 17 (mirror-averaged):",
      balanced_report(model.predict(posed.pixels, True).argmax(1), posed.emotion.astype(int)))
