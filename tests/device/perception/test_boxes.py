"""Face boxes' geometry: BlazeFace's anchors, weighted suppression, the eye line and the scan's bands."""

from __future__ import annotations

import numpy as np
import pytest

from moodbox.perception.boxes import Face, around, eye_tilt_deg, same_face, scan_bands, ssd_anchors, weighted_nms


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


def test_eye_tilt_is_signed_like_the_turn_that_levels_it():
    assert eye_tilt_deg(Face(0, 0, 10, 10, 1.0)) is None  # Haar gives no eyes
    assert eye_tilt_deg(Face(0, 0, 10, 10, 1.0, left_eye=(7, 5), right_eye=(3, 5))) == 0
    # the person's left eye (image right) lower: turned clockwise on screen, levelled by a positive cv2 turn
    assert eye_tilt_deg(Face(0, 0, 10, 10, 1.0, left_eye=(7, 7), right_eye=(3, 3))) == pytest.approx(45)


def test_scan_bands_hold_every_face_they_are_for():
    bands = scan_bands(640, 480, 5, 56)
    assert len(bands) == 5 and bands[0][1] == 0 and bands[-1][1] + bands[-1][3] == 480
    assert all(x == 0 and w == 640 and h == bands[0][3] < 480 / 2 for x, _, w, h in bands)
    for fy in range(0, 480 - 56 + 1):
        assert any(y <= fy and fy + 56 <= y + h for _, y, _, h in bands), fy


def test_same_face_needs_each_centre_in_the_other_box_and_a_like_width():
    face = Face(100, 100, 40, 40, 0.9)
    assert same_face(face, Face(110, 95, 44, 44, 0.6))
    assert not same_face(face, Face(125, 100, 40, 40, 0.9))  # centre outside the other box
    assert not same_face(face, Face(90, 90, 81, 81, 0.9))  # twice as wide


def test_around_puts_the_face_at_the_size_asked_and_stays_in_the_frame():
    assert around(Face(300, 200, 40, 40, 0.9), 40, 640, 480) == (256, 156, 128, 128)  # 40 px in a 128 input
    assert around(Face(0, 0, 40, 40, 0.9), 20, 640, 480) == (0, 0, 256, 256)  # moved inside the frame
    assert around(Face(200, 100, 300, 300, 0.9), 40, 640, 480) == (0, 0, 640, 480)  # cut to the frame
