"""Faces degraded as the box's camera sees them in a dim room from a distance (evaluation)."""

import numpy as np
import pytest

pytest.importorskip("torch")

from moodbox_training.robustness import degraded  # noqa: E402

pytestmark = pytest.mark.training


def faces(n=8):
    images = np.full((n, 48, 48), 200, np.uint8)
    images[:, :, :24] = 40
    return images


def test_dim_noisy_small_faces_keep_their_shape_and_are_reproducible():
    out = degraded(faces(), 24, seed=3)
    assert out.shape == (8, 48, 48) and out.dtype == np.uint8
    assert np.array_equal(out, degraded(faces(), 24, seed=3))
    assert not np.array_equal(out, degraded(faces(), 24, seed=4))  # the noise follows the seed
    assert 0.6 * faces().mean() < out.mean() < 0.7 * faces().mean()  # dimmed by 0.65


def test_a_smaller_face_loses_more_of_its_edges():
    clean = degraded(faces(), 48, dim=1.0, blur_sigma=0.0, noise_sigma=0.0)
    assert np.array_equal(clean, faces())  # nothing asked, nothing changed
    edge = lambda x: np.abs(np.diff(x.astype(float), axis=2)).max(axis=2).mean()  # noqa: E731
    sharp = edge(degraded(faces(), 48, noise_sigma=0.0))
    small = edge(degraded(faces(), 24, noise_sigma=0.0))
    assert small < sharp < edge(faces())
