"""The posed-expression set of professional Taiwanese actors: loading, actor-grouped folds, training targets.

``taiwan_actors/taiwan_actors.npz`` (see ``../shared/data/taiwan_actors/README.md``): 732 studio faces of 17
actors, each with the performed expression and 100 observers' ratings. Several near-identical images exist per
actor and expression, so every split is by actor. Terms: academic research and evaluation only; cite Chen, Cho
& Tseng, Chinese Journal of Psychology 55(4):439-454, 2013 (see training/DATA.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .data import IMAGE_SIZE, LABELS, DatasetError, sha256_of

POSED_FILE = "taiwan_actors/taiwan_actors.npz"
FOLD_SEED = 20261206


@dataclass(frozen=True)
class PosedData:
    pixels: np.ndarray  # uint8 (N, 48, 48)
    emotion: np.ndarray  # uint8 (N,) performed expression, LABELS order
    subject: np.ndarray  # str (N,) actor id
    votes: np.ndarray  # float32 (N, 7) observer ratings, LABELS order (a row sums to 1.00-1.44)
    sha256: dict[str, str]

    @property
    def actors(self) -> list[str]:
        return sorted(set(self.subject.tolist()))

    def rows_without(self, actors) -> np.ndarray:
        """Rows of every actor not in ``actors``."""
        return np.flatnonzero(~np.isin(self.subject, list(actors)))

    def rows_of(self, actors) -> np.ndarray:
        return np.flatnonzero(np.isin(self.subject, list(actors)))


def load_posed(data_dir: str | Path) -> PosedData:
    """Load and validate the actors' file under ``data_dir``; DatasetError naming the file on any problem."""
    path = Path(data_dir) / POSED_FILE
    if not path.is_file():
        raise DatasetError(f"{path} not found: the posed set (taiwan_actors.npz, see the shared data README) "
                           "is needed by --posed-share and by evaluate --folds")
    with np.load(path, allow_pickle=False) as npz:
        arrays = {key: npz[key] for key in npz.files}
    for name in ("images", "emotion", "subject", "votes"):
        if name not in arrays:
            raise DatasetError(f"{path}: array '{name}' is missing (has {sorted(arrays)})")
    pixels, emotion, votes = arrays["images"], arrays["emotion"], arrays["votes"]
    n = len(pixels)
    if pixels.dtype != np.uint8 or pixels.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE):
        raise DatasetError(f"{path}: 'images' is {pixels.dtype} {pixels.shape}, expected uint8 (N, 48, 48)")
    if emotion.shape != (n,) or votes.shape != (n, len(LABELS)) or arrays["subject"].shape != (n,):
        raise DatasetError(f"{path}: 'emotion', 'subject' and 'votes' must have one row per image ({n})")
    if emotion.max() >= len(LABELS):
        raise DatasetError(f"{path}: 'emotion' holds {emotion.max()}, labels are 0..{len(LABELS) - 1}")
    return PosedData(pixels, emotion.astype(np.uint8), arrays["subject"].astype(str), votes.astype(np.float32),
                     sha256={POSED_FILE: sha256_of(path)})


def actor_folds(actors, folds: int, seed: int = FOLD_SEED) -> list[list[str]]:
    """``actors`` (sorted, then shuffled with ``seed``) dealt into ``folds`` groups of near-equal size."""
    order = np.random.default_rng(seed).permutation(sorted(actors))
    return [sorted(order[i::folds].tolist()) for i in range(folds)]


def posed_targets(posed: PosedData, rows: np.ndarray, label_weight: float) -> np.ndarray:
    """``label_weight`` x the performed expression (one-hot) + the rest x the observers' ratings normalised to
    sum to one. The performed label is what the face was meant to show; the ratings soften it where observers
    saw something else (most of all on fear, which they often read as surprise or sad)."""
    one_hot = np.eye(len(LABELS), dtype=np.float32)[posed.emotion[rows]]
    votes = posed.votes[rows]
    totals = votes.sum(axis=1, keepdims=True)
    distribution = np.where(totals > 0, votes / np.maximum(totals, 1e-6), one_hot)
    return (label_weight * one_hot + (1.0 - label_weight) * distribution).astype(np.float32)


def balanced_weights(labels: np.ndarray) -> np.ndarray:
    """Sampling probabilities that give every class present the same share (uniform within a class)."""
    counts = np.bincount(labels, minlength=len(LABELS)).astype(np.float64)
    weights = 1.0 / counts[labels]
    return weights / weights.sum()


def balanced_report(predicted: np.ndarray, truth: np.ndarray) -> dict:
    """Balanced accuracy (mean per-class recall), per-class recall and accuracy against the performed labels."""
    recall = {}
    for index, label in enumerate(LABELS):
        mask = truth == index
        if mask.any():
            recall[label] = float((predicted[mask] == index).mean())
    return {"balanced_accuracy": float(np.mean(list(recall.values()))), "accuracy": float((predicted == truth).mean()),
            "recall": recall, "rows": int(len(truth))}
