"""Full-integer int8 conversion with a representative set from the training split."""

from __future__ import annotations

import contextlib
import io
import logging
from pathlib import Path

import numpy as np

from .data import FerData
from .export import sees_mirror_image
from .runtime import TfliteClassifier
from .scoring import choose_mirror_average

log = logging.getLogger(__name__)

MIN_AGREEMENT = 0.985


class ConversionError(Exception):
    """The int8 model disagrees with the float model too often to ship."""


def representative_images(data: FerData, count: int, seed: int) -> np.ndarray:
    rows = np.random.default_rng(seed).choice(data.split("train"), size=count, replace=False)
    return data.pixels[rows].astype(np.float32)[..., None]


def _run(converter) -> bytes:
    """Converts without the SavedModel signature dump that Keras 3 prints to stdout on the way."""
    with contextlib.redirect_stdout(io.StringIO()):
        return converter.convert()


def to_int8_tflite(keras_model, calibration: np.ndarray) -> bytes:
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_keras_model(keras_model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: ([image[None]] for image in calibration)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    return _run(converter)


def float_model_path(int8_path: Path) -> Path:
    """The float32 build of the same network, shipped beside the int8 one for agreement and baselines."""
    return int8_path.with_name(int8_path.stem + "_float.tflite")


def to_float_tflite(keras_model) -> bytes:
    import tensorflow as tf

    return _run(tf.lite.TFLiteConverter.from_keras_model(keras_model))


def _write_atomically(path: Path, content: bytes) -> None:
    partial = path.with_name(path.name + ".partial")
    partial.write_bytes(content)
    partial.replace(path)


def float_predictions(keras_model, images: np.ndarray, mirror_average: bool) -> np.ndarray:
    scores = keras_model.predict(images.astype(np.float32)[..., None], batch_size=256, verbose=0)
    if mirror_average:
        scores = (scores + float_predictions(keras_model, images[:, :, ::-1], mirror_average=False)) / 2
    return scores


def convert(keras_path: Path, out_path: Path, data: FerData, calibration_count: int = 1000,
            seed: int = 1234, min_agreement: float = MIN_AGREEMENT) -> float:
    """Convert, check int8/float top-1 agreement on PublicTest, and only then write ``out_path``.

    Agreement is measured as the device scores a face: mirror-averaged when that helps the int8 model on
    PublicTest (the same choice ``evaluate`` records in the JSON), else one pass.

    The float32 build of the same network goes beside it (``emotion_float.tflite``): evaluation measures
    int8/float agreement on PrivateTest with it, and the device benchmark uses it as the float baseline.
    Returns the agreement. Raises ConversionError (and writes nothing) when it is below ``min_agreement``
    (98.5% unless a smoke run lowers it).
    """
    import keras

    keras_model = keras.models.load_model(keras_path)
    calibration = representative_images(data, calibration_count, seed)
    log.info("converting %s with %d calibration images", keras_path, len(calibration))
    flatbuffer = to_int8_tflite(keras_model, calibration)

    out_path.parent.mkdir(parents=True, exist_ok=True)
    candidate = out_path.with_name(out_path.name + ".partial")
    candidate.write_bytes(flatbuffer)
    public = data.split("public")
    int8_model = TfliteClassifier(candidate)
    mirror_average = choose_mirror_average(int8_model, data, sees_mirror_image(keras_path.parent))["mirror_average"]
    int8_top1 = int8_model.predict(data.pixels[public], mirror_average).argmax(axis=1)
    float_top1 = float_predictions(keras_model, data.pixels[public], mirror_average).argmax(axis=1)
    agreement = float((int8_top1 == float_top1).mean())
    log.info("int8 vs float top-1 agreement on PublicTest (%s): %.4f",
             "mirror-averaged" if mirror_average else "one pass", agreement)
    if agreement < min_agreement:
        candidate.unlink()
        raise ConversionError(
            f"int8 model agrees with the float model on only {agreement:.2%} of PublicTest "
            f"(need {min_agreement:.1%}); not writing {out_path}")
    _write_atomically(float_model_path(out_path), to_float_tflite(keras_model))
    candidate.replace(out_path)
    return agreement
