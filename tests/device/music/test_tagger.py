"""The music-mood tagger with the real shipped model on sox-made tones and noise."""

import hashlib
import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from moodbox.music import audio
from moodbox.music.tagger import DEFAULT_MODEL_DIR, MusicModelError, MusicTagger
from moodbox.names import QUADRANTS


def sox(path, seconds, *synth):
    subprocess.run(["sox", "-n", "-r", "22050", "-c", "1", str(path), "synth", str(seconds), *synth, "vol", "0.4"],
                   check=True, capture_output=True)
    return str(path)


@pytest.fixture(scope="module")
def tagger():
    return MusicTagger()


@pytest.fixture(scope="module")
def sounds(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sounds")
    return {"tone": sox(folder / "tone.flac", 12, "sine", "330"),
            "buzz": sox(folder / "buzz.wav", 30, "square", "523", "tremolo", "8", "60"),
            "chord": sox(folder / "chord.ogg", 12, "triangle", "262", "tremolo", "2", "40")}


@pytest.fixture(scope="module")
def bad_inputs(tmp_path_factory):
    """One real file per kind of input that is not music, and the outcome each must get."""
    import soundfile

    folder = tmp_path_factory.mktemp("bad")
    t = np.arange(16000 * 30) / 16000
    nan = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    nan[::500] = np.nan
    soundfile.write(str(folder / "nan.wav"), nan, 16000, subtype="FLOAT")
    (folder / "text.mp3").write_text("this is not a song\n" * 40)
    return {sox(folder / "silence.wav", 30, "sine", "440", "vol", "0"): "silent",
            sox(folder / "one-second.wav", 1, "sine", "440"): "too short",
            sox(folder / "noise.wav", 30, "whitenoise"): "noise",
            str(folder / "nan.wav"): "invalid samples",
            str(folder / "text.mp3"): "cannot decode"}


def test_the_shipped_contract_names_the_shipped_model():
    contract = json.loads((DEFAULT_MODEL_DIR / "mood.json").read_text())
    model = DEFAULT_MODEL_DIR / contract["model"]
    assert hashlib.sha256(model.read_bytes()).hexdigest() == contract["model_sha256"]
    assert model.stat().st_size <= 5_000_000
    assert contract["front_end"]["max_patches"] >= 1 and len(contract["tags"]) == 50


def test_tagging_gives_valence_arousal_and_a_consistent_quadrant(tagger, sounds):
    for name, path in sounds.items():
        mood = tagger.tag(path)
        assert -1 <= mood.valence <= 1 and -1 <= mood.arousal <= 1, name
        assert mood.quadrant in QUADRANTS
        assert sum(mood.probabilities.values()) == pytest.approx(1.0, abs=1e-6)
        assert mood.probabilities[mood.quadrant] == max(mood.probabilities.values())
        assert set(mood.tags) == set(tagger.tag_names) and all(0 <= p <= 1 for p in mood.tags.values())
    assert tagger.tag(sounds["buzz"]).patches == tagger.max_patches
    assert tagger.tag(sounds["tone"]).patches == min(3, tagger.max_patches), "12 s hold three 3 s excerpts"


def test_tagging_is_deterministic_and_tells_sounds_apart(tagger, sounds):
    first, again = tagger.tag(sounds["chord"]), tagger.tag(sounds["chord"])
    assert first == again
    buzz, tone = tagger.tag(sounds["buzz"]), tagger.tag(sounds["tone"])
    assert buzz.probabilities != tone.probabilities and buzz.tags != tone.tags


def test_tagging_runs_numpy_single_threaded(tagger):
    from threadpoolctl import threadpool_info

    assert all(pool["num_threads"] == 1 for pool in threadpool_info()), threadpool_info()


def test_bad_inputs_get_their_named_outcome_never_a_mood(tagger, bad_inputs):
    for path, reason in bad_inputs.items():
        with pytest.raises(audio.NotAnalysable) as caught:
            tagger.tag(path)
        assert caught.value.reason == reason, (path, str(caught.value))


def test_tag_command_prints_valid_json_with_the_outcome_for_every_bad_input(bad_inputs, sounds):
    files = [*bad_inputs, sounds["chord"]]
    result = subprocess.run([sys.executable, "-m", "moodbox", "library", "tag", "--json", *files],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1, result.stderr
    lines = [json.loads(line, parse_constant=pytest.fail) for line in result.stdout.splitlines()]  # NaN is invalid
    assert [line["path"] for line in lines] == files
    for line, reason in zip(lines, bad_inputs.values()):
        assert line["outcome"] == f"not analysable: {reason}" and "quadrant" not in line
        assert line["path"] in line["error"] and "does not exist" not in line["error"]
    assert lines[-1]["quadrant"] in QUADRANTS
    plain = subprocess.run([sys.executable, "-m", "moodbox", "library", "tag", *bad_inputs],
                           capture_output=True, text=True, timeout=120)
    assert [line.split(": not analysable: ")[1].split(" (")[0] for line in plain.stdout.splitlines()] == \
        list(bad_inputs.values())


def test_embedder_gives_every_output_per_patch_and_the_head_reads_the_inputs_it_names(tagger):
    from moodbox.music.tagger import head_features

    outputs = tagger.embedder.per_patch(np.zeros((3, audio.PATCH_FRAMES, audio.N_MELS), np.float32))
    assert {name: array.shape for name, array in outputs.items()} == {"tags": (3, 50), "embedding": (3, 200),
                                                                      "pool": (3, 1506)}
    width = {"tags": 50, "embedding": 200, "pool": 1506}
    features = head_features(outputs, tagger.pooling, tagger.inputs)
    assert features.shape == (len(tagger.pooling) * sum(width[name] for name in tagger.inputs),)
    assert len(tagger.contract["head"]["mean"]) == len(features)


def test_a_missing_or_mismatched_model_is_a_model_error(tmp_path):
    with pytest.raises(MusicModelError, match="mood.json"):
        MusicTagger(tmp_path)
    shutil.copytree(DEFAULT_MODEL_DIR, tmp_path / "music")
    contract = json.loads((tmp_path / "music" / "mood.json").read_text())
    contract["front_end"]["n_mels"] = 128
    (tmp_path / "music" / "mood.json").write_text(json.dumps(contract))
    with pytest.raises(MusicModelError, match="n_mels"):
        MusicTagger(tmp_path / "music")


def test_the_version_stored_with_each_result_changes_with_the_head_not_with_the_card(tmp_path, tagger):
    """A library analysed by an older head is analysed again (library.db keys results by this version)."""
    shutil.copytree(DEFAULT_MODEL_DIR, tmp_path / "music")
    path = tmp_path / "music" / "mood.json"
    contract = json.loads(path.read_text())
    contract["metrics"] = {}
    path.write_text(json.dumps(contract))
    assert MusicTagger(tmp_path / "music").version == tagger.version
    contract["head"]["members"][0]["temperature"] += 0.5
    path.write_text(json.dumps(contract))
    assert MusicTagger(tmp_path / "music").version != tagger.version


def test_tag_command_prints_one_json_object_per_file_and_goes_on_after_errors(sounds, tmp_path):
    broken = tmp_path / "broken.ogg"
    broken.write_bytes(b"\0" * 4096)
    files = [sounds["tone"], str(broken), sounds["buzz"]]
    result = subprocess.run([sys.executable, "-m", "moodbox", "library", "tag", "--json", *files],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["path"] for line in lines] == files
    assert "error" in lines[1] and str(broken) in lines[1]["error"]
    for line in (lines[0], lines[2]):
        assert line["quadrant"] in QUADRANTS and -1 <= line["valence"] <= 1 and -1 <= line["arousal"] <= 1
    plain = subprocess.run([sys.executable, "-m", "moodbox", "library", "tag", sounds["tone"]],
                           capture_output=True, text=True, timeout=120)
    assert plain.returncode == 0 and plain.stdout.startswith(sounds["tone"] + ": Q")


def test_tag_command_without_a_model_exits_3(tmp_path, sounds):
    result = subprocess.run([sys.executable, "-m", "moodbox", "library", "tag", "--model-dir", str(tmp_path),
                             sounds["tone"]], capture_output=True, text=True, timeout=60)
    assert result.returncode == 3 and "mood.json" in result.stderr
