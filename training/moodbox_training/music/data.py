"""The 4Q music-emotion clips (Panda, Malheiro & Paiva 2018): ``labels.csv`` plus ``clips/<Song>.ogg``."""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from pathlib import Path

QUADRANTS = ("Q1", "Q2", "Q3", "Q4")


class MusicDataError(Exception):
    """The data folder is missing or malformed; the message names the file to fix."""


@dataclass(frozen=True)
class Clip:
    song: str
    artist: str
    quadrant: str
    path: Path


def load(folder: str | Path, limit: int | None = None) -> list[Clip]:
    """Every labelled clip, in ``labels.csv`` order; with ``limit``, the first ``limit // 4`` of each quadrant."""
    folder = Path(folder)
    labels = folder / "labels.csv"
    if not labels.is_file():
        raise MusicDataError(f"{labels}: not found (the 4Q clips live in ../shared/data/music4q)")
    clips = []
    with labels.open(newline="") as f:
        for line, row in enumerate(csv.DictReader(f), start=2):
            try:
                song, artist, quadrant = row["Song"], row["Artist"], row["Quadrant"]
            except KeyError as err:
                raise MusicDataError(f"{labels}: column {err} missing") from None
            if quadrant not in QUADRANTS:
                raise MusicDataError(f"{labels}:{line}: Quadrant must be one of {QUADRANTS}, got {quadrant!r}")
            path = folder / "clips" / f"{song}.ogg"
            if not path.is_file():
                raise MusicDataError(f"{path}: clip listed in {labels}:{line} is missing")
            clips.append(Clip(song, artist, quadrant, path))
    if limit:
        per_quadrant = max(1, limit // len(QUADRANTS))
        clips = [c for q in QUADRANTS for c in [c for c in clips if c.quadrant == q][:per_quadrant]]
    return clips


def fingerprint(clips: list[Clip]) -> str:
    """SHA-256 over the label rows and clip bytes: names the exact data a model was trained on."""
    digest = hashlib.sha256()
    for clip in clips:
        digest.update(f"{clip.song},{clip.artist},{clip.quadrant}\n".encode())
        digest.update(hashlib.sha256(clip.path.read_bytes()).digest())
    return digest.hexdigest()
