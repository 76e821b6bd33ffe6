"""The tagger's audio front end on sox-made files: decoding, excerpts, resampling, the mel spectrum."""

import subprocess

import numpy as np
import pytest

from moodbox.music import audio


def sox(path, seconds, *synth, rate=16000, channels=1):
    subprocess.run(["sox", "-n", "-r", str(rate), "-c", str(channels), str(path), "synth", str(seconds), *synth,
                    "vol", "0.3"], check=True, capture_output=True)
    return path


def test_mel_filterbank_is_librosa_shaped():
    bank = audio.mel_filterbank()
    assert bank.shape == (96, 257) and bank.dtype == np.float32
    assert (bank >= 0).all() and (bank.sum(axis=1) > 0).all()
    peaks = bank.argmax(axis=1)
    assert (np.diff(peaks) >= 0).all(), "band centres rise with the band index"
    # Slaney normalisation: every triangle has area 2 / (its width in Hz) * width / 2 = 1 in Hz units
    hz_per_bin = 8000 / 256
    assert np.allclose(bank.sum(axis=1) * hz_per_bin, 1.0, atol=0.12)


def test_a_tone_lights_the_band_of_its_pitch(tmp_path):
    samples = audio.read_segments(sox(tmp_path / "a.wav", 4, "sine", "1000"), max_patches=1)
    patches = audio.logmel_patches(samples)
    assert patches.shape == (1, audio.PATCH_FRAMES, audio.N_MELS) and patches.dtype == np.float32
    loudest = patches[0].mean(axis=0).argmax()
    centres = np.linspace(0, 8000, 257)[audio.mel_filterbank().argmax(axis=1)]
    assert abs(centres[loudest] - 1000) < 80


def test_long_tracks_give_evenly_spread_excerpts_and_short_ones_repeat():
    assert audio.segment_starts(100, 6, length=10) == [0, 18, 36, 54, 72, 90]
    assert audio.segment_starts(25, 6, length=10) == [0, 15]
    assert audio.segment_starts(5, 6, length=10) == [0]


@pytest.mark.parametrize("name, rate, channels", [("stereo.flac", 44100, 2), ("mono.ogg", 22050, 1),
                                                  ("short.wav", 48000, 1)])
def test_any_rate_and_layout_becomes_16k_mono_segments(tmp_path, name, rate, channels):
    seconds = 1 if name.startswith("short") else 20
    path = sox(tmp_path / name, seconds, "sine", "440", rate=rate, channels=channels)
    samples = audio.read_segments(path, max_patches=4)
    expected = 1 if seconds == 1 else 4
    assert samples.shape == (expected * audio.SEGMENT_SAMPLES,) and samples.dtype == np.float32
    assert 0.05 < np.abs(samples).max() <= 1.0, "audio, not silence, after resampling"
    assert np.array_equal(samples, audio.read_segments(path, max_patches=4)), "deterministic"


def test_unreadable_and_missing_files_raise_naming_the_file(tmp_path):
    broken = tmp_path / "broken.mp3"
    broken.write_bytes(b"not audio at all" * 100)
    for path in (broken, tmp_path / "missing.ogg"):
        with pytest.raises(audio.AudioError, match=str(path)):
            audio.read_segments(path)
