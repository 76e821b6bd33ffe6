"""Artist-grouped cross-validation of a standardised logistic regression, its metrics and the final head.

The regularisation strength C is chosen inside each outer training fold by an inner artist-grouped CV, so the
outer folds never see a choice made on their own clips.
"""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import confusion_matrix, f1_score, precision_recall_fscore_support
from sklearn.model_selection import StratifiedGroupKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from .data import QUADRANTS

C_GRID = (0.003, 0.01, 0.03, 0.1, 0.3, 1.0)
DEFAULT_C = 0.03
# signs of valence and arousal per quadrant (Q1..Q4)
VALENCE = np.array([1, -1, -1, 1])
AROUSAL = np.array([1, 1, -1, -1])


def _model(c: float):
    return make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=5000))


def _folds(y: np.ndarray, groups: np.ndarray, n_splits: int, seed: int):
    """Artist-grouped, quadrant-stratified folds; fewer when a small (smoke-run) set cannot fill them."""
    n_splits = min(n_splits, len(np.unique(groups)), np.bincount(y).min())
    if n_splits < 2:
        return []
    return list(StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed).split(y, y, groups))


def fit(x: np.ndarray, y: np.ndarray, groups: np.ndarray, inner_splits: int = 4, seed: int = 0):
    """Fit with the C that scores best in an inner grouped CV; returns (pipeline, C)."""
    folds = _folds(y, groups, inner_splits, seed + 1)
    if not folds:  # too few clips to choose: the middle of the grid
        return _model(DEFAULT_C).fit(x, y), DEFAULT_C
    scores = [np.mean([_model(c).fit(x[tr], y[tr]).score(x[te], y[te]) for tr, te in folds]) for c in C_GRID]
    c = C_GRID[int(np.argmax(scores))]
    return _model(c).fit(x, y), c


def cross_validate(x: np.ndarray, y: np.ndarray, groups: np.ndarray, n_splits: int = 5, seed: int = 0):
    """Out-of-fold quadrant probabilities [n, 4] and the C chosen per fold."""
    proba = np.zeros((len(y), len(QUADRANTS)))
    chosen = []
    folds = _folds(y, groups, n_splits, seed)
    if not folds:
        raise ValueError(f"{len(y)} clips cannot be split into artist-grouped folds: use more clips")
    for train, test in folds:
        model, c = fit(x[train], y[train], groups[train], seed=seed)
        proba[test] = _full_proba(model, x[test])
        chosen.append(c)
    return proba, chosen


def _full_proba(model, x: np.ndarray) -> np.ndarray:
    """Probabilities over all four quadrants even when a small training fold lacked one."""
    full = np.zeros((len(x), len(QUADRANTS)))
    full[:, model.classes_] = model.predict_proba(x)
    return full


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
    }


def export_head(model, c: float) -> dict:
    """The fitted pipeline as plain numbers for the device (numpy only there)."""
    scaler, regression = model.named_steps["standardscaler"], model.named_steps["logisticregression"]
    if list(regression.classes_) != list(range(len(QUADRANTS))):
        raise ValueError("the final head must be trained on all four quadrants")
    return {"classes": list(QUADRANTS), "C": c, "mean": scaler.mean_.tolist(), "scale": scaler.scale_.tolist(),
            "coef": regression.coef_.tolist(), "intercept": regression.intercept_.tolist()}


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
