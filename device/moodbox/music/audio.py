"""The music tagger's audio front end: decode, mono, 16 kHz, log-mel patches; shared with the training code.

One implementation for the device and for training (``moodbox_training.music`` imports this module), so the model
is trained on exactly what the box computes. MusiCNN's input: 16 kHz, n_fft 512 (Hann), hop 256, 96 Slaney mel
bands (librosa's defaults), ``log10(10000 * power + 1)`` in float32 (musicnn's own float16 overflows on loud
audio), 187-frame (3 s) patches. A track is sampled with at most ``max_patches`` 3-second excerpts spread evenly
over its length, so a 10-minute track costs what a 30-second one does; only those excerpts are decoded.

Decoding uses libsndfile through ``soundfile`` (wav, flac, ogg/vorbis, opus, mp3); formats it cannot open (m4a/aac)
go through ``ffmpeg`` when it is installed. Resampling uses ``soxr``.

>>> patches = logmel_patches(np.zeros(SEGMENT_SAMPLES * 2, np.float32))
>>> patches.shape
(2, 187, 96)
"""

from __future__ import annotations

import shutil
import subprocess
from functools import lru_cache
from pathlib import Path

import numpy as np

from moodbox.errors import MoodboxError

SAMPLE_RATE = 16000
N_FFT = 512
HOP = 256
N_MELS = 96
PATCH_FRAMES = 187
SEGMENT_SAMPLES = N_FFT + (PATCH_FRAMES - 1) * HOP  # 48128 samples (3.008 s) give exactly 187 frames, no padding
DEFAULT_MAX_PATCHES = 8


class AudioError(MoodboxError):
    """A file that cannot be decoded; the message names the file."""


@lru_cache(maxsize=None)
def mel_filterbank(sample_rate: int = SAMPLE_RATE, n_fft: int = N_FFT, n_mels: int = N_MELS) -> np.ndarray:
    """Slaney-scale, Slaney-normalised triangular filters ``[n_mels, n_fft // 2 + 1]`` (librosa's default)."""
    def hz_to_mel(hz):
        hz = np.asarray(hz, np.float64)
        linear = hz / (200.0 / 3)
        log = 15.0 + np.log(np.maximum(hz, 1e-10) / 1000.0) / (np.log(6.4) / 27.0)
        return np.where(hz >= 1000.0, log, linear)

    def mel_to_hz(mel):
        linear = mel * (200.0 / 3)
        log = 1000.0 * np.exp((np.log(6.4) / 27.0) * (mel - 15.0))
        return np.where(mel >= 15.0, log, linear)

    fft_hz = np.linspace(0, sample_rate / 2, n_fft // 2 + 1)
    mel_hz = mel_to_hz(np.linspace(hz_to_mel(0.0), hz_to_mel(sample_rate / 2), n_mels + 2))
    widths = np.diff(mel_hz)
    ramps = mel_hz[:, None] - fft_hz[None, :]
    lower = -ramps[:-2] / widths[:-1, None]
    upper = ramps[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_hz[2:] - mel_hz[:-2]))[:, None]
    return weights.astype(np.float32)


def power_spectrogram(samples: np.ndarray) -> np.ndarray:
    """``|STFT|^2`` with a periodic Hann window, no centre padding: ``[frames, n_fft // 2 + 1]`` float32."""
    samples = np.asarray(samples, np.float32)
    frames = 1 + (len(samples) - N_FFT) // HOP
    if frames < 1:
        raise ValueError(f"need at least {N_FFT} samples, got {len(samples)}")
    window = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)).astype(np.float32)
    index = np.arange(N_FFT)[None, :] + HOP * np.arange(frames)[:, None]
    spectrum = np.fft.rfft(samples[index] * window, axis=1)
    return (spectrum.real ** 2 + spectrum.imag ** 2).astype(np.float32)


def logmel(samples: np.ndarray) -> np.ndarray:
    """``log10(10000 * mel + 1)`` of 16 kHz mono samples: ``[frames, 96]`` float32."""
    mel = power_spectrogram(samples) @ mel_filterbank().T
    return np.log10(np.float32(10000) * mel + np.float32(1), dtype=np.float32)


