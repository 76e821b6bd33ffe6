"""Features of every clip, computed with the device's own front end and the converted model; cached per clip.

For each patch count in ``PATCH_COUNTS`` the network's per-patch outputs (tags and embedding) are kept, so that
poolings (mean, mean + std) and patch counts can be compared by cross-validation without running the network again
(an excerpt shared by two counts runs once). The cache (``<run-dir>/features/<Song>.npz``) is keyed by the model
file's hash and the patch counts (and the hand-made features by their code's hash), so an interrupted run resumes
and a new model recomputes.
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

PATCH_COUNTS = (3, 6, 4)


def file_sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def extract(clips: list[Clip], model: Path, cache_dir: Path, patch_counts: tuple[int, ...] = PATCH_COUNTS,
            with_handmade: bool = True) -> dict:
    """``{"patches": {k: (tags, embeddings)}, "handmade": [n, m]}`` in clip order: per clip ``[m, 50]`` and
    ``[m, 200]`` arrays of the ``m <= k`` excerpts the device keeps (the checks skip silent ones). One pass per
    patch count, in the order given, then the hand-made features: an interrupted run keeps every finished pass."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    key = file_sha256(model)[:16]
    handmade_key = file_sha256(Path(handmade.__file__))[:16]  # recomputed whenever the feature code changes
    rows = [_cached(cache_dir / f"{clip.song}.npz", key, handmade_key) for clip in clips]
    embedder = None
    for k in patch_counts:
        for clip, row in tqdm(list(zip(clips, rows)), desc=f"{k} patches", unit="clip"):
            if f"tags{k}" not in row:
                embedder = embedder or MusicnnEmbedder(model, threads=1)
                row.update(_per_patch(clip.path, embedder, (k,)))
                _store(cache_dir / f"{clip.song}.npz", key, handmade_key, row)
    if with_handmade:
        for clip, row in tqdm(list(zip(clips, rows)), desc="hand-made", unit="clip"):
            if "handmade" not in row:
                row["handmade"] = handmade.features(_whole(clip.path))
                _store(cache_dir / f"{clip.song}.npz", key, handmade_key, row)
    patches = {k: ([row[f"tags{k}"] for row in rows], [row[f"emb{k}"] for row in rows]) for k in patch_counts}
    return {"patches": patches, "handmade": np.stack([row["handmade"] for row in rows]) if with_handmade else None}


def _cached(path: Path, key: str, handmade_key: str) -> dict:
    if not path.is_file():
        return {}
    with np.load(path) as stored:
        row = {}
        if str(stored["key"]).split("-")[0] == key:
            row.update({name: stored[name] for name in stored.files if name.startswith(("tags", "emb"))})
        if "handmade" in stored.files and str(stored["handmade_key"]) == handmade_key:
            row["handmade"] = stored["handmade"]
    return row


def _store(path: Path, key: str, handmade_key: str, row: dict) -> None:
    partial = path.with_suffix(".part.npz")
    np.savez(partial, key=key, handmade_key=handmade_key, **row)
    partial.replace(path)  # a stop mid-write never leaves a broken cache file


def _per_patch(path: Path, embedder: MusicnnEmbedder, patch_counts: tuple[int, ...]) -> dict:
    """Per-patch network outputs for every count; an excerpt that two counts share runs through the network once."""
    seen: dict[bytes, tuple[np.ndarray, np.ndarray]] = {}
    row = {}
    for k in patch_counts:
        segments = audio.read_segments(path, k).reshape(-1, audio.SEGMENT_SAMPLES)
        outputs = []
        for segment in segments:
            digest = hashlib.sha1(segment.tobytes()).digest()
            if digest not in seen:
                seen[digest] = embedder.per_patch(audio.logmel_patches(segment))
            outputs.append(seen[digest])
        row[f"tags{k}"] = np.concatenate([tags for tags, _ in outputs])
        row[f"emb{k}"] = np.concatenate([embedding for _, embedding in outputs])
    return row

def benchmark(clips: list[Clip], model: Path, settings: dict[str, dict], count: int = 20) -> dict:
    """CPU seconds per clip of the analysis ``moodbox library tag`` runs (decode + checks + resample + mel +
    network), under each setting (``{"patches": k, "blas_threads": n}``), interleaved clip by clip so that a busy
    machine slows all alike. CPU time is the whole process's (``time.process_time``: an idle BLAS thread that spins
    counts), which a loaded machine inflates far less than wall-clock time."""
    from threadpoolctl import threadpool_limits

    embedder = MusicnnEmbedder(model, threads=1)
    embedder(np.zeros((1, audio.PATCH_FRAMES, audio.N_MELS), np.float32))  # warm-up
    cpu: dict[str, list[float]] = {name: [] for name in settings}
    wall: dict[str, list[float]] = {name: [] for name in settings}
    for clip in tqdm(clips[:count], desc="timing", unit="clip"):
        for name, setting in settings.items():
            with threadpool_limits(limits=setting["blas_threads"]):
                start, start_cpu = time.perf_counter(), time.process_time()
                embedder.per_patch(audio.logmel_patches(audio.read_segments(clip.path, setting["patches"])))
                cpu[name].append(time.process_time() - start_cpu)
                wall[name].append(time.perf_counter() - start)
    return {name: {**setting, "clips": len(cpu[name]), "median_cpu_s": float(np.median(cpu[name])),
                   "median_wall_s": float(np.median(wall[name])), "p90_wall_s": float(np.percentile(wall[name], 90))}
            for name, setting in settings.items()}


def _whole(path: Path) -> np.ndarray:
    """The whole clip as 16 kHz mono float32 (for the hand-made features)."""
    import soundfile
    import soxr

    samples, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    mono = samples.mean(axis=1)
    return mono if rate == audio.SAMPLE_RATE else soxr.resample(mono, rate, audio.SAMPLE_RATE).astype(np.float32)
