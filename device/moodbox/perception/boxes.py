"""Face boxes: the face type, BlazeFace's anchors and weighted non-maximum suppression (as MediaPipe's short-range
face detector graph), the eye line, and the geometry of the scan: where to look closer and which boxes are one face.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

BLAZEFACE_SIZE = 128
BLAZEFACE_STRIDES = (8, 16, 16, 16)
NMS_IOU = 0.3  # MediaPipe's min_suppression_threshold for this model
SAME_FACE_RATIO = 2.0  # box widths of two looks at one face (a face ~24 px in the input: a third off either way)


@dataclass(frozen=True)
class Face:
    """A face box in frame pixels; eyes are the person's own left and right eye, when the detector gives them."""
    x: float
    y: float
    w: float
    h: float
    score: float
    left_eye: tuple[float, float] | None = None
    right_eye: tuple[float, float] | None = None


def ssd_anchors(size: int = BLAZEFACE_SIZE, strides=BLAZEFACE_STRIDES) -> np.ndarray:
    """Anchor centres (x, y) in [0, 1] of MediaPipe's SSD anchor calculator, fixed anchor size 1.

    Consecutive layers with the same stride share one grid; each layer contributes two anchors per cell
    (aspect ratio 1 plus the interpolated scale). Short range: 16x16x2 + 8x8x6 = 896 anchors.
    """
    anchors = []
    layer = 0
    while layer < len(strides):
        same = layer
        while same < len(strides) and strides[same] == strides[layer]:
            same += 1
        per_cell = 2 * (same - layer)
        cells = size // strides[layer]
        centres = (np.arange(cells, dtype=np.float32) + 0.5) / cells
        ys, xs = np.meshgrid(centres, centres, indexing="ij")
        grid = np.stack([xs.ravel(), ys.ravel()], axis=1)
        anchors.append(np.repeat(grid, per_cell, axis=0))
        layer = same
    return np.concatenate(anchors)


def grid_anchors(width: int, height: int) -> np.ndarray:
    """Anchor centres (x, y) in input pixels of the short-range model run on a ``width`` x ``height`` input
    (multiples of 16): the 128x128 layout (:func:`ssd_anchors`) over a larger grid, in the model's output order."""
    anchors = []
    for stride, per_cell in ((8, 2), (16, 6)):
        ys, xs = np.meshgrid((np.arange(height // stride) + 0.5) * stride, (np.arange(width // stride) + 0.5) * stride,
                             indexing="ij")
        anchors.append(np.repeat(np.stack([xs.ravel(), ys.ravel()], axis=1), per_cell, axis=0))
    return np.concatenate(anchors).astype(np.float32)


def weighted_nms(boxes: np.ndarray, points: np.ndarray, scores: np.ndarray, iou_threshold: float = NMS_IOU):
    """MediaPipe's weighted suppression: each cluster of overlapping boxes becomes their score-weighted mean.

    ``boxes`` (N, 4) as x1, y1, x2, y2; ``points`` (N, K, 2). Returns a list of (box, points, score).
    """
    order = np.argsort(-scores)
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    merged = []
    while order.size:
        top = order[0]
        inter_w = np.clip(np.minimum(boxes[order, 2], boxes[top, 2]) - np.maximum(boxes[order, 0], boxes[top, 0]),
                          0, None)
        inter_h = np.clip(np.minimum(boxes[order, 3], boxes[top, 3]) - np.maximum(boxes[order, 1], boxes[top, 1]),
                          0, None)
        inter = inter_w * inter_h
        iou = inter / np.maximum(areas[order] + areas[top] - inter, 1e-9)
        cluster, order = order[iou > iou_threshold], order[iou <= iou_threshold]
        cluster = cluster if cluster.size else np.array([top])
        weights = scores[cluster] / scores[cluster].sum()
        merged.append((weights @ boxes[cluster], np.tensordot(weights, points[cluster], axes=1), float(scores[top])))
    return merged


def to_faces(merged) -> list[Face]:
    # BlazeFace keypoint 0 is the person's right eye, keypoint 1 the left eye
    return [Face(float(x1), float(y1), float(x2 - x1), float(y2 - y1), score,
                 left_eye=tuple(map(float, points[1])), right_eye=tuple(map(float, points[0])))
            for (x1, y1, x2, y2), points, score in merged]


def eye_tilt_deg(face: Face) -> float | None:
    """How far the eye line is turned from level, in degrees (positive: the person's left eye lower on the
    image, i.e. the face turned clockwise on screen); None without eye keypoints."""
    if not (face.left_eye and face.right_eye):
        return None
    return float(np.degrees(np.arctan2(face.left_eye[1] - face.right_eye[1], face.left_eye[0] - face.right_eye[0])))


def around(face: Face, face_px: float, width: int, height: int) -> tuple[int, int, int, int]:
    """A square region (x, y, w, h) centred on ``face``, sized so the face is ``face_px`` in the model's input,
    moved inside the frame (and cut to it where larger)."""
    side = max(face.w, face.h) * BLAZEFACE_SIZE / face_px
    w, h = min(width, round(side)), min(height, round(side))
    x = min(max(round(face.x + face.w / 2 - w / 2), 0), width - w)
    y = min(max(round(face.y + face.h / 2 - h / 2), 0), height - h)
    return x, y, w, h


def same_face(a: Face, b: Face) -> bool:
    """Whether two boxes show the same face: each centre inside the other box, widths within SAME_FACE_RATIO."""
    return (abs(a.x + a.w / 2 - b.x - b.w / 2) < min(a.w, b.w) / 2
            and abs(a.y + a.h / 2 - b.y - b.h / 2) < min(a.h, b.h) / 2
            and max(a.w, b.w) < SAME_FACE_RATIO * min(a.w, b.w))


def scan_bands(width: int, height: int, count: int, overlap: int) -> list[tuple[int, int, int, int]]:
    """``count`` bands (0, y, width, h) across the frame, top to bottom, neighbours overlapping by ``overlap``
    rows: every face up to ``overlap`` px high lies whole inside one of them."""
    side = min(height, -(-(height - overlap) // count) + overlap)
    return [(0, int(y), width, side) for y in np.linspace(0, height - side, count).round().astype(int)]


def turned_square(gray: np.ndarray, face: Face, angle_deg: float, side: int):
    """A ``side`` px square of ``gray`` around ``face``, turned by ``angle_deg`` about its centre, and the map of
    a point (x, y) in it back to the frame."""
    centre_x, centre_y = face.x + face.w / 2, face.y + face.h / 2
    to_turned = cv2.getRotationMatrix2D((centre_x, centre_y), angle_deg, 1.0)
    to_turned[:, 2] += (side / 2 - centre_x, side / 2 - centre_y)
    turned = cv2.warpAffine(gray, to_turned, (side, side), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    back = cv2.invertAffineTransform(to_turned)
    return turned, lambda xy: tuple(float(v) for v in back[:, :2] @ np.asarray(xy) + back[:, 2])
