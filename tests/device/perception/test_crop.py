"""The crop's denoising: OpenCV's bilateral filter, only on faces whose camera pixels are noisy (the geometry's
tests are in test_faces.py, beside the finder whose boxes they cut)."""

import cv2
import numpy as np
import pytest

from moodbox.devkit.scenes import load_ferplus_faces
from moodbox.perception.boxes import Face
from moodbox.perception.crop import crop_face, denoised, noise_level

BILATERAL = {"filter": "bilateral", "diameter": 5, "sigma_color": 20, "sigma_space": 1.5, "min_noise": 0}
CONVENTION = {"square": True, "scale": 1.0, "interpolation": "area", "enlarge_interpolation": "cubic",
              "border": "replicate"}


@pytest.fixture(scope="module")
def ferplus_faces(data_dir):
    return load_ferplus_faces(data_dir)[0]


def noisy(pixels, sigma, seed=0):
    return np.clip(pixels + np.random.default_rng(seed).normal(0, sigma, pixels.shape), 0, 255).astype(np.uint8)


def test_the_filter_smooths_sensor_noise_and_keeps_edges():
    halves = np.repeat([[60.0] * 24 + [180.0] * 24], 48, axis=0)  # a flat dark and a flat light half: one edge
    grainy = noisy(halves, 7)
    smoothed = denoised(grainy, BILATERAL).astype(np.float64)
    for half in (np.s_[:, 2:21], np.s_[:, 27:46]):
        assert smoothed[half].std() < 0.6 * grainy[half].std()
    assert smoothed[:, 24:].mean() - smoothed[:, :24].mean() > 0.97 * 120  # the edge is not blurred away
    assert np.abs(smoothed[:, 24] - smoothed[:, 23]).mean() > 100


def test_the_noise_level_is_the_sensors_not_the_faces_edges(ferplus_faces):
    clean = np.array([noise_level(face) for face in ferplus_faces[:40]])
    grainy = np.array([noise_level(noisy(face.astype(np.float64), 7, seed)) for seed, face in
                       enumerate(ferplus_faces[:40])])
    assert np.median(clean) < 4 and np.percentile(clean, 90) < 6
    assert np.percentile(grainy, 10) > 6.5 and 7 < np.median(grainy) < 9  # sigma 7, and the face's own grain


def test_only_a_noisy_face_is_smoothed_and_an_enlarged_one_is_judged_by_its_camera_pixels(ferplus_faces):
    gated = {**BILATERAL, "min_noise": 6.0}
    far_clean = cv2.resize(ferplus_faces[1], (32, 32), interpolation=cv2.INTER_AREA)
    far_grainy = noisy(far_clean.astype(np.float64), 7)
    frame = np.full((240, 320), 128, np.uint8)
    frame[96:144, 136:184] = ferplus_faces[0]
    frame[20:52, 20:52], frame[20:52, 100:132] = far_clean, far_grainy
    near, clean_box, grainy_box = Face(136, 96, 48, 48, 0.9), Face(20, 20, 32, 32, 0.9), Face(100, 20, 32, 32, 0.9)
    crop = lambda box, convention: crop_face(frame, box, (48, 48), convention)  # noqa: E731
    for box in (near, clean_box):  # clean: left as the model was scored on clean faces
        assert np.array_equal(crop(box, {**CONVENTION, "denoise": gated}), crop(box, CONVENTION))
    enlarged = crop(grainy_box, CONVENTION)
    assert noise_level(enlarged) < 6.0 <= noise_level(far_grainy)  # enlarging smears the noise: judged before
    assert np.array_equal(crop(grainy_box, {**CONVENTION, "denoise": gated}), denoised(enlarged, BILATERAL))
    assert not np.array_equal(denoised(enlarged, BILATERAL), enlarged)
    assert np.array_equal(denoised(enlarged, None), enlarged)
