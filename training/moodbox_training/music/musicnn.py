"""MusiCNN (Pons & Serra 2019), MSD weights, re-implemented in plain TensorFlow 2 and converted to float32 TFLite.

The ``musicnn`` 0.1.0 wheel (ISC licence) ships the TF1 checkpoint; its own graph code needs TF 1.x. This module
rebuilds the same network (``musicnn/models.py``, ``build_musicnn`` with 64 mid-end filters and 200 back-end units)
from the checkpoint's variables, in inference mode (batch norm with moving statistics, no dropout). The TFLite
graph takes one log-mel patch ``[1, 187, 96]`` and returns the 50 tag probabilities and the 200-d penultimate
embedding. Install the wheel without its TF 1.x pins: ``pip install --no-deps musicnn==0.1.0``.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

N_FRAMES, N_MELS = 187, 96
BN_EPSILON = 1e-3  # tf.compat.v1.layers.batch_normalization's default
# The wheel's configuration.MSD_LABELS, in output order.
MSD_TAGS = ('rock', 'pop', 'alternative', 'indie', 'electronic', 'female vocalists', 'dance', '00s',
            'alternative rock', 'jazz', 'beautiful', 'metal', 'chillout', 'male vocalists', 'classic rock', 'soul',
            'indie rock', 'Mellow', 'electronica', '80s', 'folk', '90s', 'chill', 'instrumental', 'punk', 'oldies',
            'blues', 'hard rock', 'ambient', 'acoustic', 'experimental', 'female vocalist', 'guitar', 'Hip-Hop',
            '70s', 'party', 'country', 'easy listening', 'sexy', 'catchy', 'funk', 'electro', 'heavy metal',
            'Progressive rock', '60s', 'rnb', 'indie pop', 'sad', 'House', 'happy')


class MusicnnError(Exception):
    """The musicnn wheel or its checkpoint is missing or not what this code expects."""


def checkpoint_prefix() -> str:
    """The MSD_musicnn checkpoint inside the installed ``musicnn`` wheel (found without importing it: its
    ``__init__`` is harmless, but its modules import TF 1.x APIs)."""
    spec = importlib.util.find_spec("musicnn")
    if spec is None or not spec.submodule_search_locations:
        raise MusicnnError("the musicnn package is not installed: pip install --no-deps musicnn==0.1.0")
    folder = Path(list(spec.submodule_search_locations)[0]) / "MSD_musicnn"
    if not (folder / ".index").is_file():
        raise MusicnnError(f"{folder}: MSD_musicnn checkpoint not found in the musicnn wheel")
    return str(folder) + "/"


def load_weights(prefix: str) -> dict[str, np.ndarray]:
    import tensorflow as tf

    reader = tf.compat.v1.train.NewCheckpointReader(prefix)  # the prefix ends in "/": not a folder here
    return {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map()
            if "Adam" not in name and not name.endswith("_power")}  # optimiser slots are not weights


class Musicnn:
    """The inference graph; variable names follow tf.compat.v1.layers' automatic naming in creation order."""

    def __init__(self, weights: dict[str, np.ndarray]):
        import tensorflow as tf

        self.tf = tf
        self.w = {name: tf.constant(value) for name, value in weights.items()}
        self._conv, self._bn = 0, 0

    def _name(self, kind: str) -> str:
        index = self._conv if kind == "conv2d" else self._bn
        if kind == "conv2d":
            self._conv += 1
        else:
            self._bn += 1
        return kind if index == 0 else f"{kind}_{index}"

    def _batch_norm(self, x):
        name = self._name("batch_normalization")
        w = self.w
        scale = w[f"{name}/gamma"] / self.tf.sqrt(w[f"{name}/moving_variance"] + BN_EPSILON)
        return x * scale + (w[f"{name}/beta"] - w[f"{name}/moving_mean"] * scale)

    def _conv_relu(self, x, padding: str):
        name = self._name("conv2d")
        y = self.tf.nn.conv2d(x, self.w[f"{name}/kernel"], strides=1, padding=padding) + self.w[f"{name}/bias"]
        return self.tf.nn.relu(y)

    def _block(self, x, padding: str):
        """conv -> relu -> batch norm -> max over the frequency axis: [B, T, F, C] -> [B, T, C]."""
        return self.tf.reduce_max(self._batch_norm(self._conv_relu(x, padding)), axis=2)

    def __call__(self, patches):
        tf = self.tf
        self._conv = self._bn = 0
        x = self._batch_norm(tf.expand_dims(patches, 3))  # [B, 187, 96, 1]
        time_pad = [[0, 0], [3, 3], [0, 0], [0, 0]]
        padded = tf.pad(x, time_pad)
        front = [self._block(padded, "VALID"), self._block(padded, "VALID"),  # timbral 7x38, 7x67
                 self._block(x, "SAME"), self._block(x, "SAME"), self._block(x, "SAME")]  # temporal 128, 64, 32
        front = tf.expand_dims(tf.concat(front, 2), 3)  # [B, 187, 561, 1]
        mid = [front]
        previous = front
        for layer in range(3):
            conv = self._batch_norm(self._conv_relu(tf.pad(previous, time_pad), "VALID"))
            conv = tf.transpose(conv, [0, 1, 3, 2])  # [B, 187, 64, 1]
            previous = conv if layer == 0 else conv + previous
            mid.append(previous)
        features = tf.concat(mid, 2)  # [B, 187, 753, 1]
        pooled = tf.concat([tf.reduce_max(features, axis=1), tf.reduce_mean(features, axis=1)], 2)  # [B, 753, 2]
        flat = self._batch_norm(tf.reshape(pooled, [-1, 753 * 2]))
        w = self.w
        penultimate = self._batch_norm(tf.nn.relu(tf.matmul(flat, w["dense/kernel"]) + w["dense/bias"]))
        logits = tf.matmul(penultimate, w["dense_1/kernel"]) + w["dense_1/bias"]
        return tf.sigmoid(logits), penultimate, flat


def convert(out_path: Path, prefix: str | None = None) -> Path:
    """Write the float32 TFLite model (outputs: ``tags`` [1, 50], ``embedding`` [1, 200] and ``pool`` [1, 1506], the
    standardised max and mean over time of the mid-end features, the back end's input) and return its path."""
    import tensorflow as tf

    weights = load_weights(prefix or checkpoint_prefix())
    if "dense_1/kernel" not in weights or weights["dense_1/kernel"].shape != (200, len(MSD_TAGS)):
        raise MusicnnError(f"{prefix}: not the MSD_musicnn checkpoint this code expects")
    net = Musicnn(weights)

    @tf.function(input_signature=[tf.TensorSpec([1, N_FRAMES, N_MELS], tf.float32, name="logmel")])
    def serve(logmel):
        tags, embedding, pool = net(logmel)
        return {"tags": tags, "embedding": embedding, "pool": pool}

    converter = tf.lite.TFLiteConverter.from_concrete_functions([serve.get_concrete_function()], serve)
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_bytes(converter.convert())
    return out_path
