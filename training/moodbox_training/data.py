"""FER2013 pixels and labels plus FER+ votes, loaded and checked.

The arrays come from ``fer2013.npz`` and ``ferplus_votes.npz`` (see ``../shared/data/README.md``).
Everything is validated before training starts so that a wrong file fails with one clear message
instead of a broken model hours later.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

LABELS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
"""FER2013 label order; the model's output order."""

TRAINING, PUBLIC_TEST, PRIVATE_TEST = 0, 1, 2
SPLITS = {"train": TRAINING, "public": PUBLIC_TEST, "private": PRIVATE_TEST}

FER_FILE = "fer2013.npz"
FERPLUS_FILE = "ferplus_votes.npz"
ROWS = 35887
IMAGE_SIZE = 48

# FER+ vote columns: neutral, happiness, surprise, sadness, anger, disgust, fear, contempt, unknown, NF.
# Column of each FER2013 label (in LABELS order) among the FER+ columns:
FERPLUS_COLUMN_OF_LABEL = np.array([4, 5, 6, 1, 3, 2, 0])

HOW_TO_GET = (
    "Expected FER2013 as {fer} (arrays pixels uint8 (35887,48,48), emotion, usage) and the FER+ votes as "
    "{ferplus} (votes uint8 (35887,10), usage). FER2013 is the ICML 2013 'Challenges in Representation "
    "Learning' set (Kaggle: challenges-in-representation-learning-facial-expression-recognition-challenge); "
    "FER+ votes are at github.com/microsoft/FERPlus. Pass the folder with --data."
)


class DatasetError(Exception):
    """The dataset files are missing or do not hold what the training expects."""


@dataclass(frozen=True)
class FerData:
    pixels: np.ndarray  # uint8 (N, 48, 48)
    emotion: np.ndarray  # uint8 (N,) FER2013 label
    usage: np.ndarray  # uint8 (N,)
    votes: np.ndarray  # uint8 (N, 10) FER+ votes
    sha256: dict[str, str]

    def split(self, name: str) -> np.ndarray:
        """Row indices of a split: 'train', 'public' or 'private'."""
        return np.flatnonzero(self.usage == SPLITS[name])

    def ferplus_faces(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """A split's faces that have a FER+ majority label, and those labels."""
        rows = self.split(name)
        truth = self.ferplus_majority[rows]
        return self.pixels[rows][truth >= 0], truth[truth >= 0]

    @property
    def ferplus_votes7(self) -> np.ndarray:
        """FER+ votes for the seven FER2013 emotions, in LABELS order."""
        return self.votes[:, FERPLUS_COLUMN_OF_LABEL]

    @property
    def ferplus_majority(self) -> np.ndarray:
        """FER+ majority label per row in LABELS order, or -1 where the row is left out.

        Left out: rows whose most-voted column is contempt, unknown or not-a-face, and rows whose top
        emotion vote is tied (3,372 of the 3,589 PrivateTest rows remain).
        """
        votes7 = self.ferplus_votes7.astype(np.int32)
        top = votes7.max(axis=1)
        tied = (votes7 == top[:, None]).sum(axis=1) > 1
        beaten_by_other = self.votes[:, 7:].max(axis=1) > top
        majority = votes7.argmax(axis=1)
        return np.where((top > 0) & ~tied & ~beaten_by_other, majority, -1)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _load_npz(path: Path) -> dict[str, np.ndarray]:
    if not path.is_file():
        raise DatasetError(f"{path} not found. " + HOW_TO_GET.format(fer=FER_FILE, ferplus=FERPLUS_FILE))
    try:
        with np.load(path, allow_pickle=False) as npz:
            return {key: npz[key] for key in npz.files}
    except Exception as exc:  # zipfile/pickle/format errors all mean the same thing to the user
        raise DatasetError(f"{path} is not a readable .npz file ({exc}). " + HOW_TO_GET.format(
            fer=FER_FILE, ferplus=FERPLUS_FILE)) from exc


def _expect(path: Path, arrays: dict, name: str, dtype, shape: tuple) -> np.ndarray:
    if name not in arrays:
        raise DatasetError(f"{path}: array '{name}' is missing (has {sorted(arrays)})")
    array = arrays[name]
    if array.dtype != dtype or array.shape != shape:
        raise DatasetError(
            f"{path}: array '{name}' is {array.dtype} {array.shape}, expected {np.dtype(dtype)} {shape}")
    return array


def load(data_dir: str | Path) -> FerData:
    """Load and validate both files from ``data_dir``; raise DatasetError naming the file on any problem."""
    data_dir = Path(data_dir)
    fer_path, ferplus_path = data_dir / FER_FILE, data_dir / FERPLUS_FILE
    fer, ferplus = _load_npz(fer_path), _load_npz(ferplus_path)
    pixels = _expect(fer_path, fer, "pixels", np.uint8, (ROWS, IMAGE_SIZE, IMAGE_SIZE))
    emotion = _expect(fer_path, fer, "emotion", np.uint8, (ROWS,))
    usage = _expect(fer_path, fer, "usage", np.uint8, (ROWS,))
    votes = _expect(ferplus_path, ferplus, "votes", np.uint8, (ROWS, 10))
    ferplus_usage = _expect(ferplus_path, ferplus, "usage", np.uint8, (ROWS,))
    if emotion.max() >= len(LABELS):
        raise DatasetError(f"{fer_path}: 'emotion' holds {emotion.max()}, labels are 0..{len(LABELS) - 1}")
    if not np.array_equal(usage, ferplus_usage):
        raise DatasetError(f"{ferplus_path} is not row-aligned with {fer_path}: their 'usage' arrays differ")
    return FerData(pixels, emotion, usage, votes,
                   sha256={FER_FILE: sha256_of(fer_path), FERPLUS_FILE: sha256_of(ferplus_path)})


def soft_targets(data: FerData, rows: np.ndarray, ferplus_weight: float) -> np.ndarray:
    """Training targets: ``ferplus_weight`` x FER+ vote distribution + the rest x FER2013 one-hot.

    FER2013 labels are noisy but are what half the benchmark scores against; FER+ votes describe what
    people see in the face. Rows without any emotion vote fall back to the FER2013 label alone.
    """
    one_hot = np.eye(len(LABELS), dtype=np.float32)[data.emotion[rows]]
    votes = data.ferplus_votes7[rows].astype(np.float32)
    totals = votes.sum(axis=1, keepdims=True)
    distribution = np.where(totals > 0, votes / np.maximum(totals, 1), one_hot)
    return ferplus_weight * distribution + (1.0 - ferplus_weight) * one_hot
