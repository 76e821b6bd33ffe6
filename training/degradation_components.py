"""Which part of the evaluation's dim + blur + noise degradation (``robustness.py``) costs an int8 expression model
its accuracy: PrivateTest FER+ majority accuracy (mirror-averaged, as the device scores) with each part alone and
all together, at each width of ``robustness.SIZES``, on the same pixels as ``moodbox-train evaluate``'s rows.
    PYTHONPATH=training training/.venv/bin/python training/degradation_components.py [MODEL.tflite ...]
"""

import argparse

from moodbox_training import data, robustness
from moodbox_training.runtime import TfliteClassifier

PARTS = {"dim": dict(blur_sigma=0.0, noise_sigma=0.0), "blur": dict(dim=1.0, noise_sigma=0.0),
         "noise": dict(dim=1.0, blur_sigma=0.0), "dim + noise": dict(blur_sigma=0.0), "all": {}}

parser = argparse.ArgumentParser()
parser.add_argument("models", nargs="*", default=["models/emotion.tflite"])
parser.add_argument("--data", default="../shared/data")
args = parser.parse_args()
fer = data.load(args.data)
faces, truth = fer.ferplus_faces("private")
for path in args.models:
    model = TfliteClassifier(path)
    accuracy = lambda images: float((model.predict(images, True).argmax(1) == truth).mean())  # noqa: E731
    print(f"{path}: clean 48 px {accuracy(faces):.2%}")
    for part, settings in PARTS.items():
        cells = [f"{size} px {accuracy(robustness.degraded(faces, size, seed=size, **settings)):.2%}"
                 for size in robustness.SIZES]
        print(f"  {part:12s}", " | ".join(cells), flush=True)
