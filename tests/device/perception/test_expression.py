"""The expression model: the real models/emotion.tflite on real FER2013 test faces, and every way to refuse one."""

from __future__ import annotations

import hashlib
import json
import shutil

import numpy as np
import pytest

from moodbox.names import EXPRESSIONS as LABELS
from moodbox.perception.expression import ExpressionModel, ModelError, likely_misreads, model_confusion
from moodbox.devkit.scripted import load_script_faces


@pytest.fixture(scope="module")
def shipped(model_path):
    if not model_path.is_file():
        pytest.skip(f"{model_path} is absent: train one with training/ (moodbox-train pipeline)")
    return model_path


@pytest.fixture(scope="module")
def model(shipped):
    return ExpressionModel(shipped)


@pytest.fixture
def copy(shipped, tmp_path):
    """A private copy of the model and its JSON, for breaking one of them."""
    tflite, described = tmp_path / "emotion.tflite", tmp_path / "emotion.json"
    shutil.copy(shipped, tflite)
    shutil.copy(shipped.with_suffix(".json"), described)
    return tflite, described


def rewrite_json(path, change):
    contract = json.loads(path.read_text())
    change(contract)
    path.write_text(json.dumps(contract))


def test_the_models_recorded_mistakes_name_the_mood_behind_each_misreading(copy):
    """The policy's stand-in moods come from the confusion matrix in the model's JSON: each reading names another
    mood, the one most often behind it on the test faces; a JSON that records none gives none."""
    _, described = copy
    labels, matrix = model_confusion(described)
    assert sorted(labels) == sorted(LABELS) and len(matrix) == len(labels)
    misreads = likely_misreads(labels, matrix)
    assert set(misreads) == set(LABELS) and all(misreads[reading] != reading for reading in misreads)
    column = labels.index("sad")
    assert misreads["sad"] == labels[max((row for row in range(len(labels)) if row != column),
                                         key=lambda row: matrix[row][column])]
    def spoil(contract):
        contract["metrics"]["int8"]["ferplus"]["confusion"][0][0] = "many"

    rewrite_json(described, spoil)
    assert model_confusion(described) is None
    rewrite_json(described, lambda contract: contract.pop("metrics"))
    assert model_confusion(described) is None
    described.write_text("{not json")
    assert model_confusion(described) is None


@pytest.fixture(scope="module")
def test_faces(data_dir):
    """20 FER2013 PrivateTest faces per label (FER2013 and FER+ agree on them), with their label index."""
    by_label = load_script_faces(data_dir)
    crops, labels = [], []
    for index, label in enumerate(LABELS):
        crops += list(by_label[label][:20])
        labels += [index] * len(by_label[label][:20])
    return np.array(crops), np.array(labels)


def test_loads_the_contract(model):
    assert model.labels == LABELS
    assert model.input_size == (48, 48)
    assert model.face_crop["scale"] > 0 and model.face_crop["interpolation"] == "area"


def test_predicts_probabilities(model):
    crop = np.full((48, 48), 128, np.uint8)
    probabilities = model.predict(crop)
    assert probabilities.dtype == np.float32 and probabilities.shape == (7,)
    assert probabilities.min() >= 0 and probabilities.sum() == pytest.approx(1, abs=0.03)


def test_recognises_test_faces_better_than_chance(model, test_faces):
    crops, labels = test_faces
    predicted = np.array([np.argmax(model.predict(crop)) for crop in crops])
    assert (predicted == labels).mean() > 2 / len(LABELS)


def test_int8_agrees_with_the_float_build(model, shipped, test_faces):
    """Quantising the input or dequantising the output wrongly would break this agreement."""
    float_path = shipped.with_name("emotion_float.tflite")
    if not float_path.is_file():
        pytest.skip(f"{float_path} is absent")
    float_model = ExpressionModel(float_path, shipped.with_suffix(".json"), allow_float=True)
    crops, _ = test_faces
    int8 = np.array([model.predict(crop) for crop in crops])
    floats = np.array([float_model.predict(crop) for crop in crops])
    assert (int8.argmax(axis=1) == floats.argmax(axis=1)).mean() >= 0.9
    assert np.abs(int8 - floats).mean() < 0.05


def test_float_build_needs_allow_float(shipped):
    float_path = shipped.with_name("emotion_float.tflite")
    if not float_path.is_file():
        pytest.skip(f"{float_path} is absent")
    with pytest.raises(ModelError, match=r"emotion_float.tflite: sha256 [0-9a-f]{64} does not match"):
        ExpressionModel(float_path, shipped.with_suffix(".json"))


