"""The mood heads compared by artist-grouped cross-validation, and the chosen one as plain numbers for the device.

A candidate is a patch count, a pooling of the per-patch network outputs (mean; mean and standard deviation), the
inputs (the 200-d penultimate embedding, the 50 tag probabilities, the 1506-d pooled mid-end features the back end
reads, the hand-made features) and a classifier
(logistic regression; a one-hidden-layer MLP; both, their calibrated probabilities averaged). Every candidate runs
on the same outer folds; its regularisation is chosen inside each outer training fold by an inner grouped CV, and so
is the softmax temperature that calibrates its probabilities (fitted on the inner out-of-fold predictions), so no
outer test clip informs its own prediction.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from moodbox.music.tagger import head_features

from . import evaluate, floors
from .evaluate import folds_for

C_GRID = (0.001, 0.003, 0.01, 0.03, 0.1)
ALPHA_GRID = (1.0, 10.0)
HIDDEN = 32
TEMPERATURES = np.round(np.arange(0.5, 3.01, 0.05), 2)


@dataclass(frozen=True)
class Candidate:
    name: str
    patches: int
    pooling: tuple[str, ...] = ("mean",)
    inputs: tuple[str, ...] = ("embedding", "tags")
    classifier: str = "logistic"

    def network_inputs(self) -> tuple[str, ...]:
        return tuple(part for part in self.inputs if part != "handmade")

    def features(self, data: dict) -> np.ndarray:
        """The head's input in the device's order (:func:`moodbox.music.tagger.head_features`), hand-made last."""
        parts = [np.stack([head_features({name: outputs[name][rows] for name in self.network_inputs()},
                                         self.pooling, self.network_inputs())
                           for outputs, rows in zip(data["outputs"], data["index"][self.patches])])
                 ] if self.network_inputs() else []
        if "handmade" in self.inputs:
            parts.append(data["handmade"])
        return np.concatenate(parts, axis=1).astype(np.float64)

    def on_device(self) -> bool:
        return "handmade" not in self.inputs


def _model(classifier: str, strength: float, seed: int):
    warnings.filterwarnings("ignore", category=ConvergenceWarning)  # a capped lbfgs MLP is still a fine MLP
    if classifier == "logistic":
        return make_pipeline(StandardScaler(), LogisticRegression(C=strength, max_iter=5000))
    return make_pipeline(StandardScaler(), MLPClassifier((HIDDEN,), alpha=strength, solver="lbfgs", max_iter=400,
                                                         random_state=seed))


def _grid(classifier: str) -> tuple[float, ...]:
    return C_GRID if classifier == "logistic" else ALPHA_GRID


def _log_proba(model, x: np.ndarray) -> np.ndarray:
    full = np.full((len(x), 4), -30.0)
    full[:, model.classes_] = np.log(np.clip(model.predict_proba(x), 1e-13, 1.0))
    return full


def soften(log_proba: np.ndarray, temperature: float) -> np.ndarray:
    logits = log_proba / temperature
    exp = np.exp(logits - logits.max(axis=1, keepdims=True))
    return exp / exp.sum(axis=1, keepdims=True)


def best_temperature(y: np.ndarray, log_proba: np.ndarray) -> float:
    """The softmax temperature with the lowest log-loss on these (out-of-fold) predictions."""
    losses = [-np.mean(np.log(soften(log_proba, t)[np.arange(len(y)), y] + 1e-12)) for t in TEMPERATURES]
    return float(TEMPERATURES[int(np.argmin(losses))])


def _fit_one(x: np.ndarray, y: np.ndarray, groups: np.ndarray, classifier: str, seed: int, inner_splits: int):
    """Fit with the strength that scores best in an inner grouped CV; returns (pipeline, strength, temperature)."""
    grid = _grid(classifier)
    folds = folds_for(y, groups, inner_splits, seed + 1)
    if not folds:  # too few clips to choose (smoke runs)
        strength = grid[len(grid) // 2]
        return _model(classifier, strength, seed).fit(x, y), strength, 1.0
    best = None
    for strength in grid:
        inner = np.zeros((len(y), 4))
        for train, test in folds:
            inner[test] = _log_proba(_model(classifier, strength, seed).fit(x[train], y[train]), x[test])
        tested = np.concatenate([test for _, test in folds])
        accuracy = np.mean(inner[tested].argmax(axis=1) == y[tested])
        if best is None or accuracy > best[0]:
            best = (accuracy, strength, best_temperature(y[tested], inner[tested]))
    _, strength, temperature = best
    return _model(classifier, strength, seed).fit(x, y), strength, temperature


def fit(x: np.ndarray, y: np.ndarray, groups: np.ndarray, classifier: str, seed: int = 0,
        inner_splits: int = 4) -> list[tuple]:
    """The head's members, ``(classifier, pipeline, strength, temperature)`` each: one, or for ``logistic+mlp`` a
    logistic regression and an MLP whose calibrated probabilities are averaged."""
    return [(kind, *_fit_one(x, y, groups, kind, seed, inner_splits)) for kind in classifier.split("+")]


def predict(members: list[tuple], x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Raw (temperature 1) and calibrated probabilities ``[n, 4]``, averaged over the members."""
    log_probas = [(_log_proba(model, x), temperature) for _, model, _, temperature in members]
    return (np.mean([soften(lp, 1.0) for lp, _ in log_probas], axis=0),
            np.mean([soften(lp, temperature) for lp, temperature in log_probas], axis=0))


