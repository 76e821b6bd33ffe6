"""The tagger's audio front end on sox- and numpy-made files: decoding, excerpts, resampling, the mel spectrum, and
the checks that give audio which is not music a named outcome instead of a mood."""

import io
import subprocess

import numpy as np
import pytest
import soundfile

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
    samples = audio.read_segments(sox(tmp_path / "a.wav", 12, "sine", "1000"), max_patches=1)
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
    seconds = 10.5 if name.startswith("short") else 20
    path = sox(tmp_path / name, seconds, "sine", "440", rate=rate, channels=channels)
    samples = audio.read_segments(path, max_patches=4)
    expected = 3 if name.startswith("short") else 4
    assert samples.shape == (expected * audio.SEGMENT_SAMPLES,) and samples.dtype == np.float32
    assert 0.05 < np.abs(samples).max() <= 1.0, "audio, not silence, after resampling"
    assert np.array_equal(samples, audio.read_segments(path, max_patches=4)), "deterministic"


def test_unreadable_and_missing_files_raise_naming_the_file(tmp_path):
    broken = tmp_path / "broken.ogg"
    broken.write_bytes(bytes(range(256)) * 40)
    for path in (broken, tmp_path / "missing.ogg"):
        with pytest.raises(audio.AudioError, match=str(path)):
            audio.read_segments(path)


# ---- the checks: each kind of bad input gets its named outcome ----

RATE = 16000


def music(seconds: float, rate: int = RATE) -> np.ndarray:
    """A chord that swells and fades every two seconds: tonal, well above silence, never clipped."""
    t = np.arange(int(seconds * rate)) / rate
    chord = sum(np.sin(2 * np.pi * f * t) for f in (220, 277, 330))
    return (0.15 * chord * (0.6 + 0.4 * np.sin(np.pi * t))).astype(np.float32)


def wav(path, samples, rate=RATE, subtype=None):
    soundfile.write(str(path), samples, rate, subtype=subtype)
    return path


def mp3_bytes(samples, rate) -> bytes:
    buffer = io.BytesIO()
    soundfile.write(buffer, samples, rate, format="MP3")
    return buffer.getvalue()


def not_analysable(path, reason, max_patches=4):
    with pytest.raises(audio.NotAnalysable) as caught:
        audio.read_segments(path, max_patches)
    assert caught.value.reason == reason and caught.value.outcome == f"not analysable: {reason}"
    assert str(caught.value).startswith(f"{path}: not analysable: {reason} (")
    return str(caught.value)


def test_music_passes_the_checks(tmp_path):
    assert audio.read_segments(wav(tmp_path / "music.wav", music(30)), 4).shape == (4 * audio.SEGMENT_SAMPLES,)


def test_a_one_second_clip_is_too_short(tmp_path):
    message = not_analysable(sox(tmp_path / "one.wav", 1, "sine", "440"), "too short")
    assert "1.0 s of audio; at least 10 s needed" in message


