"""Confidence floors for the mood playlists, chosen by artist-grouped cross-validation.

A playlist's rule names quadrants S (``auto-calming``: Q4). A track joins it when its most probable quadrant is in S
and P(S), the summed probability of S, reaches the floor of S. The floor of S is the lowest one from which on the
out-of-fold predictions of the training clips are at least ``target`` precise (the share of kept tracks whose
4Q label is in S); a lower floor keeps more tracks. How well that choice carries over is measured the same way the
head is: in each outer fold the floor is chosen on the other folds' clips and applied to the fold's own.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np

QUADRANTS = ("Q1", "Q2", "Q3", "Q4")
GRID = np.round(np.arange(0.25, 0.991, 0.01), 2)
MIN_KEPT = 10  # a floor is judged on at least this many kept training clips
TARGET = 0.80
DEFAULT_RULES = {"calming": ("Q4",), "upbeat": ("Q1",), "calm": ("Q3", "Q4"), "everyday": ("Q1", "Q4")}


def key(quadrants) -> str:
    return "+".join(sorted(quadrants))


def all_subsets() -> list[tuple[str, ...]]:
    return [subset for size in (1, 2, 3) for subset in combinations(QUADRANTS, size)]


def kept(proba: np.ndarray, quadrants, floor: float) -> np.ndarray:
    index = [QUADRANTS.index(q) for q in quadrants]
    return np.isin(proba.argmax(axis=1), index) & (proba[:, index].sum(axis=1) >= floor - 1e-9)


def point(y: np.ndarray, proba: np.ndarray, quadrants, floor: float) -> dict:
    """Precision (share of kept clips labelled in S), coverage (share of S's clips kept) and the count kept."""
    keep = kept(proba, quadrants, floor)
    truth = np.isin(y, [QUADRANTS.index(q) for q in quadrants])
    return {"floor": float(floor), "kept": int(keep.sum()),
            "precision": float(truth[keep].mean()) if keep.any() else float("nan"),
            "coverage": float((keep & truth).sum() / max(truth.sum(), 1))}


def curve(y: np.ndarray, proba: np.ndarray, quadrants) -> list[dict]:
    return [point(y, proba, quadrants, floor) for floor in GRID]


def choose(y: np.ndarray, proba: np.ndarray, quadrants, target: float = TARGET) -> float:
    """The lowest floor from which every higher one (judged on at least ``MIN_KEPT`` clips) reaches ``target``
    precision, so a lucky dip of the curve is not taken; else the most precise floor."""
    points = [p for p in curve(y, proba, quadrants) if p["kept"] >= MIN_KEPT]
    if not points:
        return float(GRID[-1])
    chosen = None
    for p in reversed(points):
        if p["precision"] < target:
            break
        chosen = p["floor"]
    return chosen if chosen is not None else max(points, key=lambda p: p["precision"])["floor"]


def cross_validated(y: np.ndarray, proba: np.ndarray, folds, quadrants, target: float = TARGET) -> dict:
    """Precision and coverage when each outer fold's floor is chosen on the other folds' clips (pooled)."""
    keep = np.zeros(len(y), bool)
    chosen = []
    for train, test in folds:
        floor = choose(y[train], proba[train], quadrants, target)
        keep[test] = kept(proba[test], quadrants, floor)
        chosen.append(floor)
    truth = np.isin(y, [QUADRANTS.index(q) for q in quadrants])
    return {"floors_per_fold": chosen, "kept": int(keep.sum()),
            "precision": float(truth[keep].mean()) if keep.any() else float("nan"),
            "coverage": float((keep & truth).sum() / max(truth.sum(), 1))}


def plot(curves: dict[str, dict], path) -> None:
    """Precision and coverage against the floor, one panel per default playlist, the chosen floor marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(curves), figsize=(4.2 * len(curves), 3.8), sharey=True)
    for ax, (title, entry) in zip(np.atleast_1d(axes), curves.items()):
        floors = [p["floor"] for p in entry["curve"]]
        ax.plot(floors, [p["precision"] for p in entry["curve"]], label="precision")
        ax.plot(floors, [p["coverage"] for p in entry["curve"]], label="coverage")
        ax.axvline(entry["floor"], color="grey", linestyle="--", label=f"floor {entry['floor']:.2f}")
        ax.axhline(entry["target"], color="grey", linestyle=":", linewidth=0.8)
        ax.set_title(f"{title} ({'+'.join(entry['quadrants'])})")
        ax.set_xlabel("floor on P(playlist's quadrants)")
        ax.set_ylim(0, 1.02)
        ax.legend(loc="lower left", fontsize=8)
    np.atleast_1d(axes)[0].set_ylabel("out-of-fold share")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
