"""Expression model: ``models/emotion.tflite`` plus the JSON contract beside it, checked at load.

Anything wrong with the model (missing, unreadable, not a TFLite file, not the file whose sha256 the JSON records
under ``tflite_sha256``, labels not the ones ``labels_sha256`` binds to that file, input/output not what the JSON
says) raises :class:`ModelError` naming the file and the
mismatch, so the daemon refuses to start instead of running with a model that cannot work::

    model = ExpressionModel("models/emotion.tflite")
    probabilities = model.predict(crop)     # float32, one per model.labels
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from moodbox.names import EXPRESSIONS
from moodbox.errors import MoodboxError
from moodbox.litert import load_interpreter
from moodbox.perception.crop import BORDERS, DENOISE_FILTERS, INTERPOLATIONS

INPUT_DTYPES = {"int8": np.int8, "uint8": np.uint8, "float32": np.float32}
MAX_CONTRACT_BYTES = 4 * 1024 * 1024  # the shipped one, metrics included, is about 20 KB


class ModelError(MoodboxError):
    """The expression model or its JSON is missing, unreadable, or does not match the other."""


def _read_contract(path: Path) -> dict:
    if not path.is_file():
        raise ModelError(f"{path}: model description not found (it lies beside the .tflite, same name, .json)")
    try:
        with path.open("rb") as f:
            data = f.read(MAX_CONTRACT_BYTES + 1)
        if len(data) > MAX_CONTRACT_BYTES:
            raise ModelError(f"{path}: larger than {MAX_CONTRACT_BYTES // 1024 // 1024} MiB: not a model description")
        contract = json.loads(data.decode("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(f"{path}: not readable JSON ({exc})") from exc
    except RecursionError:
        raise ModelError(f"{path}: not readable JSON (nested too deeply)") from None
    if not isinstance(contract, dict):
        raise ModelError(f"{path}: expected a JSON object at the top level")
    for key in ("labels", "input", "face_crop"):
        if not isinstance(contract.get(key), (list if key == "labels" else dict)):
            raise ModelError(f"{path}: key '{key}' is missing or has the wrong type")
    digest = contract.get("tflite_sha256")
    if not (isinstance(digest, str) and len(digest) == 64 and all(c in "0123456789abcdef" for c in digest)):
        raise ModelError(f"{path}: key 'tflite_sha256' (the sha256 of the .tflite beside it, in lower-case hex) is "
                         f"missing or malformed: regenerate the JSON with the model (training evaluate)")
    bound = contract.get("labels_sha256")
    if not (isinstance(bound, str) and len(bound) == 64 and all(c in "0123456789abcdef" for c in bound)):
        raise ModelError(f"{path}: key 'labels_sha256' (the sha256 of the .tflite's bytes followed by the labels "
                         "joined by newlines, in lower-case hex) is missing or malformed, so the labels cannot be "
                         "shown to belong to the model file: regenerate the JSON with the model (training evaluate)")
    labels = contract["labels"]
    if sorted(label for label in labels if isinstance(label, str)) != sorted(EXPRESSIONS):
        raise ModelError(f"{path}: 'labels' must name each of {', '.join(sorted(EXPRESSIONS))} once, got {labels}")
    spec = contract["input"]
    for key in ("height", "width"):
        if not (isinstance(spec.get(key), int) and spec[key] > 0):
            raise ModelError(f"{path}: 'input.{key}' must be a positive integer, got {spec.get(key)!r}")
    expected = {"channels": 1, "layout": "NHWC", "pixel_range": [0, 255]}
    for key, value in expected.items():
        if spec.get(key) != value:
            raise ModelError(f"{path}: 'input.{key}' is {spec.get(key)!r}; the device supports {value!r}")
    if spec.get("dtype") not in INPUT_DTYPES:
        raise ModelError(f"{path}: 'input.dtype' is {spec.get('dtype')!r}, expected one of {sorted(INPUT_DTYPES)}")
    crop = contract["face_crop"]
    if not (isinstance(crop.get("scale"), (int, float)) and crop["scale"] > 0):
        raise ModelError(f"{path}: 'face_crop.scale' must be a positive number, got {crop.get('scale')!r}")
    if not isinstance(crop.get("center_shift_y", 0.0), (int, float)):
        raise ModelError(f"{path}: 'face_crop.center_shift_y' must be a number, got {crop['center_shift_y']!r}")
    optional = {"enlarge_interpolation": crop.get("interpolation")}
    for key, choices in (("interpolation", INTERPOLATIONS), ("enlarge_interpolation", INTERPOLATIONS),
                         ("border", BORDERS)):
        if crop.get(key, optional.get(key)) not in choices:
            raise ModelError(f"{path}: 'face_crop.{key}' is {crop.get(key)!r}, expected one of {sorted(choices)}")
    for key in ("square", "mirror_average", "align_eyes"):
        if not isinstance(crop.get(key, False), bool):
            raise ModelError(f"{path}: 'face_crop.{key}' must be true or false")
    for key in ("align_min_deg", "align_min_px"):
        if not (isinstance(crop.get(key, 0), (int, float)) and crop.get(key, 0) >= 0):
            raise ModelError(f"{path}: 'face_crop.{key}' must be a number >= 0, got {crop[key]!r}")
    _check_denoise(path, crop.get("denoise"))
    return contract


def _check_denoise(path, denoise) -> None:
    if denoise is None:
        return
    if not isinstance(denoise, dict) or denoise.get("filter") not in DENOISE_FILTERS:
        raise ModelError(f"{path}: 'face_crop.denoise' must be null or an object whose 'filter' is one of "
                         f"{list(DENOISE_FILTERS)}, got {denoise!r}")
    diameter = denoise.get("diameter")
    if not (isinstance(diameter, int) and not isinstance(diameter, bool) and 1 <= diameter <= 15):
        raise ModelError(f"{path}: 'face_crop.denoise.diameter' must be a whole number of pixels from 1 "
                         f"to 15, got {diameter!r}")
    for key in ("sigma_color", "sigma_space", "min_noise"):
        value = denoise.get(key)
        if not (isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value <= 255
                and (value > 0 or key == "min_noise")):
            raise ModelError(f"{path}: 'face_crop.denoise.{key}' must be a number up to 255 (above 0, or 0 for "
                             f"min_noise: always smooth), got {value!r}")


def model_confusion(json_path) -> tuple[tuple[str, ...], tuple[tuple[float, ...], ...]] | None:
    """The labels and the int8 model's confusion matrix on FER+ test faces (rows: true expression, columns: read
    as) that the model's JSON records under ``metrics``; None when it records none or cannot be read (a model
    trained elsewhere: nothing is known of its mistakes)."""
    try:
        contract = json.loads(Path(json_path).read_text(encoding="utf-8"))
        labels, matrix = tuple(contract["labels"]), contract["metrics"]["int8"]["ferplus"]["confusion"]
        matrix = tuple(tuple(float(value) for value in row) for row in matrix)
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError):
        return None
    if len(matrix) != len(labels) or any(len(row) != len(labels) for row in matrix) \
            or not all(isinstance(label, str) for label in labels):
        return None
    return labels, matrix


def likely_misreads(labels, matrix) -> dict[str, str]:
    """For each expression the model reads, the true expression most often behind that reading besides itself
    (``matrix`` as :func:`model_confusion` gives it); none for a reading with no other expression behind it.

    >>> likely_misreads(("sad", "neutral", "happy"), ((80, 20, 0), (30, 60, 10), (0, 5, 95)))
    {'sad': 'neutral', 'neutral': 'sad', 'happy': 'neutral'}
    """
    misreads = {}
    for column, reading in enumerate(labels):
        behind = max((row for row in range(len(labels)) if row != column), key=lambda row: matrix[row][column],
                     default=None)
        if behind is not None and matrix[behind][column] > 0:
            misreads[reading] = labels[behind]
    return misreads


class ExpressionModel:
    """A face crop in, one probability per label out (in ``labels`` order).

    ``allow_float`` accepts a float32 input tensor (the float build used by the benchmark) where the JSON
    declares an integer one; integer tensors are quantised with the tensor's own scale and zero point.
    """

    def __init__(self, tflite_path, json_path=None, *, threads=1, allow_float=False):
        self.path = Path(tflite_path)
        self.json_path = Path(json_path) if json_path else self.path.with_suffix(".json")
        if not self.path.is_file():
            raise ModelError(f"{self.path}: model file not found")
        contract = _read_contract(self.json_path)
        if not allow_float:  # the float build is the benchmark's, described by the int8 model's JSON
            self._check_digest(contract["tflite_sha256"], contract["labels_sha256"], contract["labels"])
        self.labels: tuple[str, ...] = tuple(contract["labels"])
        self.input_size: tuple[int, int] = (contract["input"]["height"], contract["input"]["width"])
        self.face_crop: dict = contract["face_crop"]
        try:
            self._interpreter = load_interpreter(self.path, threads)
        except (ValueError, RuntimeError) as exc:
            raise ModelError(f"{self.path}: not a loadable TFLite model ({exc})") from exc
        self._input = self._check_input(contract["input"]["dtype"], allow_float)
        self._output = self._check_output()

    @classmethod
    def from_config(cls, config) -> ExpressionModel:
        """The model of ``config.model``; a ModelError also names the config key to fix."""
        try:
            return cls(config.model.path, threads=config.model.threads)
        except ModelError as err:
            raise ModelError(f"{err} (config key model.path in {config.source_path or 'the config'})") from err

    def _check_digest(self, expected: str, labels_expected: str, labels: list[str]) -> None:
        """A damaged model file often still loads and predicts, wrongly: refuse any file the JSON does not name.

        Swapped labels in the JSON still name all seven words, so ``labels_sha256`` (over the model file's bytes,
        then the labels joined by newlines) ties their order to the model file.
        """
        try:
            digest = hashlib.sha256(self.path.read_bytes())
        except OSError as exc:
            raise ModelError(f"{self.path}: cannot read the model file ({exc.strerror})") from exc
        actual = digest.hexdigest()
        if actual != expected:
            raise ModelError(f"{self.path}: sha256 {actual} does not match 'tflite_sha256' {expected} in "
                             f"{self.json_path}: the model file is damaged or the two files are from different "
                             "builds (install both from the same one)")
        digest.update("\n".join(labels).encode("utf-8"))
        if digest.hexdigest() != labels_expected:
            raise ModelError(f"{self.json_path}: the labels {labels} do not belong to the model file {self.path} "
                             "('labels_sha256' does not match): the labels were edited or reordered; install the "
                             "JSON that came with the model")

    def _check_input(self, declared_dtype: str, allow_float: bool) -> dict:
        inputs = self._interpreter.get_input_details()
        if len(inputs) != 1:
            raise ModelError(f"{self.path}: has {len(inputs)} input tensors, expected 1")
        tensor = inputs[0]
        shape = [1, *self.input_size, 1]
        if tensor["shape"].tolist() != shape:
            raise ModelError(f"{self.path}: input tensor shape {tensor['shape'].tolist()} but {self.json_path} "
                             f"declares {shape}")
        dtype = np.dtype(tensor["dtype"])
        if dtype != INPUT_DTYPES[declared_dtype] and not (allow_float and dtype == np.float32):
            raise ModelError(f"{self.path}: input tensor is {dtype} but {self.json_path} declares {declared_dtype}")
        self._check_quantised(tensor, "input")
        return tensor

    def _check_output(self) -> dict:
        outputs = self._interpreter.get_output_details()
        if len(outputs) != 1 or outputs[0]["shape"].tolist() != [1, len(self.labels)]:
            shapes = [tensor["shape"].tolist() for tensor in outputs]
            raise ModelError(f"{self.path}: output tensors {shapes}, but {self.json_path} lists {len(self.labels)} "
                             f"labels, so expected one tensor [1, {len(self.labels)}]")
        self._check_quantised(outputs[0], "output")
        return outputs[0]

    def _check_quantised(self, tensor: dict, role: str) -> None:
        dtype = np.dtype(tensor["dtype"])
        if dtype.kind in "iu" and not tensor["quantization"][0]:
            raise ModelError(f"{self.path}: {role} tensor is {dtype} without quantisation parameters")
        if dtype.kind not in "iuf":
            raise ModelError(f"{self.path}: {role} tensor type {dtype} is not supported")

    def _run(self, crop: np.ndarray) -> np.ndarray:
        values = crop.astype(np.float32)[None, :, :, None]
        dtype = np.dtype(self._input["dtype"])
        if dtype.kind in "iu":
            scale, zero_point = self._input["quantization"]
            info = np.iinfo(dtype)
            values = np.clip(np.round(values / scale + zero_point), info.min, info.max)
        self._interpreter.set_tensor(self._input["index"], values.astype(dtype))
        self._interpreter.invoke()
        scores = self._interpreter.get_tensor(self._output["index"])[0].astype(np.float32)
        if np.dtype(self._output["dtype"]).kind in "iu":
            scale, zero_point = self._output["quantization"]
            scores = (scores - zero_point) * scale
        return scores

    def predict(self, crop: np.ndarray) -> np.ndarray:
        """Probabilities (float32, ``len(labels)``) for a gray crop of ``input_size`` with pixel values 0-255."""
        if crop.shape != self.input_size:
            raise ValueError(f"crop is {crop.shape}, the model takes {self.input_size} (height, width)")
        scores = self._run(crop)
        if self.face_crop.get("mirror_average", False):
            scores = (scores + self._run(crop[:, ::-1])) / 2
        return scores
