"""Artist-grouped folds and the figures the card reports of out-of-fold quadrant probabilities."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import confusion_matrix, f1_score, precision_recall_fscore_support
from sklearn.model_selection import StratifiedGroupKFold

from .data import QUADRANTS

# signs of valence and arousal per quadrant (Q1..Q4)
VALENCE = np.array([1, -1, -1, 1])
AROUSAL = np.array([1, 1, -1, -1])


def folds_for(y: np.ndarray, groups: np.ndarray, n_splits: int, seed: int):
    """Artist-grouped, quadrant-stratified folds; fewer when a small (smoke-run) set cannot fill them."""
    n_splits = min(n_splits, len(np.unique(groups)), np.bincount(y).min())
    if n_splits < 2:
        return []
    return list(StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed).split(y, y, groups))


def metrics(y: np.ndarray, proba: np.ndarray) -> dict:
    """Quadrant accuracy, macro-F1, valence/arousal accuracy (sign of the tagger's valence/arousal), per-quadrant
    precision/recall and the confusion matrix (rows = truth)."""
    predicted = proba.argmax(axis=1)
    valence, arousal = proba @ VALENCE, proba @ AROUSAL
    precision, recall, _, _ = precision_recall_fscore_support(y, predicted, labels=range(4), zero_division=0)
    return {
        "quadrant_accuracy": float(np.mean(predicted == y)),
        "macro_f1": float(f1_score(y, predicted, labels=range(4), average="macro", zero_division=0)),
        "valence_accuracy": float(np.mean((valence > 0) == (VALENCE[y] > 0))),
        "arousal_accuracy": float(np.mean((arousal > 0) == (AROUSAL[y] > 0))),
        "per_quadrant": {q: {"precision": float(p), "recall": float(r)}
                         for q, p, r in zip(QUADRANTS, precision, recall)},
        "confusion": confusion_matrix(y, predicted, labels=range(4)).tolist(),
        "log_loss": float(-np.mean(np.log(proba[np.arange(len(y)), y] + 1e-12))),
        "ece": expected_calibration_error(y, proba),
    }


def expected_calibration_error(y: np.ndarray, proba: np.ndarray, bins: int = 10) -> float:
    """Top-class calibration error: |confidence - accuracy| averaged over equal-width confidence bins by size."""
    confidence, correct = proba.max(axis=1), proba.argmax(axis=1) == y
    which = np.minimum((confidence * bins).astype(int), bins - 1)
    return float(sum(abs(confidence[which == b].mean() - correct[which == b].mean()) * np.mean(which == b)
                     for b in range(bins) if np.any(which == b)))


def plot_confusions(results: dict[str, dict], path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(results), figsize=(5 * len(results), 4.4))
    for ax, (title, result) in zip(np.atleast_1d(axes), results.items()):
        matrix = np.array(result["confusion"])
        share = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
        ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
        for i in range(4):
            for j in range(4):
                ax.text(j, i, f"{matrix[i, j]}\n{share[i, j]:.0%}", ha="center", va="center",
                        color="white" if share[i, j] > 0.5 else "black", fontsize=9)
        ax.set_xticks(range(4), QUADRANTS)
        ax.set_yticks(range(4), QUADRANTS)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true (4Q label)")
        ax.set_title(f"{title}\naccuracy {result['quadrant_accuracy']:.1%}, macro-F1 {result['macro_f1']:.3f}")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