def test_mirror_average_averages_with_the_mirrored_crop(model, copy, test_faces):
    tflite, described = copy
    rewrite_json(described, lambda c: c["face_crop"].update(mirror_average=True))
    mirrored = ExpressionModel(tflite)
    crop = test_faces[0][3]
    expected = (model.predict(crop) + model.predict(crop[:, ::-1])) / 2
    assert mirrored.predict(crop) == pytest.approx(expected, abs=1e-6)


def test_wrong_crop_size_is_refused(model):
    with pytest.raises(ValueError, match=r"\(64, 64\).*\(48, 48\)"):
        model.predict(np.zeros((64, 64), np.uint8))


def test_missing_model_names_the_file(copy):
    tflite, _ = copy
    tflite.unlink()
    with pytest.raises(ModelError, match=f"{tflite}: model file not found"):
        ExpressionModel(tflite)


def test_missing_json_names_the_file(copy):
    tflite, described = copy
    described.unlink()
    with pytest.raises(ModelError, match=f"{described}: model description not found"):
        ExpressionModel(tflite)


def test_corrupt_model_names_the_file(copy):
    """Even with a JSON that names it (a broken build), a file that is no TFLite model is refused."""
    tflite, described = copy
    tflite.write_bytes(np.random.default_rng(0).bytes(4096))
    data = tflite.read_bytes()

    def name_it(contract):
        contract["tflite_sha256"] = hashlib.sha256(data).hexdigest()
        contract["labels_sha256"] = hashlib.sha256(data + "\n".join(contract["labels"]).encode()).hexdigest()

    rewrite_json(described, name_it)
    with pytest.raises(ModelError, match=f"{tflite}: not a loadable TFLite model"):
        ExpressionModel(tflite)


def test_truncated_model_names_the_file(copy):
    tflite, _ = copy
    tflite.write_bytes(tflite.read_bytes()[:1000])
    with pytest.raises(ModelError, match=str(tflite)):
        ExpressionModel(tflite)


def test_corrupt_json_names_the_file(copy):
    tflite, described = copy
    described.write_text('{"labels": [')
    with pytest.raises(ModelError, match=f"{described}: not readable JSON"):
        ExpressionModel(tflite)


def test_input_size_mismatch_names_both_files(copy):
    tflite, described = copy
    rewrite_json(described, lambda c: c["input"].update(height=64, width=64))
    with pytest.raises(ModelError, match=rf"{tflite}: input tensor shape \[1, 48, 48, 1\] but {described} "
                                         r"declares \[1, 64, 64, 1\]"):
        ExpressionModel(tflite)


def test_unknown_labels_are_refused(copy):
    tflite, described = copy
    rewrite_json(described, lambda c: c.update(labels=["angry", "disgust", "fear", "joy", "sad", "surprise",
                                                       "neutral"]))
    with pytest.raises(ModelError, match=f"{described}: 'labels' must name each of.*'joy'"):
        ExpressionModel(tflite)


def test_label_count_must_match_the_output(copy):
    tflite, described = copy
    rewrite_json(described, lambda c: c.update(labels=c["labels"][:6]))
    with pytest.raises(ModelError, match="'labels'"):
        ExpressionModel(tflite)


BILATERAL = {"filter": "bilateral", "diameter": 5, "sigma_color": 20, "sigma_space": 1.5, "min_noise": 6.0}


@pytest.mark.parametrize("key, change, message", [
    ("face_crop", lambda c: c.pop("face_crop"), "key 'face_crop' is missing"),
    ("input", lambda c: c["input"].update(channels=3), r"'input.channels' is 3"),
    ("input", lambda c: c["input"].update(dtype="int4"), r"'input.dtype' is 'int4'"),
    ("face_crop", lambda c: c["face_crop"].update(interpolation="lanczos"), r"'face_crop.interpolation'"),
    ("face_crop", lambda c: c["face_crop"].update(enlarge_interpolation="sharp"),
     r"'face_crop.enlarge_interpolation'"),
    ("face_crop", lambda c: c["face_crop"].update(scale=-1), r"'face_crop.scale' must be a positive number"),
    ("face_crop", lambda c: c["face_crop"].update(align_eyes="yes"), r"'face_crop.align_eyes' must be true or false"),
    ("face_crop", lambda c: c["face_crop"].update(align_min_deg=-5), r"'face_crop.align_min_deg' must be a number"),
    ("face_crop", lambda c: c["face_crop"].update(denoise={"filter": "median"}),
     r"'face_crop.denoise' must be null"),
    ("face_crop", lambda c: c["face_crop"].update(denoise=dict(BILATERAL, diameter=5.0)),
     r"'face_crop.denoise.diameter'"),
    ("face_crop", lambda c: c["face_crop"].update(denoise=dict(BILATERAL, sigma_color=0)),
     r"'face_crop.denoise.sigma_color'"),
    ("face_crop", lambda c: c["face_crop"].update(denoise={k: v for k, v in BILATERAL.items() if k != "min_noise"}),
     r"'face_crop.denoise.min_noise'"),
])
def test_contract_errors_name_the_key(copy, key, change, message):
    tflite, described = copy
    rewrite_json(described, change)
    with pytest.raises(ModelError, match=f"{described}: .*{message}"):
        ExpressionModel(tflite)


