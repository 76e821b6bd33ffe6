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
    tags, embedding, pool = musicnn.Musicnn(musicnn.load_weights(musicnn.checkpoint_prefix()))(tf.constant(patch))
    interpreter = Interpreter(model_path=str(model))
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], patch)
    interpreter.invoke()
    outputs = {int(d["shape"][-1]): interpreter.get_tensor(d["index"]) for d in interpreter.get_output_details()}
    assert np.abs(outputs[50] - tags.numpy()).max() < 1e-4
    assert np.abs(outputs[200] - embedding.numpy()).max() < 1e-3
    assert np.abs(outputs[1506] - pool.numpy()).max() < 1e-3
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
               "--folds", "2", "--max-patches", "2", "--patch-counts", "2,3", "--timing-clips", "2",
               "--out", str(out), "--run-dir", str(tmp_path / "run")]
    result = subprocess.run(command, capture_output=True, text=True, timeout=1500, env=ENV)
    assert result.returncode == 0, result.stderr[-3000:]
    contract = json.loads((out / "mood.json").read_text())
    model = out / contract["model"]
    assert hashlib.sha256(model.read_bytes()).hexdigest() == contract["model_sha256"]
    assert contract["clips"] == 24 and contract["front_end"]["max_patches"] == 2
    rows = {row["name"]: row for row in contract["metrics"]["rows"]}
    assert contract["metrics"]["chosen"] in rows and rows[contract["metrics"]["chosen"]]["patches"] <= 2
    assert any(name.startswith("hand-made") for name in rows) and any("MLP" in name for name in rows)
    for row in rows.values():
        for kind in ("raw", "calibrated"):
            for key in ("quadrant_accuracy", "macro_f1", "valence_accuracy", "arousal_accuracy", "ece"):
                assert 0 <= row[kind][key] <= 1
            assert np.array(row[kind]["confusion"]).sum() == 24
    calming = contract["floors"]["default_playlists"]["calming"]
    assert calming["quadrants"] == ["Q4"] and 0 <= calming["floor"] <= 1
    floors = contract["floors"]["by_quadrants"]
    assert floors["Q4"] == calming["floor"] and len(floors) == 14
    timing = contract["analysis_seconds_per_clip"]
    assert timing["before"]["patches"] == 6 and timing["now"]["patches"] == 2 and timing["ratio"] > 0
    assert timing["previous"] == {**timing["previous"], "patches": 6, "blas_threads": 1}
    assert len(timing["load_average"]) == 3 and timing["ratio_to_previous"] > 0
    for figure in ("confusion.png", "floors.png"):
        assert (out / figure).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    card = (out / "README.md").read_text()
    assert "Panda" in card and "ISC" in card and contract["command"] in card and "auto-calming" in card
    assert len(list((tmp_path / "run" / "features").glob("*.npz"))) == 24

    from moodbox.music.tagger import MusicTagger

    tagger = MusicTagger(out)
    mood = tagger.tag(next((music_data / "clips").glob("*.ogg")))
    assert mood.patches == 2 and -1 <= mood.valence <= 1 and tagger.floors == contract["floors"]["by_quadrants"]

    timing_only = subprocess.run([*command, "--timing-only", "--timing-patches", "3"], capture_output=True, text=True,
                                 timeout=600, env=ENV)
    assert timing_only.returncode == 0, timing_only.stderr[-3000:]
    assert "now / before, CPU per clip:" in timing_only.stdout and "3 patches / before, CPU per clip:" in \
        timing_only.stdout
    (out / "README.md").unlink()
    card_only = subprocess.run([*command, "--card-only"], capture_output=True, text=True, timeout=300, env=ENV)
    assert card_only.returncode == 0 and (out / "README.md").read_text() == card, card_only.stderr[-3000:]


# What the shipped head holds by artist-grouped CV (issue 28 asks for 75% / 0.72 / 0.72 and an auto-calming of
# 80% precision keeping 40% of Q4: not reached yet; these keep a rebuild from falling below today's model). The
# 3-patch model (half the CPU of the former 6-patch one) holds 72.6% / 0.66 / 0.64 and 83% / 21%.
TARGETS = {"quadrant": 0.72, "Q3": 0.66, "Q4": 0.64, "calming_precision": 0.80, "calming_coverage": 0.20}


def test_the_shipped_music_model_reaches_the_targets():
    """The figures the shipped card reports come from the run that built the shipped files."""
    contract = json.loads((REPO / "models" / "music" / "mood.json").read_text())
    rows = {row["name"]: row for row in contract["metrics"]["rows"]}
    shipped = rows[contract["metrics"]["chosen"]]["calibrated"]
    assert contract["clips"] == 540 and "Artist" in contract["metrics"]["protocol"]
    assert shipped["quadrant_accuracy"] >= TARGETS["quadrant"]
    assert shipped["per_quadrant"]["Q3"]["precision"] >= TARGETS["Q3"]
    assert shipped["per_quadrant"]["Q4"]["precision"] >= TARGETS["Q4"]
    calming = contract["floors"]["default_playlists"]["calming"]["cross_validated"]
    assert calming["precision"] >= TARGETS["calming_precision"] and calming["coverage"] >= TARGETS["calming_coverage"]
    assert contract["model_bytes"] <= 5_000_000
    assert contract["command"].startswith("moodbox-train music")
