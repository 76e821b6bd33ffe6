"""From the trained PyTorch weights to an identical Keras model that TensorFlow's int8 converter takes.

Two things happen on the way:

- Logit adjustment (Menon et al., "Long-tail learning via logit adjustment", ICLR 2021): the final bias
  moves by ``-tau * log(prior)`` so that rare and subtle expressions (fear, sad, disgust) are not swallowed
  by neutral and happy. ``tau`` is chosen on PublicTest by FER+ macro-F1 (mirror-averaged, as the device
  scores), never on PrivateTest, among the candidates that keep FER+ accuracy within ``max_accuracy_drop``
  of the unadjusted network (strong adjustment buys macro-F1 with accuracy); ``tau = 0`` is a candidate,
  so it is only used when it helps.
- The port is checked: the Keras model must give the PyTorch model's probabilities on PublicTest faces.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

from .data import IMAGE_SIZE, LABELS, FerData, soft_targets
from .torch_train import BEST, TorchTrainConfig, load_weights, logits_of_both_views, macro_f1, softmax

log = logging.getLogger(__name__)

KERAS_MODEL = "best.keras"
EXPORT_RECORD = "export.json"
TAU_CANDIDATES = tuple(round(0.1 * i, 1) for i in range(16))
PORT_TOLERANCE = 1e-4
MAX_ACCURACY_DROP = 0.01


class ExportError(Exception):
    """The Keras port does not reproduce the trained network."""


def to_keras(model, config: TorchTrainConfig, logit_bias: np.ndarray):
    """The same network in Keras (NHWC), with ``logit_bias`` added to the final layer's bias."""
    import keras
    from keras import layers

    inputs = keras.Input((IMAGE_SIZE, IMAGE_SIZE, 1), name="face_gray_0_255")
    x = layers.Rescaling(1 / 127.5, offset=-1.0, name="normalise")(inputs)
    modules = list(model.features)
    weights = []  # (keras layer, its weights) assigned once the graph is built
    index = 0
    for stage in range(4):
        for _ in range(config.convs_per_stage):
            conv, bn = modules[index], modules[index + 1]
            index += 3  # conv, BN, ReLU
            conv_layer = layers.Conv2D(conv.out_channels, 3, padding="same", use_bias=False)
            bn_layer = layers.BatchNormalization(epsilon=bn.eps)
            x = layers.ReLU()(bn_layer(conv_layer(x)))
            weights.append((conv_layer, [conv.weight.detach().numpy().transpose(2, 3, 1, 0)]))
            weights.append((bn_layer, [t.detach().numpy() for t in
                                       (bn.weight, bn.bias, bn.running_mean, bn.running_var)]))
        x = layers.MaxPooling2D(2)(x)
        index += 1  # the pool
    x = layers.GlobalAveragePooling2D()(x)
    dense = layers.Dense(len(LABELS), name="logits")
    outputs = layers.Softmax(name="expression")(dense(x))
    classifier = model.classifier
    weights.append((dense, [classifier.weight.detach().numpy().T,
                            classifier.bias.detach().numpy() + logit_bias.astype(np.float32)]))
    keras_model = keras.Model(inputs, outputs, name=f"moodbox_expression_vgg_w{config.width}")
    for layer, values in weights:
        layer.set_weights(values)
    return keras_model


def training_prior(data: FerData, config: TorchTrainConfig) -> np.ndarray:
    """The class distribution the network was trained towards (mean of its soft targets)."""
    prior = soft_targets(data, data.split("train"), config.ferplus_weight).mean(axis=0)
    return np.maximum(prior, 1e-4) / np.maximum(prior, 1e-4).sum()


def choose_logit_adjustment(model, data: FerData, prior: np.ndarray, max_accuracy_drop: float) -> dict:
    """Scores every candidate ``tau`` on PublicTest (FER+ majority, mirror-averaged); keeps the best macro-F1
    among those within ``max_accuracy_drop`` of the unadjusted FER+ accuracy."""
    rows = data.split("public")
    truth = data.ferplus_majority[rows]
    kept = truth >= 0
    plain, mirrored = logits_of_both_views(model, data.pixels[rows])
    candidates = []
    for tau in TAU_CANDIDATES:
        bias = -tau * np.log(prior)
        predicted = ((softmax(plain + bias) + softmax(mirrored + bias)) / 2).argmax(axis=1)
        candidates.append({"tau": tau, "public_ferplus_macro_f1": macro_f1(predicted[kept], truth[kept]),
                           "public_ferplus_acc": float((predicted[kept] == truth[kept]).mean()),
                           "public_fer2013_acc": float((predicted == data.emotion[rows]).mean())})
    floor = candidates[0]["public_ferplus_acc"] - max_accuracy_drop  # candidates[0] is tau = 0
    best = max((c for c in candidates if c["public_ferplus_acc"] >= floor),
               key=lambda c: c["public_ferplus_macro_f1"])
    for candidate in candidates:
        log.info("tau %.1f: PublicTest FER+ macro-F1 %.4f, accuracy %.4f; FER2013 accuracy %.4f%s",
                 candidate["tau"], candidate["public_ferplus_macro_f1"], candidate["public_ferplus_acc"],
                 candidate["public_fer2013_acc"], "  <- chosen" if candidate is best else "")
    return {"chosen": best, "max_accuracy_drop": max_accuracy_drop, "candidates": candidates,
            "prior": prior.tolist()}


def export(data: FerData, run_dir: Path, max_accuracy_drop: float = MAX_ACCURACY_DROP) -> Path:
    """Write ``run_dir/best.keras`` (logit-adjusted) and ``run_dir/export.json``; returns the Keras path."""
    model, config = load_weights(run_dir / BEST)
    prior = training_prior(data, config)
    adjustment = choose_logit_adjustment(model, data, prior, max_accuracy_drop)
    logit_bias = -adjustment["chosen"]["tau"] * np.log(prior)
    keras_model = to_keras(model, config, logit_bias)

    sample = data.pixels[data.split("public")[:256]]
    expected = softmax(logits_of_both_views(model, sample)[0] + logit_bias)
    ported = keras_model.predict(sample.astype(np.float32)[..., None], batch_size=256, verbose=0)
    difference = float(np.abs(ported - expected).max())
    log.info("Keras port vs PyTorch: largest probability difference %.2e on %d faces", difference, len(sample))
    if difference > PORT_TOLERANCE:
        raise ExportError(f"the Keras port differs from the PyTorch network by {difference:.2e} "
                          f"(tolerance {PORT_TOLERANCE:.0e}); not writing {run_dir / KERAS_MODEL}")
    keras_model.save(run_dir / KERAS_MODEL)
    (run_dir / EXPORT_RECORD).write_text(json.dumps(
        {"logit_adjustment": adjustment, "port_max_abs_difference": difference,
         "parameters": int(keras_model.count_params())}, indent=2))
    return run_dir / KERAS_MODEL
