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

import logging
import shutil
import subprocess
from collections import Counter
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
# The checks before the model (read_segments): what is not music gets a named outcome, never a mood.
MIN_SECONDS = 10.0  # a shorter track is "too short"
MIN_EXCERPTS = 2  # good 3 s excerpts a track needs (fewer when it has fewer: see excerpts_needed)
SILENT_DBFS = -60.0  # an excerpt with a lower RMS level is silence
CLIP_LEVEL = 0.99  # a sample at or above this magnitude is clipped
MAX_CLIPPED = 0.2  # a track with more clipped samples is noise (clipping)
MAX_FLATNESS = 0.5  # a track whose excerpts' spectral flatness is higher is noise (no tones)
log = logging.getLogger(__name__)


class AudioError(MoodboxError):
    """A file that cannot be analysed; the message names the file and the cause."""


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
    (at least one)."""
    count = max(1, min(count, total // length))
    if total <= length:
        return [0]
    return [int(round(start)) for start in np.linspace(0, total - length, count)]


def read_segments(path: str | Path, max_patches: int = DEFAULT_MAX_PATCHES) -> np.ndarray:
    """Decode up to ``max_patches`` evenly spread 3 s excerpts of ``path`` and return the usable ones as 16 kHz mono
    float32 samples, one ``SEGMENT_SAMPLES`` block after another.

    An excerpt that cannot be decoded, ends early, holds NaN/Inf or is silent is skipped; the track is kept while
    :func:`excerpts_needed` good excerpts remain. Otherwise, and for tracks shorter than ``MIN_SECONDS``
    or that are only noise, :class:`NotAnalysable` names the outcome; a missing file is an :class:`AudioError`."""
    path = Path(path)
    if not path.exists():
        raise AudioError(f"{path}: no such file")
    if not path.is_file():
        raise AudioError(f"{path}: not a regular file")
    try:
        with path.open("rb") as f:
            head = f.read(512)
    except OSError as err:
        raise AudioError(f"{path}: cannot read: {err.strerror or err}") from None
    try:
        seconds, excerpts = _excerpts_soundfile(path, max_patches, head)
    except NotAnalysable:
        if not shutil.which("ffmpeg"):
            raise
        seconds, excerpts = _excerpts_ffmpeg(path, max_patches)
    return _usable(path, seconds, excerpts, max_patches)


class NotAnalysable(AudioError):
    """Audio the model must not judge; ``reason`` is the outcome: ``too short``, ``silent``, ``noise``,
    ``invalid samples`` (NaN/Inf) or ``cannot decode``."""

    def __init__(self, path: Path, reason: str, detail: str):
        self.reason = reason
        super().__init__(f"{path}: not analysable: {reason} ({detail})")

    @property
    def outcome(self) -> str:
        return f"not analysable: {self.reason}"


def excerpt_checks(segment: np.ndarray) -> dict[str, float]:
    """What the checks look at in one excerpt: RMS level in dBFS, spectral flatness of its mean power spectrum
    (about 1 for white noise, well under 0.1 for music) and the share of samples at full scale."""
    rms = float(np.sqrt(np.mean(np.square(segment, dtype=np.float64))))
    spectrum = power_spectrogram(segment)[::4, 1:].mean(axis=0, dtype=np.float64) + 1e-20  # every 4th frame is plenty
    return {"rms_dbfs": 20 * np.log10(rms + 1e-12),
            "flatness": float(np.exp(np.mean(np.log(spectrum))) / np.mean(spectrum)),
            "clipped": float(np.mean(np.abs(segment) >= CLIP_LEVEL))}


def excerpts_needed(max_patches: int) -> int:
    """Good excerpts a track read with ``max_patches`` needs: all but one, at most ``MIN_EXCERPTS`` (at least one),
    so one bad excerpt (a silent intro, a damaged stretch) never fails a track read with two or more."""
    return min(MIN_EXCERPTS, max(1, max_patches - 1))


def _usable(path: Path, seconds: float, excerpts: list, max_patches: int) -> np.ndarray:
    """Keep the good excerpts (see :func:`read_segments`); raise :class:`NotAnalysable` when too few remain."""
    if seconds < MIN_SECONDS:
        raise NotAnalysable(path, "too short", f"{seconds:.1f} s of audio; at least {MIN_SECONDS:g} s needed")
    good, skipped, checks = [], Counter(), []
    for excerpt in excerpts:
        if isinstance(excerpt, str):
            skipped[excerpt] += 1
        elif not np.isfinite(excerpt).all():
            skipped["invalid samples"] += 1
        else:
            check = excerpt_checks(excerpt)
            if check["rms_dbfs"] < SILENT_DBFS:
                skipped["silent"] += 1
            else:
                good.append(excerpt)
                checks.append(check)
    if len(good) < excerpts_needed(max_patches):
        reason = skipped.most_common(1)[0][0]
        what = {"invalid samples": "hold NaN or infinite samples", "silent": f"are below {SILENT_DBFS:g} dBFS",
                "cannot decode": "cannot be decoded", "too short": "lie past the end of the decodable audio"}[reason]
        raise NotAnalysable(path, reason, f"{skipped[reason]} of {len(excerpts)} 3 s excerpts {what}; "
                                          f"{len(good)} usable, {excerpts_needed(max_patches)} needed")
    clipped = float(np.mean([check["clipped"] for check in checks]))
    flatness = float(np.median([check["flatness"] for check in checks]))
    if clipped > MAX_CLIPPED:
        raise NotAnalysable(path, "noise", f"{clipped:.0%} of the samples are clipped at full scale")
    if flatness > MAX_FLATNESS:
        raise NotAnalysable(path, "noise", f"spectral flatness {flatness:.2f}: noise without tones")
    if skipped:
        log.info("%s: skipped %s of %d excerpts", path, dict(skipped), len(excerpts))
    return np.concatenate(good)


def _excerpts_soundfile(path: Path, max_patches: int, head: bytes) -> tuple[float, list]:
    """The track's length in seconds and its excerpts: 16 kHz segments, or the reason one could not be read."""
    import soundfile

    try:
        audio = soundfile.SoundFile(str(path))
    except (soundfile.LibsndfileError, RuntimeError, TypeError, ValueError) as err:
        raise NotAnalysable(path, "cannot decode", _what_it_is(head, err)) from None
    with audio:
        rate, total = audio.samplerate, audio.frames
        length = int(np.ceil(SEGMENT_SAMPLES * rate / SAMPLE_RATE)) + 1
        starts = segment_starts(total, max_patches, length)
        excerpts = [_read_excerpt(audio, start, length) for start in starts]
        ended = [(start, block) for start, block in zip(starts, excerpts) if isinstance(block, int)]
        if ended:  # the header promised more than the stream holds (a cut file, parts joined at other rates)
            total = _decodable_end(audio, starts, excerpts, *ended[0])
            excerpts = [_read_excerpt(audio, start, length) for start in segment_starts(total, max_patches, length)]
    return total / rate, [_to_segment(block, rate) if isinstance(block, np.ndarray) else
                          ("too short" if isinstance(block, int) else block) for block in excerpts]


