"""The music-mood training side: MusiCNN conversion, hand-made features, and ``moodbox-train music`` end to end."""

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}


@pytest.fixture(scope="session")
def music_data() -> Path:
    path = Path(os.environ.get("MOODBOX_DATA", REPO.parent / "shared" / "data")) / "music4q"
    if not (path / "labels.csv").is_file():
        pytest.skip(f"4Q music clips not found at {path} (labels.csv + clips/); set MOODBOX_DATA to the folder "
                    "holding music4q/")
    return path


def test_tflite_graph_matches_the_tensorflow_network(tmp_path):
    pytest.importorskip("musicnn", reason="pip install --no-deps musicnn==0.1.0 (tests/run does)")
    import tensorflow as tf
    from ai_edge_litert.interpreter import Interpreter

    from moodbox_training.music import musicnn

    model = musicnn.convert(tmp_path / "m.tflite")
    patch = np.random.default_rng(0).uniform(0, 5, (1, 187, 96)).astype(np.float32)
    tags, embedding = musicnn.Musicnn(musicnn.load_weights(musicnn.checkpoint_prefix()))(tf.constant(patch))
    interpreter = Interpreter(model_path=str(model))
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], patch)
    interpreter.invoke()
    outputs = {int(d["shape"][-1]): interpreter.get_tensor(d["index"]) for d in interpreter.get_output_details()}
    assert np.abs(outputs[50] - tags.numpy()).max() < 1e-4
    assert np.abs(outputs[200] - embedding.numpy()).max() < 1e-3
    assert 0 < tags.numpy().min() and tags.numpy().max() < 1


def test_handmade_features_find_the_tempo_and_the_loudness():
    from moodbox_training.music import handmade

    rate, bpm = 16000, 120
    clicks = np.zeros(rate * 20, np.float32)
    for start in range(0, len(clicks) - 400, int(rate * 60 / bpm)):
        clicks[start:start + 400] = np.sin(np.arange(400) * 2 * np.pi * 1000 / rate)
    values = dict(zip(handmade.NAMES, handmade.features(clicks)))
    assert abs(values["tempo_bpm"] - bpm) < 4 or abs(values["tempo_bpm"] - 2 * bpm) < 8
    assert 1.5 < values["onset_rate"] < 2.5
    quieter = dict(zip(handmade.NAMES, handmade.features(clicks * 0.1)))
    assert quieter["loudness_db"] < values["loudness_db"] - 15


@pytest.mark.slow
@pytest.mark.training
def test_music_command_end_to_end_on_a_few_clips(tmp_path, music_data):
    pytest.importorskip("musicnn", reason="pip install --no-deps musicnn==0.1.0 (tests/run does)")
    out = tmp_path / "out"
    command = [sys.executable, "-m", "moodbox_training.cli", "music", "--data", str(music_data), "--limit", "24",
               "--folds", "2", "--max-patches", "2", "--out", str(out), "--run-dir", str(tmp_path / "run")]
    result = subprocess.run(command, capture_output=True, text=True, timeout=900, env=ENV)
    assert result.returncode == 0, result.stderr[-3000:]
    contract = json.loads((out / "mood.json").read_text())
    model = out / contract["model"]
    assert hashlib.sha256(model.read_bytes()).hexdigest() == contract["model_sha256"]
    assert contract["clips"] == 24 and contract["front_end"]["max_patches"] == 2
    for name in ("musicnn", "handmade"):
        figures = contract["metrics"][name]
        for key in ("quadrant_accuracy", "macro_f1", "valence_accuracy", "arousal_accuracy"):
            assert 0 <= figures[key] <= 1
        assert np.array(figures["confusion"]).sum() == 24
    assert (out / "confusion.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    card = (out / "README.md").read_text()
    assert "Panda" in card and "ISC" in card and contract["command"] in card
    assert len(list((tmp_path / "run" / "features").glob("*.npz"))) == 24

    from moodbox.music.tagger import MusicTagger

    mood = MusicTagger(out).tag(next((music_data / "clips").glob("*.ogg")))
    assert mood.patches == 2 and -1 <= mood.valence <= 1


def test_the_shipped_music_model_reaches_the_targets():
    """The figures the shipped card reports come from the run that built the shipped files."""
    contract = json.loads((REPO / "models" / "music" / "mood.json").read_text())
    figures = contract["metrics"]["musicnn"]
    assert contract["clips"] == 540 and "Artist" in contract["metrics"]["protocol"]
    assert figures["quadrant_accuracy"] >= 0.70
    assert figures["arousal_accuracy"] >= 0.87 and figures["valence_accuracy"] >= 0.76
    assert contract["model_bytes"] <= 5_000_000
    assert contract["command"].startswith("moodbox-train music")
