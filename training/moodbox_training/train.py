"""Training with checkpoints that survive interruption: rerun the same command and it resumes."""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from .data import LABELS, FerData, soft_targets

log = logging.getLogger(__name__)

BEST_MODEL = "best.keras"
HISTORY = "history.csv"
CONFIG = "train_config.json"


@dataclass(frozen=True)
class TrainConfig:
    width: int = 24
    epochs: int = 60
    batch_size: int = 64
    learning_rate: float = 2e-3
    weight_decay: float = 1e-4
    ferplus_weight: float = 0.5
    class_weight_power: float = 0.5
    seed: int = 1234
    limit: int = 0  # use only this many training rows (smoke runs); 0 = all
    init_from: str = ""  # start from this .keras model (a warm restart of an earlier run) instead of scratch


def class_weights(targets: np.ndarray, power: float) -> np.ndarray:
    """(inverse class frequency) ** power, normalised to mean 1: tempers the disgust/happy imbalance."""
    counts = np.bincount(targets.argmax(axis=1), minlength=len(LABELS)).astype(np.float64)
    weights = (counts.sum() / np.maximum(counts, 1)) ** power
    return (weights / weights[counts > 0].mean()).astype(np.float32)


def _datasets(data: FerData, config: TrainConfig):
    import tensorflow as tf

    from .augment import augment

    train_rows = data.split("train")
    if config.limit:
        train_rows = np.random.default_rng(config.seed).choice(train_rows, config.limit, replace=False)
    targets = soft_targets(data, train_rows, config.ferplus_weight)
    weights = class_weights(targets, config.class_weight_power)[targets.argmax(axis=1)]
    images = data.pixels[train_rows][..., None].astype(np.float32)
    train = (tf.data.Dataset.from_tensor_slices((images, targets, weights))
             .shuffle(len(train_rows), seed=config.seed, reshuffle_each_iteration=True)
             .batch(config.batch_size, drop_remainder=True)
             .map(lambda x, y, w: (augment(x), y, w), num_parallel_calls=tf.data.AUTOTUNE)
             .prefetch(tf.data.AUTOTUNE))
    return train, len(train_rows) // config.batch_size


class PublicTestSelection:
    """Scores PublicTest against both label sets after each epoch and keeps the best model.

    The selection score is the mean of FER2013 and FER+ majority accuracy. The best score is kept in a
    file so that a resumed run does not overwrite a better checkpoint.
    """

    def __init__(self, data: FerData, run_dir: Path):
        import keras

        rows = data.split("public")
        self.images = data.pixels[rows][..., None].astype(np.float32)
        self.fer_labels = data.emotion[rows]
        self.ferplus_labels = data.ferplus_majority[rows]
        self.run_dir = run_dir
        self.best_file = run_dir / "best_score.json"
        self.best = json.loads(self.best_file.read_text())["score"] if self.best_file.exists() else -1.0
        outer = self

        class _Callback(keras.callbacks.Callback):
            def on_epoch_end(self, epoch, logs=None):
                outer.on_epoch_end(self.model, epoch, logs)

        self.callback = _Callback()

    def on_epoch_end(self, model, epoch: int, logs: dict) -> None:
        predicted = model.predict(self.images, batch_size=512, verbose=0).argmax(axis=1)
        fer = float((predicted == self.fer_labels).mean())
        kept = self.ferplus_labels >= 0
        ferplus = float((predicted[kept] == self.ferplus_labels[kept]).mean())
        score = (fer + ferplus) / 2
        logs.update(public_fer2013_acc=fer, public_ferplus_acc=ferplus)
        log.info("epoch %d: PublicTest FER2013 %.4f, FER+ %.4f", epoch + 1, fer, ferplus)
        if score > self.best:
            self.best = score
            model.save(self.run_dir / BEST_MODEL)
            self.best_file.write_text(json.dumps({"score": score, "epoch": epoch + 1,
                                                  "public_fer2013_acc": fer, "public_ferplus_acc": ferplus}))


def train(data: FerData, run_dir: Path, config: TrainConfig) -> Path:
    """Train into ``run_dir``; resume from its backup if one is there. Returns the best model's path."""
    import keras

    from . import model as model_module

    run_dir.mkdir(parents=True, exist_ok=True)
    config_file = run_dir / CONFIG
    if config_file.exists() and json.loads(config_file.read_text()) != asdict(config):
        raise SystemExit(f"{run_dir} holds a run with different settings ({config_file}); "
                         "use another --run-dir or the same settings to resume")
    config_file.write_text(json.dumps(asdict(config), indent=2))

    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    log.info("training on %s", ", ".join(gpu.name for gpu in gpus) if gpus else "the CPU (no CUDA GPU found)")
    keras.utils.set_random_seed(config.seed)
    train_ds, steps = _datasets(data, config)
    network = keras.models.load_model(config.init_from) if config.init_from else model_module.build(config.width)
    schedule = keras.optimizers.schedules.CosineDecay(
        0.0, decay_steps=steps * config.epochs, warmup_target=config.learning_rate,
        warmup_steps=min(steps * 2, steps * config.epochs // 10))
    network.compile(optimizer=keras.optimizers.AdamW(schedule, weight_decay=config.weight_decay),
                    loss="categorical_crossentropy", metrics=["categorical_accuracy"])
    log.info("model %s: %d parameters, %d steps per epoch", network.name, network.count_params(), steps)
    selection = PublicTestSelection(data, run_dir)
    network.fit(train_ds, epochs=config.epochs, verbose=1 if sys.stdout.isatty() else 2, callbacks=[
        keras.callbacks.BackupAndRestore(str(run_dir / "backup"), delete_checkpoint=False),
        selection.callback,
        keras.callbacks.CSVLogger(str(run_dir / HISTORY), append=True),
    ])
    return run_dir / BEST_MODEL