def cross_validate(x: np.ndarray, y: np.ndarray, groups: np.ndarray, classifier: str, n_splits: int = 5,
                   seed: int = 0) -> dict:
    """Out-of-fold probabilities, raw and calibrated ``[n, 4]``, and what each outer fold chose."""
    folds = folds_for(y, groups, n_splits, seed)
    if not folds:
        raise ValueError(f"{len(y)} clips cannot be split into artist-grouped folds: use more clips")
    raw, calibrated, chosen = np.zeros((len(y), 4)), np.zeros((len(y), 4)), []
    for train, test in folds:
        members = fit(x[train], y[train], groups[train], classifier, seed)
        raw[test], calibrated[test] = predict(members, x[test])
        chosen.append([{"classifier": kind, "strength": strength, "temperature": temperature}
                       for kind, _, strength, temperature in members])
    return {"raw": raw, "calibrated": calibrated, "chosen": chosen, "folds": folds}


def over_fold_seeds(x: np.ndarray, y: np.ndarray, groups: np.ndarray, classifier: str, seeds) -> dict:
    """One head by :func:`cross_validate` over several fold seeds (the experiments' records): per seed the quadrant
    accuracy, the Q3/Q4 precision of the calibrated probabilities and ``auto-calming``'s floor chosen per fold
    (precision and the share of Q4 kept), and their means."""
    per_seed = []
    for seed in seeds:
        cv = cross_validate(x, y, groups, classifier, 5, seed)
        per_seed.append(seed_figures(y, cv["calibrated"], cv["folds"], seed))
    return with_means(per_seed)


def seed_figures(y: np.ndarray, calibrated: np.ndarray, folds, seed: int) -> dict:
    """One fold seed's record: quadrant accuracy, Q3/Q4 precision and ``auto-calming``'s floor chosen per fold."""
    m = evaluate.metrics(y, calibrated)
    calming = floors.cross_validated(y, calibrated, folds, ("Q4",), floors.TARGET)
    return {"seed": seed, "quadrant": m["quadrant_accuracy"], "Q3_precision": m["per_quadrant"]["Q3"]["precision"],
            "Q4_precision": m["per_quadrant"]["Q4"]["precision"],
            "calming_floor_precision": calming["precision"], "calming_floor_coverage": calming["coverage"]}


def with_means(per_seed: list[dict]) -> dict:
    return {"per_seed": per_seed,
            "mean": {key: float(np.mean([s[key] for s in per_seed])) for key in per_seed[0] if key != "seed"}}


def export(members: list[tuple], candidate: Candidate) -> dict:
    """The fitted head for the device: the standardiser (the members share it: same inputs) and per member its
    dense layers ([in, out] weights) and softmax temperature."""
    scalers = [model.steps[0][1] for _, model, _, _ in members]
    if any(not np.allclose(scaler.mean_, scalers[0].mean_) for scaler in scalers):
        raise ValueError("the members of a head must share their inputs")
    exported = []
    for kind, model, strength, temperature in members:
        last = model.steps[-1][1]
        if list(last.classes_) != [0, 1, 2, 3]:
            raise ValueError("the final head must be trained on all four quadrants")
        if kind == "logistic":
            layers = [{"weight": last.coef_.T.tolist(), "bias": last.intercept_.tolist()}]
        else:
            layers = [{"weight": w.tolist(), "bias": b.tolist()} for w, b in zip(last.coefs_, last.intercepts_)]
        exported.append({"classifier": kind, "strength": strength, "temperature": temperature, "layers": layers})
    return {"classes": ["Q1", "Q2", "Q3", "Q4"], "candidate": candidate.name, "pooling": list(candidate.pooling),
            "inputs": list(candidate.network_inputs()),
            "mean": scalers[0].mean_.tolist(), "scale": scalers[0].scale_.tolist(), "members": exported}
