"""The evaluation: its degraded rows scored as the device reads such faces, and the training record it writes."""

import json

import numpy as np
import pytest

pytest.importorskip("torch")

from moodbox_training.evaluate import FACE_CROP, degraded_scores  # noqa: E402
from moodbox_training.scoring import DENOISE, device_view  # noqa: E402

pytestmark = pytest.mark.training


def test_degraded_faces_are_judged_noisy_on_the_pixels_the_camera_gave():
    faces = np.random.default_rng(0).integers(0, 256, (6, 48, 48), dtype=np.uint8)
    labels = np.array([0, 1, 2, 3, 4, -1])
    seen = []

    def predict(images, camera_pixels):
        seen.append((len(images), None if camera_pixels is None else camera_pixels.shape))
        return np.eye(7)[np.zeros(len(images), int)]

    scores = degraded_scores(predict, faces, labels)
    assert seen == [(5, None), (5, (5, 48, 48)), (5, (5, 32, 32)), (5, (5, 24, 24))]  # clean; 48 / 32 / 24 px
    assert scores == {"clean_48": 0.2, "degraded_48": 0.2, "degraded_32": 0.2, "degraded_24": 0.2}
    assert FACE_CROP["denoise"] == DENOISE


def test_the_device_view_smooths_only_noisy_faces():
    rng = np.random.default_rng(1)
    flat = np.full((2, 48, 48), 120.0)
    clean = flat.astype(np.uint8)
    grainy = np.clip(flat + rng.normal(0, 10, flat.shape), 0, 255).astype(np.uint8)
    assert device_view(clean, None) is clean
    assert np.array_equal(device_view(clean, DENOISE), clean)
    assert device_view(grainy, DENOISE).std() < 0.6 * grainy.std()
    assert np.array_equal(device_view(grainy, DENOISE, camera_pixels=clean[:, :24, :24]), grainy)  # judged there


def test_a_warm_start_records_the_weights_it_started_from_not_the_last_models_record(tmp_path):
    from moodbox_training.evaluate import _training_record

    weights = tmp_path / "weights"
    weights.mkdir()
    (weights / "base.pt").write_bytes(b"base weights")
    (weights / "base.json").write_text(json.dumps({"commands": ["moodbox-train train --run-dir runs/base"]}))
    run = tmp_path / "run"
    run.mkdir()
    (run / "train_config.json").write_text(json.dumps({"init_from": str(weights / "base.pt")}))
    previous = tmp_path / "emotion.json"  # a shipped model's JSON, whose record must not be nested again
    previous.write_text(json.dumps({"training": {"commands": ["moodbox-train evaluate"], "started_from": {}}}))
    started = _training_record(run, previous)["started_from"]
    assert started["commands"] == ["moodbox-train train --run-dir runs/base"]
    assert started["weights"] == str(weights / "base.pt") and "started_from" not in started
