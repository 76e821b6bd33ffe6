"""Training-time augmentation on batches of 48x48x1 float images in 0-255.

One random affine per image (rotation +-30 deg, shift 10%, shear and zoom 20%, horizontal flip),
then brightness/contrast jitter and random erasing, all as TensorFlow ops inside tf.data.
"""

from __future__ import annotations

import math

import tensorflow as tf


def _random_affine(batch: int, size: int) -> tf.Tensor:
    """Projective transforms (8 numbers per image, output->input mapping) around the image centre."""
    uniform = lambda low, high: tf.random.uniform([batch], low, high)  # noqa: E731
    angle = uniform(-math.radians(30), math.radians(30))
    shear = uniform(-0.2, 0.2)
    zoom = uniform(0.8, 1.2)
    shift_x, shift_y = uniform(-0.1, 0.1) * size, uniform(-0.1, 0.1) * size
    flip = tf.where(tf.random.uniform([batch]) < 0.5, -1.0, 1.0)
    cos, sin = tf.cos(angle), tf.sin(angle)
    # Forward map A = R(angle) @ Shear @ diag(zoom * flip, zoom); the op wants its inverse.
    a00, a01 = cos * zoom * flip, (cos * shear - sin) * zoom
    a10, a11 = sin * zoom * flip, (sin * shear + cos) * zoom
    det = a00 * a11 - a01 * a10
    i00, i01, i10, i11 = a11 / det, -a01 / det, -a10 / det, a00 / det
    centre = (size - 1) / 2.0
    # input = Ainv @ (output - centre - shift) + centre
    ox, oy = centre + shift_x, centre + shift_y
    b0 = centre - (i00 * ox + i01 * oy)
    b1 = centre - (i10 * ox + i11 * oy)
    zeros = tf.zeros([batch])
    return tf.stack([i00, i01, b0, i10, i11, b1, zeros, zeros], axis=1)


def _random_erase(images: tf.Tensor, probability: float = 0.5) -> tf.Tensor:
    """Blank one random rectangle (2-20% of the area) per image with noise, with ``probability``."""
    batch, size = tf.shape(images)[0], images.shape[1]
    area = tf.random.uniform([batch], 0.02, 0.2) * size * size
    aspect = tf.exp(tf.random.uniform([batch], math.log(0.3), math.log(3.3)))
    height = tf.clip_by_value(tf.sqrt(area * aspect), 1, size)
    width = tf.clip_by_value(tf.sqrt(area / aspect), 1, size)
    top = tf.random.uniform([batch]) * (size - height)
    left = tf.random.uniform([batch]) * (size - width)
    grid = tf.range(size, dtype=tf.float32)
    rows = (grid[None, :] >= top[:, None]) & (grid[None, :] < (top + height)[:, None])
    cols = (grid[None, :] >= left[:, None]) & (grid[None, :] < (left + width)[:, None])
    mask = rows[:, :, None] & cols[:, None, :]
    mask &= (tf.random.uniform([batch]) < probability)[:, None, None]
    noise = tf.random.uniform(tf.shape(images), 0, 255)
    return tf.where(mask[..., None], noise, images)


def augment(images: tf.Tensor) -> tf.Tensor:
    batch, size = tf.shape(images)[0], images.shape[1]
    images = tf.raw_ops.ImageProjectiveTransformV3(
        images=images, transforms=_random_affine(batch, size), output_shape=[size, size],
        fill_value=0.0, interpolation="BILINEAR", fill_mode="REFLECT")
    mean = tf.reduce_mean(images, axis=[1, 2, 3], keepdims=True)
    contrast = tf.random.uniform([batch, 1, 1, 1], 0.7, 1.3)
    brightness = tf.random.uniform([batch, 1, 1, 1], -30.0, 30.0)
    images = tf.clip_by_value((images - mean) * contrast + mean + brightness, 0.0, 255.0)
    images = tf.reshape(images, [batch, size, size, 1])
    return _random_erase(images)