def _read_excerpt(audio, start: int, length: int):
    """``length`` frames from ``start``; the number of frames read when the stream ends early; "cannot decode"."""
    import soundfile

    try:
        audio.seek(start)
        block = audio.read(length, dtype="float32", always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError, ValueError):
        return "cannot decode"
    return block if len(block) == length else len(block)


def _decodable_end(audio, starts: list[int], excerpts: list, first_short: int, frames_read: int) -> int:
    """Where the decodable stream ends: known when the short read got frames, else bisected (a few seeks) between
    the last excerpt read in full and the first that got nothing."""
    if frames_read:
        return first_short + frames_read
    good = [start + len(block) for start, block in zip(starts, excerpts)
            if isinstance(block, np.ndarray) and start < first_short]
    low, high = max(good, default=0), first_short
    while high - low > SAMPLE_RATE:  # to a second or so
        middle = (low + high) // 2
        low, high = (middle, high) if isinstance(_read_excerpt(audio, middle, 1024), np.ndarray) else (low, middle)
    return low


def _what_it_is(head: bytes, err: Exception) -> str:
    """Why libsndfile refused a file that exists (its own message may say "does not exist")."""
    if not head:
        return "the file is empty"
    text = head.decode("utf-8", errors="replace")
    if "\ufffd" not in text and all(c.isprintable() or c.isspace() for c in text):
        return f"a text file, not audio: it begins {text[:40].strip()!r}"
    detail = str(getattr(err, "error_string", "") or "").strip()
    if not detail or "does not exist" in detail:
        detail = "format not recognised"
    return f"not an audio format libsndfile reads ({detail})" + ("" if shutil.which("ffmpeg") else
                                                                 "; installing ffmpeg adds m4a/aac")


def _excerpts_ffmpeg(path: Path, max_patches: int) -> tuple[float, list]:
    """Whole-file decode through ffmpeg to 16 kHz mono float32 (for formats libsndfile lacks, e.g. m4a)."""
    command = ["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-ac", "1", "-ar", str(SAMPLE_RATE),
               "-f", "f32le", "-"]
    result = subprocess.run(command, capture_output=True)
    if not result.stdout:
        message = result.stderr.decode(errors="replace").strip().splitlines()
        raise NotAnalysable(path, "cannot decode", f"ffmpeg: {message[-1] if message else 'no audio'}")
    samples = np.frombuffer(result.stdout, np.float32)
    return len(samples) / SAMPLE_RATE, [samples[start:start + SEGMENT_SAMPLES].copy() if len(samples) >= start +
                                        SEGMENT_SAMPLES else "too short"
                                        for start in segment_starts(len(samples), max_patches)]


def _to_segment(block: np.ndarray, rate: int) -> np.ndarray:
    """Mix to mono, resample to 16 kHz, cut to ``SEGMENT_SAMPLES``."""
    mono = block.mean(axis=1, dtype=np.float32)
    if rate != SAMPLE_RATE:
        import soxr

        mono = soxr.resample(mono, rate, SAMPLE_RATE).astype(np.float32)
    return mono[:SEGMENT_SAMPLES]
