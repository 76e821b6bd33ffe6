"""The one perception call: real BlazeFace and the real model on FER2013 test faces pasted into a frame."""

from __future__ import annotations

import numpy as np
import pytest

from moodbox.config import Config, FaceConfig, ModelConfig
from moodbox.perception.expression import ModelError
from moodbox.devkit.scripted import ScriptedFaceSource
from moodbox.perception.pipeline import Perception


@pytest.fixture(scope="module")
def perception(model_path):
    if not model_path.is_file():
        pytest.skip(f"{model_path} is absent: train one with training/ (moodbox-train pipeline)")
    return Perception.from_config(Config(model=ModelConfig(path=str(model_path))))


def test_a_face_in_the_frame_gives_an_expression_with_stage_times(perception, data_dir):
    step = [0.0]
    source = ScriptedFaceSource(data_dir, [("happy", 1.0), ("surprise", 1.0)], clock=lambda: step[0])
    readings, expected = [], []
    for index in range(20):
        step[0] = float(index)
        frame = source.grab()
        readings.append(perception.look(frame))
        expected.append(source.expected_label())
    seen = [reading for reading in readings if reading.face]
    assert len(seen) >= 15  # BlazeFace finds most pasted faces
    for reading in seen:
        assert reading.probabilities.shape == (len(perception.labels),)
        assert reading.expression == perception.labels[int(np.argmax(reading.probabilities))]
        assert set(reading.seconds) == {"face_finder", "crop", "model"}
    matches = sum(reading.expression == label for reading, label in zip(readings, expected) if reading.face)
    assert matches > len(seen) / 2  # two expressions: chance would be half


def test_no_face_is_a_reading_without_expression(perception):
    reading = perception.look(np.full((480, 640), 90, np.uint8))
    assert not reading.face and reading.probabilities is None and reading.expression is None
    assert set(reading.seconds) == {"face_finder"}


def test_average_listener_reads_every_face(perception, data_dir):
    source = ScriptedFaceSource(data_dir, [("happy", 1.0)], frame_size=(320, 240))
    frame = np.hstack([source.grab(), source.grab()])  # two people side by side
    both = Perception.from_config(Config(face=FaceConfig(listener="average")), finder=perception.finder,
                                  model=perception.model).look(frame)
    largest = perception.look(frame)
    assert len(largest.faces) == 1 and len(both.faces) == 2


def test_a_missing_model_names_the_config_key(tmp_path):
    with pytest.raises(ModelError, match=r"gone.tflite: model file not found \(config key model.path"):
        Perception.from_config(Config(model=ModelConfig(path=str(tmp_path / "gone.tflite"))))
