"""Whether the camera's view changed (the face finder's saving in a still room)."""

import numpy as np

from moodbox.devkit.scenes import face_patch, load_ferplus_faces, textured_background
from moodbox.perception.scene_watch import CHANGE_GREY, SceneWatch


def noisy(wall, rng, sigma=8.0):
    return np.clip(wall + rng.normal(0, sigma, wall.shape), 0, 255).astype(np.uint8)


def test_sensor_noise_is_no_change_and_a_far_face_is(data_dir):
    rng = np.random.default_rng(0)
    wall = textured_background(rng, 640, 480)
    watch = SceneWatch()
    assert watch.changed(noisy(wall, rng))  # the first view
    assert not any(watch.changed(noisy(wall, rng)) for _ in range(20))
    faces = load_ferplus_faces(data_dir)[0]
    for face in faces[:10]:
        frame = wall.copy()
        frame[200:224, 300:324] = face_patch(face, 24, 0)
        assert watch.changed(noisy(frame, rng))  # a 24 px face, about 3.3 m away
        assert watch.changed(noisy(wall, rng))  # and gone again


def test_a_slow_drift_of_the_light_adds_up_to_a_change():
    watch = SceneWatch()
    view = np.full((480, 640), 100, np.uint8)
    assert watch.changed(view)
    steps = [watch.changed(view + np.uint8(level)) for level in range(1, CHANGE_GREY + 3)]
    assert steps[:CHANGE_GREY] == [False] * CHANGE_GREY and steps[CHANGE_GREY]


def test_a_forgotten_view_or_another_size_is_a_change():
    watch = SceneWatch()
    view = np.full((480, 640), 100, np.uint8)
    assert watch.changed(view) and not watch.changed(view)
    watch.forget()
    assert watch.changed(view)
    assert watch.changed(np.full((240, 320), 100, np.uint8))
