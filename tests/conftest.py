"""Fixtures shared by every test folder: where the repository, the dataset and the shipped model are."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """FER2013/FER+ arrays (../shared/data or $MOODBOX_DATA); tests that need them skip when absent."""
    path = Path(os.environ.get("MOODBOX_DATA", REPO.parent / "shared" / "data"))
    if not (path / "fer2013.npz").is_file():
        pytest.skip(f"FER2013 not found at {path / 'fer2013.npz'}; set MOODBOX_DATA to the folder holding "
                    "fer2013.npz and ferplus_votes.npz")
    return path


@pytest.fixture(scope="session")
def model_path() -> Path:
    """The shipped int8 expression model; its JSON lies beside it."""
    return REPO / "models" / "emotion.tflite"
