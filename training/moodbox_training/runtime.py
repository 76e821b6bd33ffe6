"""The LiteRT interpreter the device uses, for evaluating and timing converted models."""

from __future__ import annotations

import time

import numpy as np

try:
    from ai_edge_litert.interpreter import Interpreter
except ImportError:  # the frozen predecessor, same API
    from tflite_runtime.interpreter import Interpreter


class TfliteClassifier:
    """Runs a .tflite classifier on batches of images, quantising input and output as the file declares."""

    def __init__(self, path, threads: int = 1):
        self.interpreter = Interpreter(model_path=str(path), num_threads=threads)
        self.interpreter.allocate_tensors()
        self.input = self.interpreter.get_input_details()[0]
        self.output = self.interpreter.get_output_details()[0]

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(int(d) for d in self.input["shape"])

    def _quantise(self, image: np.ndarray) -> np.ndarray:
        scale, zero_point = self.input["quantization"]
        if scale:
            info = np.iinfo(self.input["dtype"])
            image = np.clip(np.round(image / scale + zero_point), info.min, info.max)
        return image.astype(self.input["dtype"]).reshape(self.input_shape)

    def _dequantise(self, scores: np.ndarray) -> np.ndarray:
        scale, zero_point = self.output["quantization"]
        if scale:
            return (scores.astype(np.float32) - zero_point) * scale
        return scores.astype(np.float32)

    def predict_one(self, image: np.ndarray) -> np.ndarray:
        self.interpreter.set_tensor(self.input["index"], self._quantise(image.astype(np.float32)))
        self.interpreter.invoke()
        return self._dequantise(self.interpreter.get_tensor(self.output["index"])[0])

    def predict(self, images: np.ndarray, mirror_average: bool = False) -> np.ndarray:
        """Scores per image; with ``mirror_average`` the mean over the image and its mirror image."""
        scores = np.stack([self.predict_one(image) for image in images])
        if mirror_average:
            scores = (scores + np.stack([self.predict_one(image[:, ::-1]) for image in images])) / 2
        return scores

    def median_latency_ms(self, image: np.ndarray, runs: int = 500) -> float:
        """Median wall time of ``invoke()`` alone over ``runs`` calls, after a warm-up."""
        self.interpreter.set_tensor(self.input["index"], self._quantise(image.astype(np.float32)))
        for _ in range(20):
            self.interpreter.invoke()
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            self.interpreter.invoke()
            times.append(time.perf_counter() - start)
        return float(np.median(times) * 1000)
