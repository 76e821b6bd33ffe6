"""A logit bias per expression, chosen on the actor-grouped folds and PublicTest (issue 23).

The prior-based logit adjustment of ``export`` has one knob (tau) and sees FER2013 alone. Here every class gets
its own bias, added to the last layer's (so it costs nothing on the device), chosen by coordinate ascent over a
grid with a rule fixed before scoring: maximise the mean of two balanced accuracies (mean per-class recall),
that of the fold networks on the actors they did not train on (pooled) and that of the run network on PublicTest
FER+ majority labels, among the biases that keep the run network's PublicTest FER+ accuracy at or above the
floor (the base's minus ``max_public_drop``, as ``wise`` does). Every network is first interpolated with the
base by the same WiSE-FT ``alpha``, and every face is scored as the device scores it (mirror-averaged).

Seven numbers fitted on 732 faces flatter those faces, so each fold also gets the bias chosen without it (the
other folds and PublicTest): ``bias_without`` in the record, which ``export --logit-bias-from`` uses for that
fold's own model, so that ``evaluate --folds`` reports actors that chose nothing. PrivateTest is never looked at.

``--raise-class LABEL`` (:func:`raise_class`) is a second rule, for a class the network reads too seldom on FER+
itself (fear: issue 23's recall row): that class's bias alone, the largest on the grid that keeps PublicTest FER+
accuracy within ``max_public_drop`` of the network without a bias. It looks at PublicTest only, so every fold gets
the same bias; the record reports what it does to the folds' held-out actors.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

from .data import LABELS, FerData
from .posed import PosedData, balanced_report
from .torch_train import BEST, holdout_actors, interpolate, load_weights, logits_of_both_views, softmax
from .wise import MAX_PUBLIC_DROP

log = logging.getLogger(__name__)

GRID = tuple(round(0.1 * i, 1) for i in range(-15, 16))
SWEEPS = 3
RECORD = "adjust.json"


def _predicted(views, bias: np.ndarray) -> np.ndarray:
    plain, mirror = views
    return (softmax(plain + bias) + softmax(mirror + bias)).argmax(1)


def search(public_views, public_truth: np.ndarray, fold_views: list, fold_truths: list, floor: float) -> dict:
    """The bias (one value per class) of the module docstring's rule; zero when no bias keeps the floor."""
    truth = np.concatenate(fold_truths)

    def score(bias):
        public = _predicted(public_views, bias)
        if (public == public_truth).mean() < floor:
            return None
        held_out = np.concatenate([_predicted(views, bias) for views in fold_views])
        return (balanced_report(held_out, truth)["balanced_accuracy"]
                + balanced_report(public, public_truth)["balanced_accuracy"]) / 2

    bias = np.zeros(len(LABELS))
    best = score(bias)
    if best is None:
        return {"bias": bias.tolist(), "objective": None}
    for _ in range(SWEEPS):
        for label in range(len(LABELS)):
            for value in GRID:
                trial = bias.copy()
                trial[label] = value
                candidate = score(trial)
                if candidate is not None and candidate > best + 1e-9:
                    best, bias = candidate, trial
    return {"bias": bias.tolist(), "objective": best}


def raise_class(public_views, public_truth: np.ndarray, label: int, max_drop: float) -> dict:
    """The bias of ``--raise-class`` (module docstring): zero except for ``label``, there the largest value of
    :data:`GRID` from 0 up whose PublicTest accuracy is at least the unbiased one minus ``max_drop``."""
    bias = np.zeros(len(LABELS))
    floor = float((_predicted(public_views, bias) == public_truth).mean() - max_drop)
    for value in (value for value in GRID if value > 0):
        trial = bias.copy()
        trial[label] = value
        if (_predicted(public_views, trial) == public_truth).mean() >= floor - 1e-12:
            bias = trial
    return {"bias": bias.tolist(), "floor_public_ferplus_acc": floor}


def _public_report(views, truth: np.ndarray, bias) -> dict:
    predicted = _predicted(views, np.asarray(bias))
    report = balanced_report(predicted, truth)
    return {"public_ferplus_acc": report["accuracy"], "public_ferplus_balanced_acc": report["balanced_accuracy"],
            "public_ferplus_recall": report["recall"]}


