"""The baseline: a few hand-made features (tempo, loudness, onsets, spectral centroid, mode) in numpy.

The classic descriptors of music-emotion work (e.g. Panda et al. 2018 list them among their baseline features):
loudness and its spread, onset rate and strength, tempo and pulse clarity from the onset envelope's
autocorrelation, spectral centroid, and the mode (major minus minor Krumhansl key-profile correlation of the
chroma). Computed from the same 16 kHz samples and STFT as the device's front end (``moodbox.music.audio``).
"""

from __future__ import annotations

import numpy as np

from moodbox.music import audio

NAMES = ("loudness_db", "loudness_spread_db", "onset_rate", "onset_strength", "tempo_bpm", "pulse_clarity",
         "centroid_hz", "centroid_spread_hz", "mode", "key_clarity")
# Krumhansl-Kessler key profiles, C major and C minor
_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
_FRAME_RATE = audio.SAMPLE_RATE / audio.HOP


def features(samples: np.ndarray) -> np.ndarray:
    """``len(NAMES)`` features of 16 kHz mono samples."""
    power = audio.power_spectrogram(samples).astype(np.float64)
    freqs = np.linspace(0, audio.SAMPLE_RATE / 2, power.shape[1])
    energy = power.sum(axis=1)
    frame_db = 10 * np.log10(energy / audio.N_FFT + 1e-10)
    frame_db = np.maximum(frame_db, frame_db.max() - 60)  # dynamics within 60 dB of the loudest frame
    centroid = (power @ freqs) / (energy + 1e-10)

    logmel = np.log10(power @ audio.mel_filterbank().T.astype(np.float64) * 10000 + 1)
    flux = np.maximum(0.0, np.diff(logmel, axis=0)).sum(axis=1)
    flux = flux - flux.mean()
    # an onset: the largest flux within +-50 ms, above one standard deviation
    padded = np.pad(flux, 3, constant_values=-np.inf)
    local_max = np.max(np.lib.stride_tricks.sliding_window_view(padded, 7), axis=1)
    onsets = (flux == local_max) & (flux > flux.std())
    onset_rate = onsets.sum() / (len(flux) / _FRAME_RATE)

    ac = np.correlate(flux, flux, mode="full")[len(flux) - 1:]
    ac = ac / (ac[0] + 1e-10)
    lags = np.arange(len(ac))
    in_range = (lags >= _FRAME_RATE * 60 / 200) & (lags <= _FRAME_RATE * 60 / 50)
    best = lags[in_range][np.argmax(ac[in_range])]

    chroma = _chroma(samples)
    major = max(np.corrcoef(chroma, np.roll(_MAJOR, k))[0, 1] for k in range(12))
    minor = max(np.corrcoef(chroma, np.roll(_MINOR, k))[0, 1] for k in range(12))
    loudness_db = 10 * np.log10(energy.mean() / audio.N_FFT + 1e-10)
    return np.array([loudness_db, frame_db.std(), onset_rate, np.maximum(flux, 0).mean(), 60 * _FRAME_RATE / best,
                     ac[best], centroid.mean(), centroid.std(), major - minor, max(major, minor)])


def _chroma(samples: np.ndarray, n_fft: int = 4096) -> np.ndarray:
    """Mean pitch-class energy from a long-window STFT (C = 0), pitches 55 Hz..2 kHz."""
    hop = n_fft // 2
    frames = 1 + (len(samples) - n_fft) // hop
    index = np.arange(n_fft)[None, :] + hop * np.arange(frames)[:, None]
    power = np.abs(np.fft.rfft(samples[index] * np.hanning(n_fft), axis=1)) ** 2
    freqs = np.fft.rfftfreq(n_fft, 1 / audio.SAMPLE_RATE)
    use = (freqs >= 55) & (freqs <= 2000)
    pitch_class = np.round(12 * np.log2(freqs[use] / 261.63)).astype(int) % 12
    chroma = np.bincount(pitch_class, weights=power[:, use].sum(axis=0), minlength=12)
    return chroma / (chroma.sum() + 1e-10)
