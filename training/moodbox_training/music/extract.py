"""Features of every clip, computed with the device's own front end and the converted model; cached per clip.

The cache (``<run-dir>/features/<Song>.npz``) is keyed by the model file's hash and the patch count (and the
hand-made features by their code's hash), so an interrupted run resumes and a new model recomputes.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from moodbox.music import audio
from moodbox.music.tagger import MusicnnEmbedder

from . import handmade
from .data import Clip


def file_sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def extract(clips: list[Clip], model: Path, cache_dir: Path, max_patches: int) -> dict[str, np.ndarray]:
    """Arrays ``tags`` [n, 50], ``embedding`` [n, 200], ``handmade`` [n, k] in clip order."""
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
                    row.update({name: stored[name] for name in ("tags", "embedding")})
                if "handmade_key" in stored and str(stored["handmade_key"]) == handmade_key:
                    row["handmade"] = stored["handmade"]
        if "embedding" not in row:
            if embedder is None:
                embedder = MusicnnEmbedder(model, threads=1)
            row["tags"], row["embedding"] = embedder(audio.logmel_patches(audio.read_segments(clip.path, max_patches)))
        if "handmade" not in row:
            row["handmade"] = handmade.features(_whole(clip.path))
        np.savez(cached, key=key, handmade_key=handmade_key, **row)
        rows.append(row)
    return {name: np.stack([row[name] for row in rows]) for name in ("tags", "embedding", "handmade")}


def benchmark(clips: list[Clip], model: Path, max_patches: int, count: int = 20) -> dict:
    """Analysis time per clip as ``moodbox library tag`` spends it (decode + resample + mel + network, one
    thread): wall-clock seconds, and the thread's CPU seconds, which a loaded machine inflates far less."""
    embedder = MusicnnEmbedder(model, threads=1)
    embedder(np.zeros((1, audio.PATCH_FRAMES, audio.N_MELS), np.float32))  # warm-up
    wall, cpu = [], []
    for clip in tqdm(clips[:count], desc="timing", unit="clip"):
        start, start_cpu = time.perf_counter(), time.thread_time()
        embedder(audio.logmel_patches(audio.read_segments(clip.path, max_patches)))
        cpu.append(time.thread_time() - start_cpu)
        wall.append(time.perf_counter() - start)
    return {"clips": len(wall), "threads": 1, "median_wall_s": float(np.median(wall)),
            "p90_wall_s": float(np.percentile(wall, 90)), "median_cpu_s": float(np.median(cpu)),
            "what": "decode + resample + log-mel + network per 30 s clip"}


def _whole(path: Path) -> np.ndarray:
    """The whole clip as 16 kHz mono float32 (for the hand-made features)."""
    import soundfile
    import soxr

    samples, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    mono = samples.mean(axis=1)
    return mono if rate == audio.SAMPLE_RATE else soxr.resample(mono, rate, audio.SAMPLE_RATE).astype(np.float32)
