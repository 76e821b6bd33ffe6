"""Faces as the box's camera sees them in a dim room from a distance, for evaluation.

A 48x48 face is dimmed (gain), blurred (optics), shrunk to the width it has in the frame (INTER_AREA-like area
average), given sensor noise at that size, stored as 8-bit pixels, and enlarged back to the model's input with
bicubic interpolation, as the device enlarges the crop of a small face (``enlarge_interpolation: cubic``).
Deterministic for a given seed, so two models are scored on the very same pixels.
"""

from __future__ import annotations

import numpy as np

SIZES = (48, 32, 24)
DIM, BLUR_SIGMA, NOISE_SIGMA = 0.65, 0.6, 7.0


def _gaussian_blur(images: np.ndarray, sigma: float) -> np.ndarray:
    radius = max(1, int(np.ceil(3 * sigma)))
    offsets = np.arange(-radius, radius + 1, dtype=np.float64)
    kernel = np.exp(-offsets ** 2 / (2 * sigma ** 2))
    kernel /= kernel.sum()
    padded = np.pad(images, ((0, 0), (radius, radius), (radius, radius)), mode="edge")
    rows = sum(k * padded[:, i:i + images.shape[1], :] for i, k in enumerate(kernel))
    return sum(k * rows[:, :, i:i + images.shape[2]] for i, k in enumerate(kernel))


def degraded(pixels: np.ndarray, size: int, *, dim: float = DIM, blur_sigma: float = BLUR_SIGMA,
             noise_sigma: float = NOISE_SIGMA, seed: int = 0) -> np.ndarray:
    """uint8 faces (N, H, W) -> uint8 faces of the same shape, seen at ``size`` px in dim light (see above)."""
    return seen_by_camera(pixels, size, dim=dim, blur_sigma=blur_sigma, noise_sigma=noise_sigma, seed=seed)[0]


def seen_by_camera(pixels: np.ndarray, size: int, *, dim: float = DIM, blur_sigma: float = BLUR_SIGMA,
                   noise_sigma: float = NOISE_SIGMA, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """:func:`degraded`'s faces, and the camera's own pixels of them (N, ``size``, ``size``) before the device
    enlarged them: what its denoise judges the noise by."""
    import torch
    import torch.nn.functional as F

    height, width = pixels.shape[1:]
    x = pixels.astype(np.float64) * dim
    if blur_sigma > 0:
        x = _gaussian_blur(x, blur_sigma)
    tensor = torch.from_numpy(x[:, None])
    if size < height:
        tensor = F.interpolate(tensor, size=(size, size), mode="area")
    noise = np.random.default_rng(seed).normal(0.0, noise_sigma, tensor.shape)
    tensor = (tensor + torch.from_numpy(noise)).round().clamp(0, 255)  # the sensor's 8-bit pixels
    camera = tensor[:, 0].numpy().astype(np.uint8)
    if size < height:
        tensor = F.interpolate(tensor, size=(height, width), mode="bicubic", align_corners=False)
    return tensor[:, 0].round().clamp(0, 255).numpy().astype(np.uint8), camera