def logmel_patches(samples: np.ndarray) -> np.ndarray:
    """Cut 16 kHz samples (a multiple of ``SEGMENT_SAMPLES``) into segments: ``[n, 187, 96]`` float32."""
    segments = np.asarray(samples, np.float32).reshape(-1, SEGMENT_SAMPLES)
    return np.stack([logmel(segment) for segment in segments])


def segment_starts(total: int, count: int, length: int = SEGMENT_SAMPLES) -> list[int]:
    """Start offsets of ``min(count, total // length)`` excerpts of ``length`` samples spread evenly over ``total``
    (at least one: a track shorter than one excerpt is repeated to fill it)."""
    count = max(1, min(count, total // length))
    if total <= length:
        return [0]
    return [int(round(start)) for start in np.linspace(0, total - length, count)]


def read_segments(path: str | Path, max_patches: int = DEFAULT_MAX_PATCHES) -> np.ndarray:
    """Decode up to ``max_patches`` evenly spread 3 s excerpts of ``path`` as 16 kHz mono float32 samples, one
    ``SEGMENT_SAMPLES`` block after another. Raises :class:`AudioError` naming the file."""
    path = Path(path)
    if not path.is_file():
        raise AudioError(f"{path}: no such file")
    try:
        return _read_segments_soundfile(path, max_patches)
    except AudioError:
        if not shutil.which("ffmpeg"):
            raise
    return _read_segments_ffmpeg(path, max_patches)


def _read_segments_soundfile(path: Path, max_patches: int) -> np.ndarray:
    import soundfile

    try:
        with soundfile.SoundFile(str(path)) as audio:
            rate, total = audio.samplerate, audio.frames
            length = int(np.ceil(SEGMENT_SAMPLES * rate / SAMPLE_RATE)) + 1
            pieces = []
            for start in segment_starts(total, max_patches, length):
                audio.seek(start)
                pieces.append(_to_segment(audio.read(length, dtype="float32", always_2d=True), rate, path))
    except (soundfile.LibsndfileError, RuntimeError, TypeError, ValueError) as err:
        raise AudioError(f"{path}: cannot decode audio: {err}") from None
    except OSError as err:
        raise AudioError(f"{path}: cannot read: {err.strerror or err}") from None
    return np.concatenate(pieces)


def _read_segments_ffmpeg(path: Path, max_patches: int) -> np.ndarray:
    """Whole-file decode through ffmpeg to 16 kHz mono float32 (for formats libsndfile lacks, e.g. m4a)."""
    command = ["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-ac", "1", "-ar", str(SAMPLE_RATE),
               "-f", "f32le", "-"]
    result = subprocess.run(command, capture_output=True)
    if result.returncode != 0 or not result.stdout:
        message = result.stderr.decode(errors="replace").strip().splitlines()
        raise AudioError(f"{path}: cannot decode audio (ffmpeg: {message[-1] if message else 'no audio'})")
    samples = np.frombuffer(result.stdout, np.float32)
    return np.concatenate([_to_segment(samples[start:start + SEGMENT_SAMPLES, None], SAMPLE_RATE, path)
                           for start in segment_starts(len(samples), max_patches)])


def _to_segment(block: np.ndarray, rate: int, path: Path) -> np.ndarray:
    """Mix to mono, resample to 16 kHz, repeat a short block to fill one segment, cut to ``SEGMENT_SAMPLES``."""
    mono = block.mean(axis=1, dtype=np.float32)
    if len(mono) == 0:
        raise AudioError(f"{path}: no audio samples")
    if rate != SAMPLE_RATE:
        import soxr

        mono = soxr.resample(mono, rate, SAMPLE_RATE).astype(np.float32)
    if len(mono) < SEGMENT_SAMPLES:
        mono = np.tile(mono, -(-SEGMENT_SAMPLES // len(mono)))
    return mono[:SEGMENT_SAMPLES]
