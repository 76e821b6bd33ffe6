"""Features of every clip, computed with the device's own front end and the converted model; cached per clip.

The cache (``<run-dir>/features/<Song>.npz``) is keyed by the model file's hash and the patch count (and the
hand-made features by their code's hash), so an interrupted run resumes and a new model recomputes. Each clip's analysis time (decode + mel + network, one
thread, what ``moodbox library tag`` does per track) is recorded with it.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from moodbox import audio
from moodbox.tagger import MusicnnEmbedder

from . import handmade
from .data import Clip


def file_sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def extract(clips: list[Clip], model: Path, cache_dir: Path, max_patches: int) -> dict[str, np.ndarray]:
    """Arrays ``tags`` [n, 50], ``embedding`` [n, 200], ``handmade`` [n, k], ``seconds`` [n] in clip order."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    key = f"{file_sha256(model)[:16]}-{max_patches}"
    handmade_key = file_sha256(Path(handmade.__file__))[:16]  # recomputed whenever the feature code changes
    embedder = None
    rows = []
    for clip in tqdm(clips, desc="features", unit="clip"):
        cached = cache_dir / f"{clip.song}.npz"
        row = {}
        if cached.is_file():
            with np.load(cached) as stored:
                if str(stored["key"]) == key:
                    row.update({name: stored[name] for name in ("tags", "embedding", "seconds")})
                if "handmade_key" in stored and str(stored["handmade_key"]) == handmade_key:
                    row["handmade"] = stored["handmade"]
        if "embedding" not in row:
            if embedder is None:
                embedder = MusicnnEmbedder(model, threads=1)
            start = time.perf_counter()
            patches = audio.logmel_patches(audio.read_segments(clip.path, max_patches))
            row["tags"], row["embedding"] = embedder(patches)
            row["seconds"] = np.float64(time.perf_counter() - start)
        if "handmade" not in row:
            row["handmade"] = handmade.features(_whole(clip.path))
        np.savez(cached, key=key, handmade_key=handmade_key, **row)
        rows.append(row)
    return {name: np.stack([row[name] for row in rows]) for name in ("tags", "embedding", "handmade", "seconds")}


def _whole(path: Path) -> np.ndarray:
    """The whole clip as 16 kHz mono float32 (for the hand-made features)."""
    import soundfile
    import soxr

    samples, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    mono = samples.mean(axis=1)
    return mono if rate == audio.SAMPLE_RATE else soxr.resample(mono, rate, audio.SAMPLE_RATE).astype(np.float32)
