"""The scripted face source of ``moodbox demo`` and ``moodbox bench``: FER2013 test faces in a larger frame.

The dataset knowledge of the device lives here, in one place: the FER2013 label order, the FER+ vote columns,
the PrivateTest split, and where the arrays are found. (training/ keeps its own copy: it never imports the device.)
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from moodbox.names import EXPRESSIONS
from moodbox.paths import CHECKOUT, SHARED_DATA
from moodbox.perception.frames import FrameError

LABELS = EXPRESSIONS
"""FER2013 label order (the ``emotion`` column of fer2013.npz), which is the order of the expressions."""
FERPLUS_COLUMN_OF_LABEL = np.array([4, 5, 6, 1, 3, 2, 0])  # FER+ vote column of each label in LABELS
PRIVATE_TEST = 2
HOW_TO_GET_DATA = (
    "Give --dataset (or $MOODBOX_DATA) Kaggle's fer2013.csv (from 'challenges-in-representation-learning-facial-"
    "expression-recognition-challenge'; with the FER+ labels' fer2013new.csv from github.com/microsoft/FERPlus beside "
    "it if you have them), or a folder holding it, or one holding fer2013.npz and ferplus_votes.npz.")
FERPLUS_CSV_COLUMNS = ("neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt",
                       "unknown", "NF")  # fer2013new.csv's vote columns, in the order of ferplus_votes.npz


def default_dataset_dir() -> Path | None:
    """``$MOODBOX_DATA``, else ``<checkout>/../shared/data`` when running from a checkout; None for an installed
    moodbox given neither (there is no data beside the venv)."""
    if "MOODBOX_DATA" in os.environ:
        return Path(os.environ["MOODBOX_DATA"])
    return SHARED_DATA if (CHECKOUT / "device").is_dir() else None


def load_script_faces(dataset_dir) -> dict[str, np.ndarray]:
    """FER2013 PrivateTest faces whose FER2013 label agrees with the FER+ majority label, by label (all its
    PrivateTest faces by their FER2013 label when Kaggle's CSV comes without the FER+ votes)."""
    if dataset_dir is None:
        raise FrameError(f"no FER2013 faces given. {HOW_TO_GET_DATA}")
    dataset_dir = Path(dataset_dir)
    csv_file = dataset_dir if dataset_dir.suffix == ".csv" else dataset_dir / "fer2013.csv"
    if csv_file.is_file() and not (dataset_dir / "fer2013.npz").is_file():
        return _faces_from_csv(csv_file)
    arrays = {}
    for name, keys in (("fer2013.npz", ("pixels", "emotion", "usage")), ("ferplus_votes.npz", ("votes",))):
        path = dataset_dir / name
        if not path.is_file():
            raise FrameError(f"{path} not found. {HOW_TO_GET_DATA}")
        try:
            with np.load(path, allow_pickle=False) as npz:
                arrays.update({key: npz[key] for key in keys})
        except Exception as exc:  # zip, format and missing-key errors all mean "not the expected file"
            raise FrameError(f"{path}: not the expected .npz ({exc}). {HOW_TO_GET_DATA}") from exc
    votes = arrays["votes"][:, FERPLUS_COLUMN_OF_LABEL].astype(np.int32)
    top = votes.max(axis=1)
    clear = (top > 0) & ((votes == top[:, None]).sum(axis=1) == 1) & (arrays["votes"][:, 7:].max(axis=1) <= top)
    agreed = clear & (votes.argmax(axis=1) == arrays["emotion"]) & (arrays["usage"] == PRIVATE_TEST)
    return {label: arrays["pixels"][agreed & (arrays["emotion"] == index)] for index, label in enumerate(LABELS)}


def _faces_from_csv(path: Path) -> dict[str, np.ndarray]:
    """Kaggle's fer2013.csv (emotion, pixels, Usage), with fer2013new.csv's FER+ votes when it lies beside it."""
    import csv

    def rows(file: Path) -> list[dict]:
        try:
            with file.open(newline="") as f:
                return list(csv.DictReader(f))
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            raise FrameError(f"{file}: cannot be read ({exc}). {HOW_TO_GET_DATA}") from exc

    fer = rows(path)
    if not fer or not {"emotion", "pixels", "Usage"} <= set(fer[0]):
        raise FrameError(f"{path}: not Kaggle's fer2013.csv (columns emotion, pixels, Usage). {HOW_TO_GET_DATA}")
    votes_file = path.with_name("fer2013new.csv")
    votes = rows(votes_file) if votes_file.is_file() else None
    faces: dict[str, list[np.ndarray]] = {label: [] for label in LABELS}
    for number, row in enumerate(fer):
        if row["Usage"] != "PrivateTest":
            continue
        label = int(row["emotion"])
        if votes is not None:
            counts = np.array([int(votes[number][column] or 0) for column in FERPLUS_CSV_COLUMNS])
            mine = counts[FERPLUS_COLUMN_OF_LABEL]
            top = mine.max()
            if top == 0 or (mine == top).sum() != 1 or counts[7:].max() > top or mine.argmax() != label:
                continue
        faces[LABELS[label]].append(np.array(row["pixels"].split(), np.uint8).reshape(48, 48))
    return {label: np.array(found, np.uint8).reshape(-1, 48, 48) for label, found in faces.items()}



def label_at(script: list[tuple[str, float]], elapsed: float) -> str:
    """The label of a looping ``script`` of (label, seconds) ``elapsed`` seconds after its start."""
    elapsed %= sum(seconds for _, seconds in script)
    for label, seconds in script:
        if elapsed < seconds:
            return label
        elapsed -= seconds
    return script[-1][0]

class ScriptedMoods:
    """Without any faces to show: the scripted expressions fed straight to the mood tracker, past the camera and
    the model (a blank frame, a face always found, the scripted expression read at 0.8). Only the music part of
    the box is real then; the demo says so on every line."""

    labels = LABELS
    input_size = (48, 48)
    face_crop = {"square": True, "scale": 1.0, "interpolation": "area", "border": "replicate"}

    def __init__(self, script: list[tuple[str, float]], *, clock: Callable[[], float] = time.monotonic):
        self._script = [(label, float(seconds)) for label, seconds in script]
        self._clock = clock
        self._start = clock()

    def expected_label(self) -> str:
        return label_at(self._script, self._clock() - self._start)

    def grab(self) -> np.ndarray:  # the frame source
        return np.full((240, 320), 128, np.uint8)

    def find(self, gray):  # the face finder
        from moodbox.perception.boxes import Face
        return [Face(100.0, 60.0, 120.0, 120.0, 1.0)]

    def predict(self, crop) -> np.ndarray:  # the expression model
        probabilities = np.full(len(LABELS), 0.2 / (len(LABELS) - 1), np.float32)
        probabilities[LABELS.index(self.expected_label())] = 0.8
        return probabilities

    def close(self) -> None:
        pass


class ScriptedFaceSource:
    """FER2013 test faces of a scripted expression, upscaled and pasted into a larger noisy frame.

    ``script`` is a list of (expression, seconds) that loops. Each grab pastes a random face of the expression
    scripted now at a random size (120-220 px) and position, so that the face finder does real work.
    ``last_face_box`` is the (x, y, w, h) of the last pasted 48x48 image.
    """

    def __init__(self, dataset_dir, script: list[tuple[str, float]], *, frame_size=(640, 480), seed=0,
                 clock: Callable[[], float] = time.monotonic, face_px=(120, 220)):
        self._faces = load_script_faces(dataset_dir)
        if not script:
            raise ValueError("script is empty: give at least one (expression, seconds) pair")
        for label, seconds in script:
            if label not in self._faces:
                raise ValueError(f"script expression {label!r} is not one of {', '.join(LABELS)}")
            if not seconds > 0:
                raise ValueError(f"script duration for {label!r} must be > 0 seconds, got {seconds}")
            if len(self._faces[label]) == 0:
                raise FrameError(f"{dataset_dir}: no PrivateTest faces labelled {label!r}")
        self._script = [(label, float(seconds)) for label, seconds in script]
        self._width, self._height = frame_size
        self._face_px = (min(face_px[0], self._height), min(face_px[1], self._height, self._width))
        self._rng = np.random.default_rng(seed)
        self._clock = clock
        self._start = clock()
        self._backgrounds = [self._background() for _ in range(4)]
        self.last_face_box: tuple[int, int, int, int] | None = None

    def _background(self) -> np.ndarray:
        """A plain wall with a soft gradient and sensor-like noise."""
        ramp = np.linspace(self._rng.uniform(60, 120), self._rng.uniform(130, 200), self._width)
        noise = self._rng.normal(0, 6, (self._height, self._width))
        return np.clip(ramp[None, :] + noise, 0, 255).astype(np.uint8)

    def expected_label(self) -> str:
        return label_at(self._script, self._clock() - self._start)

    def grab(self) -> np.ndarray:
        faces = self._faces[self.expected_label()]
        face = faces[self._rng.integers(len(faces))]
        side = int(self._rng.integers(self._face_px[0], self._face_px[1] + 1))
        x = int(self._rng.integers(0, self._width - side + 1))
        y = int(self._rng.integers(0, self._height - side + 1))
        frame = self._backgrounds[self._rng.integers(len(self._backgrounds))].copy()
        frame[y:y + side, x:x + side] = cv2.resize(face, (side, side), interpolation=cv2.INTER_CUBIC)
        self.last_face_box = (x, y, side, side)
        return frame

    def close(self) -> None:
        pass