@pytest.mark.parametrize("flips", [1, 4])
def test_a_model_with_flipped_bits_is_refused_naming_both_files(copy, flips):
    """Defect 11: 48 of 60 models with 4 random bit flips loaded, and 32 of them predicted differently."""
    tflite, described = copy
    data = bytearray(tflite.read_bytes())
    rng = np.random.default_rng(flips)
    for position in rng.choice(len(data) * 8, size=flips, replace=False):
        data[position // 8] ^= 1 << (position % 8)
    tflite.write_bytes(bytes(data))
    with pytest.raises(ModelError, match=rf"{tflite}: sha256 [0-9a-f]{{64}} does not match 'tflite_sha256' "
                                         rf"[0-9a-f]{{64}} in {described}"):
        ExpressionModel(tflite)


@pytest.mark.parametrize("digest", [None, "", "ABC", "g" * 64])
def test_a_json_without_a_good_digest_is_refused(copy, digest):
    tflite, described = copy
    rewrite_json(described, lambda c: c.pop("tflite_sha256") if digest is None else c.update(tflite_sha256=digest))
    with pytest.raises(ModelError, match=f"{described}: key 'tflite_sha256'"):
        ExpressionModel(tflite)


@pytest.mark.parametrize("first, second", [(0, 1), (3, 6)])
def test_a_json_with_two_labels_swapped_is_refused_naming_it(copy, first, second):
    """Defect 11: swapped labels still name all seven words; labels_sha256 ties their order to the model file."""
    tflite, described = copy

    def swap(contract):
        labels = contract["labels"]
        labels[first], labels[second] = labels[second], labels[first]

    rewrite_json(described, swap)
    with pytest.raises(ModelError, match=rf"{described}: the labels .* do not belong to the model file {tflite}"):
        ExpressionModel(tflite)


@pytest.mark.parametrize("digest", [None, "", "g" * 64])
def test_a_json_without_a_good_labels_digest_is_refused(copy, digest):
    tflite, described = copy
    rewrite_json(described, lambda c: c.pop("labels_sha256") if digest is None else c.update(labels_sha256=digest))
    with pytest.raises(ModelError, match=f"{described}: key 'labels_sha256' .* cannot be shown to belong"):
        ExpressionModel(tflite)


def test_the_shipped_json_records_the_shipped_model(shipped):
    contract = json.loads(shipped.with_suffix(".json").read_text())
    assert contract["tflite_sha256"] == hashlib.sha256(shipped.read_bytes()).hexdigest()
    labels = "\n".join(contract["labels"]).encode()
    assert contract["labels_sha256"] == hashlib.sha256(shipped.read_bytes() + labels).hexdigest()


@pytest.mark.parametrize("labels", [
    ["angry", "angry", "fear", "happy", "sad", "surprise", "neutral"],
    ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral", "neutral"],
    ["angry", "disgust", "fear", "happy", "sad", "surprise", 7],
])
def test_labels_must_be_a_permutation_of_the_seven_expressions(copy, labels):
    tflite, described = copy
    rewrite_json(described, lambda c: c.update(labels=labels))
    with pytest.raises(ModelError, match=f"{described}: 'labels' must name each of"):
        ExpressionModel(tflite)


@pytest.mark.parametrize("text, message", [
    ("[" * 5000 + "]" * 5000, r"not readable JSON \(nested too deeply\)"),
    ('{"labels": "' + "x" * (5 * 1024 * 1024) + '"}', "larger than 4 MiB"),
])
def test_a_json_nested_too_deep_or_too_big_is_a_model_error(copy, text, message):
    """Defect 15: an emotion.json nested 1,000+ deep was a traceback and exit 1 instead of exit 3."""
    tflite, described = copy
    described.write_text(text)
    with pytest.raises(ModelError, match=f"{described}: {message}"):
        ExpressionModel(tflite)
