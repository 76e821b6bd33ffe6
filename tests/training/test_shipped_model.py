"""The committed model: its declared I/O, and the card's PrivateTest accuracy reproduced."""

import json

import numpy as np
import pytest

from moodbox_training import data, scoring
from moodbox_training.runtime import TfliteClassifier


@pytest.fixture(scope="module")
def card(model_path):
    return json.loads(model_path.with_suffix(".json").read_text())


def test_declared_io_matches_the_tensors(model_path, card):
    classifier = TfliteClassifier(model_path)
    declared = card["input"]
    assert classifier.input_shape == (1, declared["height"], declared["width"], declared["channels"])
    assert np.dtype(classifier.input["dtype"]).name == declared["dtype"] == "int8"
    assert classifier.input["quantization"][0] > 0  # full-integer: scale and zero point in the file
    assert tuple(classifier.output["shape"]) == (1, len(card["labels"]))
    assert card["labels"] == list(data.LABELS)
    assert model_path.stat().st_size == card["metrics"]["model_bytes"]


def test_privatetest_accuracy_reproduces_the_card(model_path, card, data_dir):
    fer = data.load(data_dir)
    assert card["datasets"]["sha256"].items() >= fer.sha256.items(), "dataset differs from the one the card used"
    rows = fer.split("private")
    mirror_average = card["face_crop"]["mirror_average"]
    predicted = scoring.predict(TfliteClassifier(model_path), fer.pixels[rows], "PrivateTest", mirror_average,
                                card["face_crop"].get("denoise")).argmax(axis=1)
    scores = scoring.score_both(predicted, fer.emotion[rows].astype(np.int64), fer.ferplus_majority[rows])
    for name in ("fer2013", "ferplus"):
        assert scores[name]["accuracy"] == pytest.approx(card["metrics"]["int8"][name]["accuracy"], abs=0.005)
