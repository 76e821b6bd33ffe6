"""Face boxes: the face type, BlazeFace's anchors and weighted non-maximum suppression (as MediaPipe's short-range
face detector graph), the eye line, and the geometry of the scan: where to look closer and which boxes are one face.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

BLAZEFACE_SIZE = 128
BLAZEFACE_STRIDES = (8, 16, 16, 16)
NMS_IOU = 0.3  # MediaPipe's min_suppression_threshold for this model
SAME_FACE_RATIO = 2.0  # box widths of two looks at one face (a face ~24 px in the input: a third off either way)
SCAN_LEVELS = ((0.3, 0.125), (0.2, 0.0625))  # (tile side, overlap), shares of frame width; the wide look does the rest


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


def scan_tiles(width: int, height: int) -> list[tuple[tuple[int, int, int, int], float]]:
    """The cyclic scan for faces too small for the wide look, coarse first: square tiles ((x, y, side, side),
    largest face width the level is for; ``_BlazeFace._look`` allows its box some slack).

    Each level's tile side is a share of the frame's width (640 px: 192, 128 px); a tile takes faces down to
    ~24 px in the model's input, and neighbouring tiles overlap by the largest face its level is for, so every
    face lies whole inside some tile; larger faces are left to the coarser looks. The overlaps are as large as
    each level's tile count allows: BlazeFace's box of a face varies in width by a third or more. Faces of
    80 px and more are the wide look's (the whole frame at half size shows them at 40 px and more). 55 tiles at
    640x480.
    """
    tiles = []
    for side_share, overlap_share in SCAN_LEVELS:
        side, overlap = min(round(width * side_share), height), round(width * overlap_share)
        columns = -(-(width - side) // (side - overlap)) + 1
        rows = -(-(height - side) // (side - overlap)) + 1
        for y in np.linspace(0, height - side, rows).round().astype(int):
            for x in np.linspace(0, width - side, columns).round().astype(int):
                tiles.append(((int(x), int(y), side, side), float(overlap)))
    return tiles