def choose_bias(data: FerData, posed: PosedData, run_dir: Path, fold_runs: list[Path], base_path: Path,
                alpha: float, max_public_drop: float = MAX_PUBLIC_DROP, raised: str | None = None) -> dict:
    """Choose the bias (module docstring; with ``raised``, a label, the ``--raise-class`` rule); writes
    ``run_dir/adjust.json`` and returns it."""
    base, _ = load_weights(base_path)
    rows = data.split("public")
    kept = data.ferplus_majority[rows] >= 0
    public_truth = data.ferplus_majority[rows][kept].astype(np.int64)
    pixels = data.pixels[rows][kept]
    public_views = logits_of_both_views(interpolate(base, load_weights(run_dir / BEST)[0], alpha), pixels)
    fold_views, fold_truths = [], []
    for run in fold_runs:
        model, config = load_weights(run / BEST)
        held_out = posed.rows_of(holdout_actors(config))
        fold_views.append(logits_of_both_views(interpolate(base, model, alpha), posed.pixels[held_out]))
        fold_truths.append(posed.emotion[held_out].astype(np.int64))
    truth = np.concatenate(fold_truths)

    def held_out(bias):
        return balanced_report(np.concatenate([_predicted(views, np.asarray(bias)) for views in fold_views]), truth)

    if raised is not None:
        chosen = raise_class(public_views, public_truth, LABELS.index(raised), max_public_drop)
        log.info("%s raised by %.1f (PublicTest floor %.4f)", raised, chosen["bias"][LABELS.index(raised)],
                 chosen["floor_public_ferplus_acc"])
        record = {"base": str(base_path), "alpha": alpha, "rule": f"raise {raised}", "grid": list(GRID),
                  "max_public_drop": max_public_drop, "folds": [str(run) for run in fold_runs], **chosen,
                  "how": f"{raised} raised on PublicTest alone", "bias_without": {},
                  "public": {"unadjusted": _public_report(public_views, public_truth, np.zeros(len(LABELS))),
                             "adjusted": _public_report(public_views, public_truth, chosen["bias"])},
                  "held_out": {"unadjusted": held_out(np.zeros(len(LABELS))), "adjusted": held_out(chosen["bias"])}}
        (run_dir / RECORD).write_text(json.dumps(record, indent=2))
        return record
    floor = float((_predicted(logits_of_both_views(base, pixels), np.zeros(len(LABELS))) == public_truth).mean()
                  - max_public_drop)
    chosen = search(public_views, public_truth, fold_views, fold_truths, floor)
    log.info("bias %s (objective %s)", np.round(chosen["bias"], 1).tolist(), chosen["objective"])
    bias_without, cross_fitted = {}, []
    for k, run in enumerate(fold_runs if len(fold_runs) > 1 else []):
        others = [i for i in range(len(fold_runs)) if i != k]
        own = search(public_views, public_truth, [fold_views[i] for i in others], [fold_truths[i] for i in others],
                     floor)
        bias_without[str(run.resolve())] = own["bias"]
        cross_fitted.append(_predicted(fold_views[k], np.asarray(own["bias"])))
        log.info("without %s: bias %s", run, np.round(own["bias"], 1).tolist())
    record = {"base": str(base_path), "alpha": alpha, "floor_public_ferplus_acc": floor, "grid": list(GRID),
              "sweeps": SWEEPS, "folds": [str(run) for run in fold_runs], "bias": chosen["bias"],
              "objective": chosen["objective"], "bias_without": bias_without,
              "public": {"unadjusted": _public_report(public_views, public_truth, np.zeros(len(LABELS))),
                         "adjusted": _public_report(public_views, public_truth, chosen["bias"])},
              "held_out": {"unadjusted": held_out(np.zeros(len(LABELS))), "adjusted_in_sample": held_out(chosen["bias"]),
                           "adjusted_cross_fitted": (balanced_report(np.concatenate(cross_fitted), truth)
                                                     if cross_fitted else None)}}
    for name, report in filter(lambda item: item[1], record["held_out"].items()):
        log.info("held-out actors, %s: balanced %.4f, recall %s", name, report["balanced_accuracy"],
                 ", ".join(f"{k} {v:.2f}" for k, v in report["recall"].items()))
    (run_dir / RECORD).write_text(json.dumps(record, indent=2))
    return record


def bias_for(record_path: Path, run_dir: Path) -> tuple[np.ndarray, str]:
    """The bias ``export --logit-bias-from`` gives ``run_dir``: the one chosen without it for a fold, else the
    one chosen on every fold; with a word saying which."""
    record = json.loads(Path(record_path).read_text())
    own = record["bias_without"].get(str(Path(run_dir).resolve()))
    if own is not None:
        return np.asarray(own), "chosen without this fold's actors"
    return np.asarray(record["bias"]), record.get("how", "chosen on every fold")
