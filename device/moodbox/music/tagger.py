"""The music-mood tagger: audio file -> valence and arousal in -1..1 and a Russell quadrant.

Two model files in ``models/music/``: ``musicnn_msd.tflite`` (MusiCNN with its Million Song Dataset weights, one
3 s log-mel patch in, 50 tag probabilities and a 200-d embedding out) and ``mood.json`` (the contract: front-end
parameters, output names, and the mood head: the embedding and tag probabilities pooled over the patches (mean, or
mean and standard deviation), standardised, and one or more classifiers whose probabilities are averaged).
Valence is P(Q1) + P(Q4) - P(Q2) - P(Q3) and arousal P(Q1) + P(Q2) - P(Q3) - P(Q4); the quadrant is the most
probable one. Audio that is not music (too short, silent, noise, NaN samples) never gets here: the front end
(:func:`moodbox.music.audio.read_segments`) names it with a :class:`moodbox.music.audio.NotAnalysable` outcome.

Numerical libraries run single-threaded in the analysing process (threadpoolctl): an idle OpenBLAS worker thread
otherwise spins beside the one-thread network.

Quadrants of Russell's circumplex: Q1 positive/energetic (happy), Q2 negative/energetic (angry, tense),
Q3 negative/calm (sad), Q4 positive/calm (relaxed, tender). With the shipped model::

    tagger = MusicTagger()
    mood = tagger.tag("song.flac")   # TrackMood(valence=0.41, arousal=0.62, quadrant='Q1', ...)
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from moodbox.music import audio
from moodbox.config import default_music_model_dir
from moodbox import litert
from moodbox.errors import MoodboxError
from moodbox.names import QUADRANTS

DEFAULT_MODEL_DIR = Path(default_music_model_dir())
TAG_COUNT, EMBEDDING_SIZE, POOL_SIZE = 50, 200, 1506
OUTPUT_WIDTHS = {"tags": TAG_COUNT, "embedding": EMBEDDING_SIZE, "pool": POOL_SIZE}


class MusicModelError(MoodboxError):
    """The music model files are missing or do not match; the message names the file."""


@dataclass(frozen=True)
class TrackMood:
    valence: float
    arousal: float
    quadrant: str
    probabilities: dict[str, float]
    tags: dict[str, float] = field(repr=False)
    patches: int

    def as_dict(self) -> dict:
        return {"valence": round(self.valence, 4), "arousal": round(self.arousal, 4), "quadrant": self.quadrant,
                "probabilities": {q: round(p, 4) for q, p in self.probabilities.items()}, "patches": self.patches}


def load_interpreter(path: Path, threads: int = 1):
    try:
        return litert.load_interpreter(path, threads)
    except (ValueError, RuntimeError) as err:
        raise MusicModelError(f"{path}: cannot load TFLite model: {err}") from None


def _single_threaded_numerics(threads: int) -> None:
    """Limit numpy's BLAS (and any OpenMP pool) to ``threads`` for this process; works after numpy's import."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=threads)


class MusicnnEmbedder:
    """Patches -> the network's outputs per patch; the part training shares with the box."""

    def __init__(self, model_path: Path, threads: int = 1):
        if not Path(model_path).is_file():
            raise MusicModelError(f"{model_path}: music model not found (build it with `moodbox-train music`)")
        self.interpreter = load_interpreter(Path(model_path), threads)
        (self._input,) = self.interpreter.get_input_details()
        expected = [1, audio.PATCH_FRAMES, audio.N_MELS]
        if list(self._input["shape"]) != expected:
            raise MusicModelError(f"{model_path}: input shape {list(self._input['shape'])}, expected {expected}")
        # converted graphs carry no output names: tell the outputs apart by their width
        widths = {int(detail["shape"][-1]): detail["index"] for detail in self.interpreter.get_output_details()}
        if not {TAG_COUNT, EMBEDDING_SIZE} <= set(widths) <= set(OUTPUT_WIDTHS.values()):
            raise MusicModelError(f"{model_path}: output widths {sorted(widths)}, expected {TAG_COUNT} tags, a "
                                  f"{EMBEDDING_SIZE}-d embedding and optionally the {POOL_SIZE}-d pooled features")
        self._outputs = {name: widths[width] for name, width in OUTPUT_WIDTHS.items() if width in widths}

    def per_patch(self, patches: np.ndarray) -> dict[str, np.ndarray]:
        """``{"tags": [n, 50], "embedding": [n, 200], "pool": [n, 1506]}`` (pool when the model has it), one row per
        patch."""
        rows: dict[str, list] = {name: [] for name in self._outputs}
        for patch in patches:
            self.interpreter.set_tensor(self._input["index"], patch[None].astype(np.float32))
            self.interpreter.invoke()
            for name, index in self._outputs.items():
                rows[name].append(self.interpreter.get_tensor(index)[0].copy())
        return {name: np.array(values) for name, values in rows.items()}


POOLINGS = {"mean": lambda x: x.mean(axis=0), "std": lambda x: x.std(axis=0)}


