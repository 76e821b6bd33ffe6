"""The scripted FER2013 face source of the demo and the bench, on the real dataset."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from moodbox.perception.frames import FrameError
from moodbox.devkit.scripted import LABELS, ScriptedFaceSource

from device_support import FakeClock


def test_scripted_source_follows_the_script_and_loops(data_dir):
    clock = FakeClock(start=100.0)
    source = ScriptedFaceSource(data_dir, [("happy", 10), ("sad", 5)], clock=clock, seed=3)
    seen = []
    for offset in (0, 9.9, 10, 14.9, 15, 26):
        clock.now = 100.0 + offset
        seen.append(source.expected_label())
    assert seen == ["happy", "happy", "sad", "sad", "happy", "sad"]


def test_scripted_source_pastes_a_face_into_a_larger_frame(data_dir):
    source = ScriptedFaceSource(data_dir, [("surprise", 1)], frame_size=(640, 480), seed=1)
    boxes = set()
    for _ in range(10):
        frame = source.grab()
        x, y, w, h = source.last_face_box
        boxes.add((x, y))
        assert frame.shape == (480, 640) and frame.dtype == np.uint8
        assert 120 <= w == h <= 220 and 0 <= x <= 640 - w and 0 <= y <= 480 - h
    assert len(boxes) == 10  # a new place every frame


def test_scripted_source_rejects_unknown_expressions_and_missing_data(data_dir, tmp_path):
    with pytest.raises(ValueError, match="'joy'.*" + ", ".join(LABELS)):
        ScriptedFaceSource(data_dir, [("joy", 5)])
    with pytest.raises(FrameError, match=f"{tmp_path / 'fer2013.npz'} not found.*--dataset"):
        ScriptedFaceSource(tmp_path, [("happy", 5)])


def test_without_a_dataset_the_error_says_exactly_what_to_give(monkeypatch):
    """Issue 25 item 3: an installed `moodbox bench` / `demo` looked for FER2013 in a path inside the venv; without
    $MOODBOX_DATA or a checkout it now says what to give it (Kaggle's CSV or the .npz files)."""
    import moodbox.devkit.scripted as scripted

    monkeypatch.delenv("MOODBOX_DATA", raising=False)
    monkeypatch.setattr(scripted, "CHECKOUT", Path("/opt/moodbox/venv/lib/python3.11"))  # an installed package
    assert scripted.default_dataset_dir() is None
    with pytest.raises(FrameError, match="no FER2013 faces given. Give --dataset .*Kaggle's fer2013.csv"):
        ScriptedFaceSource(scripted.default_dataset_dir(), [("happy", 1)])
