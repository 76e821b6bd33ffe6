"""The music model's card, ``models/music/README.md``, written from the figures of the run that built it."""

from __future__ import annotations

QUADRANT_WORDS = {"Q1": "positive, energetic (happy)", "Q2": "negative, energetic (angry, tense)",
                  "Q3": "negative, calm (sad)", "Q4": "positive, calm (relaxed, tender)"}


def _pct(value: float) -> str:
    return f"{100 * value:.1f}%"


def render(contract: dict) -> str:
    metrics = contract["metrics"]
    ours, base = metrics["musicnn"], metrics["handmade"]
    rows = "\n".join(
        f"| {label} | {_pct(ours[key])} | {_pct(base[key])} |" if "accuracy" in key else
        f"| {label} | {ours[key]:.3f} | {base[key]:.3f} |"
        for label, key in [("quadrant accuracy", "quadrant_accuracy"), ("macro-F1", "macro_f1"),
                           ("valence accuracy (positive vs negative)", "valence_accuracy"),
                           ("arousal accuracy (high vs low)", "arousal_accuracy")])
    per_quadrant = "\n".join(
        f"| {q} {QUADRANT_WORDS[q]} | {_pct(ours['per_quadrant'][q]['precision'])} | "
        f"{_pct(ours['per_quadrant'][q]['recall'])} | {_pct(base['per_quadrant'][q]['precision'])} | "
        f"{_pct(base['per_quadrant'][q]['recall'])} |" for q in ("Q1", "Q2", "Q3", "Q4"))
    confusion = "\n".join(f"| {q} | " + " | ".join(str(n) for n in row) + " |"
                          for q, row in zip(("Q1", "Q2", "Q3", "Q4"), ours["confusion"]))
    seconds = contract["analysis_seconds_per_clip"]
    return f"""# Music-mood model card (`models/music/`)

Written by `{contract['command']}`; every figure below comes from that run (also in `mood.json`).

## What it does
`moodbox library tag|scan` places each track on Russell's valence/arousal plane: valence (negative..positive) and
arousal (calm..energetic), both in -1..1, and a quadrant: Q1 {QUADRANT_WORDS['Q1']}, Q2 {QUADRANT_WORDS['Q2']},
Q3 {QUADRANT_WORDS['Q3']}, Q4 {QUADRANT_WORDS['Q4']}.

## Files
| file | what | size |
|---|---|---|
| `{contract['model']}` | MusiCNN (MSD weights), float32 TFLite: one log-mel patch [1, 187, 96] in; 50 tag probabilities and the 200-d penultimate embedding out | {contract['model_bytes'] / 1e6:.2f} MB |
| `mood.json` | the contract: front-end parameters, output shapes, tag names, the mood head (standardiser + 4-class logistic regression over the patch-mean embedding and tags, C = {contract['head']['C']}), metrics, command | small |
| `confusion.png` | confusion matrices of both heads, cross-validated | |

Front end (one implementation, `device/moodbox/music/audio.py`, imported by the training code): decode with libsndfile
(`soundfile`; ffmpeg for m4a), mono, resample to 16 kHz with `soxr`, up to {contract['front_end']['max_patches']}
excerpts of 3.008 s spread evenly over the track, |STFT|^2 (n_fft 512, periodic Hann, hop 256, no padding), 96
Slaney mel bands, `log10(10000 * mel + 1)` in float32, 187 frames per patch. The network's outputs are averaged
over the patches. The float32 graph is shipped: int8 post-training quantisation of this network was measured to
break it (embedding cosine 0.59 with full int8, 0.96 with dynamic range; see FIELD-NOTES), and the file fits the
5 MB budget.

## How well (artist-grouped cross-validation)
{metrics['protocol']}. The baseline is the same head on {len(contract['handmade_features'])} hand-made features
({', '.join(contract['handmade_features'])}) on the same folds.

| figure | MusiCNN head (shipped) | hand-made baseline |
|---|---|---|
{rows}

| quadrant | precision (MusiCNN) | recall (MusiCNN) | precision (baseline) | recall (baseline) |
|---|---|---|---|---|
{per_quadrant}

Confusion of the shipped head (rows: 4Q label, columns: predicted):

| | Q1 | Q2 | Q3 | Q4 |
|---|---|---|---|---|
{confusion}

![confusion matrices](confusion.png)

Analysis time per 30 s clip, one thread (decode + resample + mel + network, {seconds['clips']} clips, measured
by the same run on a shared 2-core VM): median {seconds['median_cpu_s']:.3f} s of CPU, {seconds['median_wall_s']:.3f} s
wall-clock (90th percentile {seconds['p90_wall_s']:.3f} s; the wall-clock figure includes waiting for a busy CPU).
A Raspberry Pi 4 core runs this kind of code about 9-10x slower.

## Limits
- The labels are AllMusic mood tags of 30 s excerpts mapped to quadrants; a whole song can move between moods.
- Most errors are between the two calm quadrants (sad Q3 vs tender Q4): valence at low arousal is the hard part.
- Trained on {contract['clips']} clips of mostly Western popular music; other traditions are less certain.
- The quadrant is the head's most probable class; tracks near the centre of the plane are the uncertain ones
  (`moodbox library --explain TRACK` shows the probabilities).

## Licences and citations
- Network and weights: MusiCNN, J. Pons and X. Serra, "musicnn: pre-trained convolutional neural networks for
  music audio tagging", ISMIR late-breaking/demo 2019; weights from the PyPI `musicnn` 0.1.0 wheel, ISC licence,
  (c) Music Technology Group, Universitat Pompeu Fabra 2019. Trained by its authors on the Million Song Dataset's
  Last.fm top-50 tags. (Essentia's `msd-musicnn-1` holds the same weights under CC BY-NC-SA: not used.)
- Data: the 4Q audio emotion data set, R. Panda, R. Malheiro and R. P. Paiva, "Novel audio features for music
  emotion recognition", IEEE Transactions on Affective Computing 11(4), 2020 (online 2018); distributed by its
  authors for research. The clips are not in this repository; only the head trained on them and its metrics are.
  Training data fingerprint (SHA-256 over labels and clip bytes): `{contract['trained_on_sha256']}`.
"""
