"""The posed actors' set: loading, actor-grouped folds, training targets, balanced sampling and scoring."""

import numpy as np
import pytest

from moodbox_training.data import DatasetError
from moodbox_training.posed import (POSED_FILE, actor_folds, balanced_report, balanced_weights, load_posed,
                                    posed_targets)

pytestmark = pytest.mark.training


def write_posed(folder, actors=("P01", "P02", "P03", "P05", "P07"), per_actor=7, **override):
    """A tiny stand-in file with the real set's arrays: one face per expression per actor."""
    n = len(actors) * per_actor
    rng = np.random.default_rng(0)
    votes = rng.uniform(0, 0.3, (n, 7)).astype(np.float32)
    emotion = np.tile(np.arange(7, dtype=np.uint8), len(actors))[:n]
    votes[np.arange(n), emotion] += 0.9
    arrays = {"images": rng.integers(0, 256, (n, 48, 48), dtype=np.uint8), "emotion": emotion,
              "subject": np.repeat(np.array(actors), per_actor), "votes": votes, **override}
    path = folder / POSED_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **arrays)
    return folder


def test_loads_the_arrays_and_splits_by_actor(tmp_path):
    posed = load_posed(write_posed(tmp_path))
    assert posed.actors == ["P01", "P02", "P03", "P05", "P07"]
    held_out = posed.rows_of(["P02"])
    assert set(posed.subject[held_out]) == {"P02"} and len(held_out) == 7
    assert set(posed.subject[posed.rows_without(["P02"])]) == {"P01", "P03", "P05", "P07"}
    assert len(posed.sha256[POSED_FILE]) == 64


def test_a_missing_or_malformed_file_names_what_to_fix(tmp_path):
    with pytest.raises(DatasetError, match="taiwan_actors.npz not found"):
        load_posed(tmp_path)
    write_posed(tmp_path, emotion=np.full(35, 9, np.uint8))
    with pytest.raises(DatasetError, match="'emotion' holds 9"):
        load_posed(tmp_path)
    write_posed(tmp_path, votes=np.zeros((35, 6), np.float32))
    with pytest.raises(DatasetError, match="one row per image"):
        load_posed(tmp_path)


def test_folds_hold_every_actor_once_in_near_equal_groups():
    actors = [f"P{i:02d}" for i in range(1, 18)]
    folds = actor_folds(actors, 4)
    assert sorted(a for fold in folds for a in fold) == actors
    assert sorted(len(fold) for fold in folds) == [4, 4, 4, 5]
    assert actor_folds(list(reversed(actors)), 4) == folds  # depends on the set, not its order


def test_targets_mix_the_performed_label_with_the_normalised_ratings(tmp_path):
    posed = load_posed(write_posed(tmp_path))
    rows = np.arange(10)
    targets = posed_targets(posed, rows, label_weight=0.7)
    np.testing.assert_allclose(targets.sum(axis=1), 1.0, rtol=1e-5)
    assert (targets.argmax(axis=1) == posed.emotion[rows]).all()
    assert (targets[np.arange(10), posed.emotion[rows]] >= 0.7).all()
    only_votes = posed_targets(posed, rows, label_weight=0.0)
    np.testing.assert_allclose(only_votes, posed.votes[rows] / posed.votes[rows].sum(1, keepdims=True), rtol=1e-5)


def test_balanced_sampling_gives_every_class_the_same_share():
    labels = np.array([0] * 90 + [1] * 9 + [6] * 1)
    weights = balanced_weights(labels)
    assert weights.sum() == pytest.approx(1.0)
    for label in (0, 1, 6):
        assert weights[labels == label].sum() == pytest.approx(1 / 3)


def test_balanced_accuracy_is_the_mean_recall_of_the_classes_present():
    truth = np.array([0, 0, 0, 0, 1, 1])
    predicted = np.array([0, 0, 0, 0, 6, 1])
    report = balanced_report(predicted, truth)
    assert report["recall"] == {"angry": 1.0, "disgust": 0.5}
    assert report["balanced_accuracy"] == pytest.approx(0.75)
    assert report["accuracy"] == pytest.approx(5 / 6) and report["rows"] == 6
