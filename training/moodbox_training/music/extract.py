"""Features of every clip, computed with the device's own front end and the converted model; cached per clip.

For each patch count the excerpts the device would take (spread evenly over the clip) run through the network once
(an excerpt shared by two counts runs once) and every per-patch output is kept (tags, embedding, pooled mid-end
features), so that poolings, inputs and patch counts can be compared by cross-validation, and a head can be trained
on more excerpts than the device takes, without running the network again. The cache
(``<run-dir>/features/<Song>.npz``) is keyed by the model file's hash (and the hand-made features by their code's
hash); a count not cached yet is added to it, so an interrupted run resumes and a new model recomputes.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from moodbox.music import audio
from moodbox.music.tagger import OUTPUT_WIDTHS, MusicnnEmbedder

from . import handmade
from .data import Clip


def file_sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def extract(clips: list[Clip], model: Path, cache_dir: Path, patch_counts: tuple[int, ...],
            with_handmade: bool = True) -> dict:
    """In clip order: ``outputs`` (per clip, ``{"tags": [m, 50], "embedding": [m, 200], "pool": [m, 1506]}`` over
    the ``m`` distinct excerpts of all counts), ``index`` (per count k, per clip the rows of the ``<= k`` excerpts
    the device keeps at k: the checks skip silent ones) and ``handmade`` ``[n, len(handmade.NAMES)]``. One pass per
    count, in the order given, then the hand-made features: an interrupted run keeps every finished clip."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    key = file_sha256(model)[:16]
    handmade_key = file_sha256(Path(handmade.__file__))[:16]  # recomputed whenever the feature code changes
    rows = [_cached(cache_dir / f"{clip.song}.npz", key, handmade_key) for clip in clips]
    embedder = None
    for k in patch_counts:
        for clip, row in tqdm(list(zip(clips, rows)), desc=f"{k} patches", unit="clip"):
            if f"k{k}" not in row:
                embedder = embedder or MusicnnEmbedder(model, threads=1)
                _add_count(clip.path, embedder, k, row)
                _store(cache_dir / f"{clip.song}.npz", key, handmade_key, row)
    if with_handmade:
        for clip, row in tqdm(list(zip(clips, rows)), desc="hand-made", unit="clip"):
            if "handmade" not in row:
                row["handmade"] = handmade.features(_whole(clip.path))
                _store(cache_dir / f"{clip.song}.npz", key, handmade_key, row)
    return {"outputs": [{name: row[name] for name in OUTPUT_WIDTHS} for row in rows],
            "index": {k: [row[f"k{k}"] for row in rows] for k in patch_counts},
            "handmade": np.stack([row["handmade"] for row in rows]) if with_handmade else None}


def _cached(path: Path, key: str, handmade_key: str) -> dict:
    if not path.is_file():
        return {}
    with np.load(path) as stored:
        row = {}
        if str(stored["key"]) == key and "digest" in stored.files:
            row.update({name: stored[name] for name in stored.files if name not in ("key", "handmade_key",
                                                                                    "handmade")})
        if "handmade" in stored.files and str(stored["handmade_key"]) == handmade_key:
            row["handmade"] = stored["handmade"]
    return row


def _store(path: Path, key: str, handmade_key: str, row: dict) -> None:
    partial = path.with_suffix(".part.npz")
    np.savez(partial, key=key, handmade_key=handmade_key, **row)
    partial.replace(path)  # a stop mid-write never leaves a broken cache file


def _add_count(path: Path, embedder: MusicnnEmbedder, k: int, row: dict) -> None:
    """Add the excerpts the device takes at ``k`` patches to ``row``; one already there is not run again."""
    segments = audio.read_segments(path, k).reshape(-1, audio.SEGMENT_SAMPLES)
    if "digest" not in row:
        row.update(digest=np.zeros((0, 20), np.uint8), **{name: np.zeros((0, width), np.float32)
                                                        for name, width in OUTPUT_WIDTHS.items()})
    known = {bytes(digest): number for number, digest in enumerate(row["digest"])}
    index = []
    for segment in segments:
        digest = hashlib.sha1(segment.tobytes()).digest()
        if digest not in known:
            outputs = embedder.per_patch(audio.logmel_patches(segment))
            for name in OUTPUT_WIDTHS:
                row[name] = np.concatenate([row[name], outputs[name].astype(np.float32)])
            known[digest] = len(row["digest"])
            row["digest"] = np.concatenate([row["digest"], np.frombuffer(digest, np.uint8)[None]])
        index.append(known[digest])
    row[f"k{k}"] = np.array(index)

def benchmark(clips: list[Clip], model: Path, settings: dict[str, dict], count: int = 20) -> dict:
    """CPU seconds per clip of the analysis ``moodbox library tag`` runs (decode + checks + resample + mel +
    network), under each setting (``{"patches": k, "blas_threads": n}``), interleaved clip by clip so that a busy
    machine slows all alike. CPU time is the whole process's (``time.process_time``: an idle BLAS thread that spins
    counts), which a loaded machine inflates far less than wall-clock time."""
    from threadpoolctl import threadpool_limits

    embedder = MusicnnEmbedder(model, threads=1)
    embedder.per_patch(np.zeros((1, audio.PATCH_FRAMES, audio.N_MELS), np.float32))  # warm-up
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
