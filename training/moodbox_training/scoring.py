"""Scoring the int8 model the way the device runs it: per-class reports, and the mirror-averaging choice."""

from __future__ import annotations

import logging

import numpy as np
from moodbox.perception.crop import denoised
from tqdm import tqdm

from .data import LABELS, FerData
from .runtime import TfliteClassifier

log = logging.getLogger(__name__)


# The device smooths a face crop with this filter before the model reads it when the face's camera pixels are noisy
# (``face_crop.denoise`` of the model JSON, applied by ``moodbox.perception.crop.denoised``): in a dim room sensor
# noise costs the model more than dimness or blur (training/degradation_components.py). ``min_noise`` is the 99th
# percentile of the noise level of clean PublicTest faces, so clean faces are left as they are; the filter is chosen
# on PublicTest: `PYTHONPATH=training training/.venv/bin/python training/choose_denoise.py`.
DENOISE = {"filter": "bilateral", "diameter": 5, "sigma_color": 20, "sigma_space": 1.5, "min_noise": 6.7}


def device_view(images: np.ndarray, denoise: dict | None, camera_pixels: np.ndarray | None = None) -> np.ndarray:
    """uint8 faces (N, H, W) as the device hands them to the model: each smoothed per ``denoise`` if it is noisy
    (judged on ``camera_pixels``, the faces before the device enlarged them, when given); unchanged without."""
    if not denoise or not len(images):
        return images
    judged = images if camera_pixels is None else camera_pixels
    return np.stack([denoised(image, denoise, camera) for image, camera in zip(images, judged)])


def predict(classifier: TfliteClassifier, images: np.ndarray, name: str, mirror_average: bool = False,
            denoise: dict | None = DENOISE, camera_pixels: np.ndarray | None = None):
    """Scores per face as the device computes them: the face smoothed per ``denoise`` when noisy (see
    :func:`device_view`), and with ``mirror_average`` the mean over it and its mirror image."""
    faces = device_view(images, denoise, camera_pixels)
    scores = _scores(classifier, faces, name)
    if mirror_average:
        scores = (scores + _scores(classifier, faces[:, :, ::-1], name + " (mirrored)")) / 2
    return scores


def _scores(classifier: TfliteClassifier, faces: np.ndarray, name: str) -> np.ndarray:
    return np.stack([classifier.predict_one(face) for face in tqdm(faces, desc=name, leave=False, disable=None)])


def choose_mirror_average(classifier: TfliteClassifier, data: FerData, sees_mirror_image: bool = False) -> dict:
    """Mirror-averaging (the device then runs the model twice) is used only if it helps on PublicTest.

    "Helps" is judged like checkpoint selection: the mean of FER2013 and FER+ majority accuracy. A model that
    already looks at the mirror image (an ensemble's second network, see ``export``) is run once: it spends the
    device's two inferences per face in one pass.
    """
    if sees_mirror_image:
        log.info("the model looks at the mirror image itself -> mirror_average=False")
        return {"mirror_average": False, "model_sees_mirror_image": True}
    rows = data.split("public")
    fer_labels, ferplus_labels = data.emotion[rows].astype(np.int64), data.ferplus_majority[rows]
    choice = {}
    for name, mirror_average in (("single", False), ("mirror_average", True)):
        predicted = predict(classifier, data.pixels[rows], "PublicTest", mirror_average).argmax(axis=1)
        scores = score_both(predicted, fer_labels, ferplus_labels)
        choice[f"public_score_{name}"] = (scores["fer2013"]["accuracy"] + scores["ferplus"]["accuracy"]) / 2
    choice["mirror_average"] = choice["public_score_mirror_average"] > choice["public_score_single"]
    log.info("PublicTest mean accuracy: single %.4f, mirror-averaged %.4f -> mirror_average=%s",
             choice["public_score_single"], choice["public_score_mirror_average"], choice["mirror_average"])
    return choice


def classification_report(predicted: np.ndarray, truth: np.ndarray) -> dict:
    """Accuracy, macro-F1, per-class precision/recall/F1/support and the confusion matrix (rows = truth)."""
    confusion = np.zeros((len(LABELS), len(LABELS)), dtype=np.int64)
    np.add.at(confusion, (truth, predicted), 1)
    true_positive = np.diag(confusion).astype(np.float64)
    precision = true_positive / np.maximum(confusion.sum(axis=0), 1)
    recall = true_positive / np.maximum(confusion.sum(axis=1), 1)
    f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-12)
    return {
        "accuracy": float(true_positive.sum() / confusion.sum()),
        "macro_f1": float(f1.mean()),
        "rows": int(confusion.sum()),
        "per_class": {label: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
                      for label, p, r, f, s in zip(LABELS, precision, recall, f1, confusion.sum(axis=1))},
        "confusion": confusion.tolist(),
    }


def score_both(predicted: np.ndarray, fer_labels: np.ndarray, ferplus_labels: np.ndarray) -> dict:
    kept = ferplus_labels >= 0
    return {"fer2013": classification_report(predicted, fer_labels),
            "ferplus": classification_report(predicted[kept], ferplus_labels[kept])}