def head_features(outputs: dict[str, np.ndarray], pooling: tuple[str, ...] = ("mean",),
                  inputs: tuple[str, ...] = ("embedding", "tags")) -> np.ndarray:
    """The head's input from the per-patch outputs (:meth:`MusicnnEmbedder.per_patch`): per pooling in ``pooling``
    (the order ``mood.json`` declares), each of ``inputs`` pooled, in that order."""
    return np.concatenate([POOLINGS[name](outputs[part]) for name in pooling for part in inputs]).astype(np.float64)


def read_contract(model_dir: str | Path) -> dict:
    """``mood.json`` of ``model_dir``; a missing or unreadable one is a :class:`MusicModelError` naming it."""
    path = Path(model_dir) / "mood.json"
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise MusicModelError(f"{path}: music model contract not found (build it with `moodbox-train music`)") \
            from None
    except (OSError, ValueError) as err:
        raise MusicModelError(f"{path}: cannot read: {err}") from None


def load_floors(model_dir: str | Path) -> dict[str, float]:
    """The playlist confidence floors of the model, by set of quadrants (``"Q3+Q4"``: see ``mood.json``)."""
    return _floors(read_contract(model_dir))


def _floors(contract: dict) -> dict[str, float]:
    return {rule: float(floor) for rule, floor in contract.get("floors", {}).get("by_quadrants", {}).items()}


class MusicTagger:
    """Loads ``musicnn_msd.tflite`` and ``mood.json`` from ``model_dir``; :meth:`tag` analyses one file."""

    def __init__(self, model_dir: str | Path = DEFAULT_MODEL_DIR, threads: int = 1):
        model_dir = Path(model_dir)
        self.contract = read_contract(model_dir)
        self._check_contract(model_dir / "mood.json")
        _single_threaded_numerics(threads)
        self.embedder = MusicnnEmbedder(model_dir / self.contract["model"], threads)
        head = self.contract["head"]
        self.pooling = tuple(head.get("pooling", ["mean"]))
        self.inputs = tuple(head.get("inputs", ["embedding", "tags"]))
        self._mean, self._scale = np.asarray(head["mean"]), np.asarray(head["scale"])
        self._members = [([(np.asarray(layer["weight"]), np.asarray(layer["bias"])) for layer in member["layers"]],
                          float(member["temperature"])) for member in head["members"]]
        self.floors = _floors(self.contract)
        self.tag_names = list(self.contract["tags"])
        self.max_patches = int(self.contract["front_end"]["max_patches"])
        # what a stored result depends on: a new network, front end or head re-analyses the library
        identity = json.dumps([self.contract.get("model_sha256"), self.contract["front_end"], head], sort_keys=True)
        self.version = f"{self.contract['name']}:{hashlib.sha256(identity.encode()).hexdigest()[:12]}"

    def _check_contract(self, path: Path) -> None:
        front = self.contract.get("front_end", {})
        expected = {"sample_rate": audio.SAMPLE_RATE, "n_fft": audio.N_FFT, "hop": audio.HOP,
                    "n_mels": audio.N_MELS, "patch_frames": audio.PATCH_FRAMES}
        wrong = {key: front.get(key) for key, value in expected.items() if front.get(key) != value}
        if wrong:
            raise MusicModelError(f"{path}: front_end {wrong} does not match this moodbox's audio front end "
                                  f"{expected}")
        head = self.contract.get("head", {})
        if head.get("classes") != list(QUADRANTS):
            raise MusicModelError(f"{path}: head.classes must be {list(QUADRANTS)}, got {head.get('classes')}")
        if not head.get("members") or set(head.get("pooling", ["mean"])) - set(POOLINGS):
            raise MusicModelError(f"{path}: head needs members and a pooling from {sorted(POOLINGS)} "
                                  "(rebuild it with `moodbox-train music`)")

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        """The head: standardise; per member dense layers with ReLU between them and a softmax at the temperature
        it was calibrated at; the members' probabilities averaged."""
        standard = (features - self._mean) / self._scale
        probabilities = []
        for layers, temperature in self._members:
            x = standard
            for number, (weight, bias) in enumerate(layers):
                x = x @ weight + bias
                if number < len(layers) - 1:
                    x = np.maximum(x, 0.0)
            exp = np.exp((x - x.max()) / temperature)
            probabilities.append(exp / exp.sum())
        return np.mean(probabilities, axis=0)

    def tag(self, path: str | Path) -> TrackMood:
        """Analyse one file; raises :class:`moodbox.music.audio.AudioError` naming a file it cannot use (a
        :class:`moodbox.music.audio.NotAnalysable` for audio that is not music)."""
        patches = audio.logmel_patches(audio.read_segments(path, self.max_patches))
        outputs = self.embedder.per_patch(patches)
        p = self.probabilities(head_features(outputs, self.pooling, self.inputs))
        if not np.isfinite(p).all():  # the checks keep NaN out; never let one reach a playlist
            raise audio.NotAnalysable(Path(path), "invalid samples", "the model's output is not a number")
        tags = outputs["tags"].mean(axis=0)
        return TrackMood(valence=float(p[0] + p[3] - p[1] - p[2]), arousal=float(p[0] + p[1] - p[2] - p[3]),
                         quadrant=QUADRANTS[int(np.argmax(p))],
                         probabilities={q: float(v) for q, v in zip(QUADRANTS, p)},
                         tags={name: float(v) for name, v in zip(self.tag_names, tags)}, patches=len(patches))