def test_a_truncated_mp3_is_too_short_by_what_decodes_not_by_its_header(tmp_path):
    whole = mp3_bytes(music(20, 44100), 44100)
    (tmp_path / "cut.mp3").write_bytes(whole[:len(whole) // 15])  # the header still says 20 s
    assert soundfile.info(str(tmp_path / "cut.mp3")).duration == pytest.approx(20, abs=0.1)
    not_analysable(tmp_path / "cut.mp3", "too short")


def test_a_cut_mp3_with_enough_audio_left_is_analysed_within_what_decodes(tmp_path):
    whole = mp3_bytes(music(40, 44100), 44100)
    (tmp_path / "half.mp3").write_bytes(whole[:len(whole) // 2])  # header: 40 s; stream: about 20 s
    assert audio.read_segments(tmp_path / "half.mp3", 4).shape == (4 * audio.SEGMENT_SAMPLES,)


@pytest.mark.parametrize("volume", ["0", "0.0002"])
def test_silence_and_near_silence_are_silent(tmp_path, volume):
    path = tmp_path / f"quiet-{volume}.flac"
    subprocess.run(["sox", "-n", "-r", "44100", "-c", "2", str(path), "synth", "30", "sine", "440", "vol", volume],
                   check=True, capture_output=True)
    assert "below -60 dBFS" in not_analysable(path, "silent")


def test_a_silent_intro_is_skipped_and_the_rest_analysed(tmp_path):
    samples = music(40)
    samples[:RATE * 12] = 0  # the first of four excerpts is silent
    kept = audio.read_segments(wav(tmp_path / "intro.wav", samples), 4)
    assert kept.shape == (3 * audio.SEGMENT_SAMPLES,) and np.abs(kept).max() > 0.1


def test_white_noise_is_noise(tmp_path):
    path = tmp_path / "hiss.ogg"
    subprocess.run(["sox", "-n", "-r", "22050", "-c", "1", str(path), "synth", "30", "whitenoise", "vol", "0.3"],
                   check=True, capture_output=True)
    assert "spectral flatness" in not_analysable(path, "noise")


def test_clipping_only_noise_is_noise(tmp_path):
    clipped = np.clip(np.random.default_rng(0).normal(0, 3, RATE * 30), -1, 1).astype(np.float32)
    assert "clipped at full scale" in not_analysable(wav(tmp_path / "clip.wav", clipped, subtype="PCM_16"),
                                                     "noise")


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_and_infinite_samples_are_invalid(tmp_path, bad):
    samples = music(30)
    samples[::997] = bad
    path = wav(tmp_path / "float.wav", samples, subtype="FLOAT")
    assert "NaN or infinite" in not_analysable(path, "invalid samples")


@pytest.mark.parametrize("max_patches", [4, 2])
def test_a_nan_burst_in_one_excerpt_skips_only_that_excerpt(tmp_path, max_patches):
    samples = music(40)
    samples[-RATE * 2:] = np.nan  # only the last excerpt (of two, the track is judged on the first alone)
    kept = audio.read_segments(wav(tmp_path / "burst.wav", samples, subtype="FLOAT"), max_patches)
    assert kept.shape == ((max_patches - 1) * audio.SEGMENT_SAMPLES,) and np.isfinite(kept).all()


def test_a_text_file_named_mp3_says_what_it_is_not_that_it_does_not_exist(tmp_path):
    path = tmp_path / "song.mp3"
    path.write_text("#EXTM3U\nsong one.mp3\n" * 50)
    message = not_analysable(path, "cannot decode")
    assert "a text file, not audio" in message and "does not exist" not in message


def test_an_empty_file_says_so(tmp_path):
    (tmp_path / "empty.flac").write_bytes(b"")
    assert "the file is empty" in not_analysable(tmp_path / "empty.flac", "cannot decode")


def test_a_folder_or_missing_file_is_an_error_naming_it(tmp_path):
    with pytest.raises(audio.AudioError, match="not a regular file"):
        audio.read_segments(tmp_path)
    with pytest.raises(audio.AudioError, match="no such file"):
        audio.read_segments(tmp_path / "gone.ogg")


def strip_xing(stream: bytes) -> bytes:
    """Drop an MP3's leading Xing/Info frame (its length header), as joining raw streams does."""
    tag = max(stream.find(b"Xing"), stream.find(b"Info"))
    return stream[stream.find(stream[:2], 4):] if 0 <= tag < 300 else stream


def test_a_60_minute_mp3_joined_from_parts_at_different_rates_is_analysed_not_failed(tmp_path):
    parts = [strip_xing(mp3_bytes(music(60, rate), rate)) for rate in (8000, 11025, 16000)]
    path = tmp_path / "joined.mp3"
    path.write_bytes(parts[0] * 5 + parts[1] * 25 + parts[2] * 30)  # 5 + 25 + 30 minutes
    kept = audio.read_segments(path, 4)
    assert kept.shape == (4 * audio.SEGMENT_SAMPLES,) and np.abs(kept).max() > 0.05
