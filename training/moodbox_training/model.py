"""The expression network: a small residual separable-conv CNN sized for a Pi CPU at 1-2 Hz.

Input is the raw grayscale face crop (0-255, NHWC); normalisation is the first layer, so the
converted model keeps the device contract in ``../shared/DESIGN.md``.
"""

from __future__ import annotations

import keras
from keras import layers

from .data import IMAGE_SIZE, LABELS


def _conv_bn_relu(x, filters: int, separable: bool):
    conv = layers.SeparableConv2D if separable else layers.Conv2D
    x = conv(filters, 3, padding="same", use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    return layers.ReLU()(x)


def _residual_block(x, filters: int):
    """Two separable convs with a strided 1x1 shortcut, halving the resolution (Xception-style)."""
    shortcut = layers.Conv2D(filters, 1, strides=2, padding="same", use_bias=False)(x)
    shortcut = layers.BatchNormalization()(shortcut)
    x = _conv_bn_relu(x, filters, separable=True)
    x = layers.SeparableConv2D(filters, 3, padding="same", use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    x = layers.MaxPooling2D(3, strides=2, padding="same")(x)
    return layers.ReLU()(layers.Add()([x, shortcut]))


def build(width: int = 32, dropout: float = 0.3) -> keras.Model:
    """A conv at 48x48, pooling, a conv at 24x24, then residual blocks of 2w, 4w, 8w channels.

    Pooling before the second conv keeps CPU training near a minute per epoch; the 48x48 layers of a
    VGG-style stem cost most of the compute for little accuracy at this input size.
    """
    inputs = keras.Input((IMAGE_SIZE, IMAGE_SIZE, 1), name="face_gray_0_255")
    x = layers.Rescaling(1 / 127.5, offset=-1.0, name="normalise")(inputs)
    x = _conv_bn_relu(x, width, separable=False)
    x = layers.MaxPooling2D(2)(x)
    x = _conv_bn_relu(x, width * 2, separable=False)
    for multiple in (2, 4, 8):
        x = _residual_block(x, width * multiple)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(dropout)(x)
    outputs = layers.Dense(len(LABELS), activation="softmax", name="expression")(x)
    return keras.Model(inputs, outputs, name=f"moodbox_expression_w{width}")
