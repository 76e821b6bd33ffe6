"""Dataset loading refuses missing, corrupt and mismatched arrays with a message naming the file."""

import numpy as np
import pytest

from moodbox_training import data


def _write(folder, rows=data.ROWS, pixels_dtype=np.uint8, ferplus_usage=None):
    usage = np.zeros(rows, np.uint8)
    np.savez(folder / data.FER_FILE, pixels=np.zeros((rows, 48, 48), pixels_dtype),
             emotion=np.zeros(rows, np.uint8), usage=usage)
    np.savez(folder / data.FERPLUS_FILE, votes=np.zeros((rows, 10), np.uint8),
             usage=usage if ferplus_usage is None else ferplus_usage)


def test_missing_folder_names_the_file_and_how_to_get_it(tmp_path):
    with pytest.raises(data.DatasetError) as error:
        data.load(tmp_path / "nowhere")
    message = str(error.value)
    assert str(tmp_path / "nowhere" / data.FER_FILE) in message
    assert "Kaggle" in message and "FERPlus" in message


def test_corrupt_file_is_named(tmp_path):
    _write(tmp_path)
    (tmp_path / data.FER_FILE).write_bytes(b"not a zip")
    with pytest.raises(data.DatasetError, match=f"{data.FER_FILE} is not a readable .npz"):
        data.load(tmp_path)


@pytest.mark.parametrize("kwargs, expected", [
    ({"rows": 100}, r"'pixels' is uint8 \(100, 48, 48\), expected uint8 \(35887, 48, 48\)"),
    ({"pixels_dtype": np.float32}, r"'pixels' is float32"),
    ({"ferplus_usage": np.ones(data.ROWS, np.uint8)}, "not row-aligned"),
])
def test_mismatched_arrays_are_refused(tmp_path, kwargs, expected):
    _write(tmp_path, **kwargs)
    with pytest.raises(data.DatasetError, match=expected):
        data.load(tmp_path)


def test_ferplus_majority_keeps_the_rows_the_issue_counts(data_dir):
    fer = data.load(data_dir)
    private = fer.split("private")
    assert len(private) == 3589
    assert int((fer.ferplus_majority[private] >= 0).sum()) == 3372


def test_a_splits_ferplus_faces_are_those_with_a_majority_label(data_dir):
    fer = data.load(data_dir)
    faces, truth = fer.ferplus_faces("private")
    rows = fer.split("private")
    assert faces.shape == (3372, 48, 48) and truth.min() >= 0
    assert np.array_equal(faces, fer.pixels[rows][fer.ferplus_majority[rows] >= 0])


def test_soft_targets_are_distributions(data_dir):
    fer = data.load(data_dir)
    rows = fer.split("train")[:1000]
    targets = data.soft_targets(fer, rows, ferplus_weight=0.5)
    assert targets.shape == (1000, len(data.LABELS))
    np.testing.assert_allclose(targets.sum(axis=1), 1.0, rtol=1e-6)
    assert (targets >= 0).all()
