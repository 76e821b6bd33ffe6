"""The music model's card, ``models/music/README.md``, written from the figures of the run that built it."""

from __future__ import annotations

QUADRANT_WORDS = {"Q1": "positive, energetic (happy)", "Q2": "negative, energetic (angry, tense)",
                  "Q3": "negative, calm (sad)", "Q4": "positive, calm (relaxed, tender)"}


def _pct(value: float) -> str:
    return f"{100 * value:.1f}%"


def _rows(contract: dict) -> str:
    lines = []
    for row in contract["metrics"]["rows"]:
        m, c = row["raw"], row["calibrated"]
        q = c["per_quadrant"]
        mark = " **(shipped)**" if row["name"] == contract["metrics"]["chosen"] else ""
        lines.append(f"| {row['name']}{mark} | {row['patches']} | {_pct(c['quadrant_accuracy'])} | "
                     f"{_pct(c['valence_accuracy'])} | {_pct(c['arousal_accuracy'])} | {q['Q3']['precision']:.3f} | "
                     f"{q['Q4']['precision']:.3f} | {m['log_loss']:.3f} / {c['log_loss']:.3f} | "
                     f"{m['ece']:.3f} / {c['ece']:.3f} |")
    return "\n".join(lines)


def _floor_rows(contract: dict) -> str:
    lines = []
    for name, entry in contract["floors"]["default_playlists"].items():
        cv, none = entry["cross_validated"], entry["no_floor"]
        lines.append(f"| auto-{name} | {'+'.join(entry['quadrants'])} | {entry['floor']:.2f} | "
                     f"{_pct(none['precision'])} / {_pct(none['coverage'])} | {_pct(cv['precision'])} / "
                     f"{_pct(cv['coverage'])} | {', '.join(f'{f:.2f}' for f in cv['floors_per_fold'])} |")
    return "\n".join(lines)


def _curve_points(entry: dict, floors=(0.4, 0.5, 0.6, 0.7, 0.8, 0.9)) -> list[dict]:
    return [p for p in entry["curve"] if any(abs(p["floor"] - f) < 1e-6 for f in floors)]


def render(contract: dict) -> str:
    metrics = contract["metrics"]
    chosen = next(row for row in metrics["rows"] if row["name"] == metrics["chosen"])
    ours = chosen["calibrated"]
    per_quadrant = "\n".join(
        f"| {q} {QUADRANT_WORDS[q]} | {_pct(ours['per_quadrant'][q]['precision'])} | "
        f"{_pct(ours['per_quadrant'][q]['recall'])} |" for q in ("Q1", "Q2", "Q3", "Q4"))
    confusion = "\n".join(f"| {q} | " + " | ".join(str(n) for n in row) + " |"
                          for q, row in zip(("Q1", "Q2", "Q3", "Q4"), ours["confusion"]))
    head = contract["head"]
    front = contract["front_end"]
    checks = front["checks"]
    timing = contract["analysis_seconds_per_clip"]
    before, previous, now = timing["before"], timing["previous"], timing["now"]
    load = ", ".join(f"{value:.1f}" for value in timing["load_average"])
    calming = contract["floors"]["default_playlists"]["calming"]
    members = " and ".join(f"{m['classifier']} ({len(m['layers'])} dense layer(s), softmax temperature "
                           f"{m['temperature']:g})" for m in head["members"])
    return f"""# Music-mood model card (`models/music/`)

Written by `{contract['command']}`; every figure below comes from that run (also in `mood.json`).

## What it does
`moodbox library tag|scan` places each track on Russell's valence/arousal plane: valence (negative..positive) and
arousal (calm..energetic), both in -1..1, and a quadrant: Q1 {QUADRANT_WORDS['Q1']}, Q2 {QUADRANT_WORDS['Q2']},
Q3 {QUADRANT_WORDS['Q3']}, Q4 {QUADRANT_WORDS['Q4']}. A track joins a mood playlist only when the model is
confident enough for that playlist's job (the floors below). Audio that is not music gets a named outcome and no
mood: `not analysable: too short` (under {checks['min_seconds']:g} s), `silent` (excerpts below
{checks['silent_dbfs']:g} dBFS), `noise` (spectral flatness over {checks['max_flatness']:g}, or over
{checks['max_clipped']:.0%} of the samples clipped), `invalid samples` (NaN/Inf), `cannot decode`. Excerpts that
are undecodable, silent or NaN are skipped; a track needs {checks['min_excerpts']} good ones.

## Files
| file | what | size |
|---|---|---|
| `{contract['model']}` | MusiCNN (MSD weights), float32 TFLite: one log-mel patch [1, 187, 96] in; 50 tag probabilities, the 200-d penultimate embedding and the 1506-d pooled mid-end features (max and mean over time, standardised: the back end's input) out | {contract['model_bytes'] / 1e6:.2f} MB |
| `mood.json` | the contract: front-end parameters and checks, output shapes, tag names, the mood head ({head['candidate']}: standardiser, then {members}, probabilities averaged), the playlist floors, metrics, command | small |
| `confusion.png` | confusion matrices of the shipped head and of the hand-made baseline, cross-validated | |
| `floors.png` | precision and coverage against the confidence floor for each default playlist, cross-validated | |

Front end (one implementation, `device/moodbox/music/audio.py`, imported by the training code): decode with libsndfile
(`soundfile`; ffmpeg for m4a), mono, resample to 16 kHz with `soxr`, {front['max_patches']} excerpts of 3.008 s
spread evenly over the track, |STFT|^2 (n_fft 512, periodic Hann, hop 256, no padding), 96 Slaney mel bands,
`log10(10000 * mel + 1)` in float32, 187 frames per patch. The network's outputs ({', '.join(head['inputs'])}) are
pooled over the patches ({' and '.join(head['pooling'])}). The float32 graph is shipped (it fits the 5 MB budget): on
the development VM (x86 without AVX2) post-training quantisation is both slower and unfaithful: full int8 (calibrated on
log-mel patches of the clips) 2.0x the float CPU time with LiteRT's built-in kernels and 6.6x with XNNPACK, pooled
features at cosine 0.48 to the float model's; dynamic range 1.6x / 6.3x, embedding cosine 0.79; and one invoke on
all 6 patches ([6, 187, 96]) is no faster than 6 invokes (1.14x), so the device invokes once per patch
(`training/music_speed_variants.py`, `training/experiments/issue28-s5-speed-variants.json`).

## How well (artist-grouped cross-validation)
{metrics['protocol']}. Every row runs on the same folds. The shipped head is the most accurate row the device can
run with at most the patch count the speed budget allows (`--max-patches`); picking it among these rows on the
same folds flatters it slightly.

| head (pooling; inputs; classifier) | patches | quadrant | valence | arousal | Q3 precision | Q4 precision | log-loss raw / calibrated | ECE raw / calibrated |
|---|---|---|---|---|---|---|---|---|
{_rows(contract)}

The figures are of the calibrated probabilities, as the device computes them (averaging the members of a
logistic + MLP head at their own temperatures can move a near tie). The shipped head per quadrant:

| quadrant | precision | recall |
|---|---|---|
{per_quadrant}

Confusion of the shipped head (rows: 4Q label, columns: predicted):

| | Q1 | Q2 | Q3 | Q4 |
|---|---|---|---|---|
{confusion}

![confusion matrices](confusion.png)

## Playlist confidence floors
A track joins a playlist of quadrants S when its most probable quadrant is in S and P(S), the summed probability
of S, reaches the floor of S. The floor of each set of quadrants is the lowest from which on the out-of-fold
predictions reach {_pct(contract['floors']['target_precision'])} precision (the share of kept tracks whose 4Q label
is in the set) at every higher floor too, so it keeps as many tracks as that precision allows. Cross-validated: in each outer fold the floor is chosen
on the other folds' clips and applied to the fold's own; precision and coverage (the share of the set's clips
kept) are pooled over the folds.

| playlist | quadrants | floor (all clips) | no floor: precision / coverage | floor chosen per fold: precision / coverage | floor per fold |
|---|---|---|---|---|---|
{_floor_rows(contract)}

`auto-calming` (played to an angry or afraid listener) holds {_pct(calming['cross_validated']['precision'])} calm
(Q4) music at its floor, keeping {_pct(calming['cross_validated']['coverage'])} of the Q4 clips. Its curve on the
out-of-fold predictions of all clips (precision / coverage / clips kept):

| floor on P(Q4) | {' | '.join(f"{p['floor']:.2f}" for p in _curve_points(calming))} |
|---|{'---|' * len(_curve_points(calming))}
| precision | {' | '.join(_pct(p['precision']) for p in _curve_points(calming))} |
| coverage | {' | '.join(_pct(p['coverage']) for p in _curve_points(calming))} |
| kept | {' | '.join(str(p['kept']) for p in _curve_points(calming))} |

![precision and coverage against the floor](floors.png)

## Speed
Analysis CPU time per 30 s clip, the whole process (decode + checks + resample + mel + network), median of
{now['clips']} clips timed clip by clip in the same run on a shared {timing['cores']}-core VM (load average
{load}): before ({before['patches']} patches, numpy's default BLAS pool: {before['blas_threads']} threads, one per
core) {before['median_cpu_s']:.3f} s; the previous model ({previous['patches']} patches, one BLAS thread)
{previous['median_cpu_s']:.3f} s; now ({now['patches']} patches, one BLAS thread) {now['median_cpu_s']:.3f} s:
{timing['ratio']:.2f} of before, {timing['ratio_to_previous']:.2f} of the previous model. A busy machine inflates
CPU time too; compare the ratios. Wall-clock now {now['median_wall_s']:.3f} s (90th
percentile {now['p90_wall_s']:.3f} s; it includes waiting for a busy CPU). A Raspberry Pi 4 core runs this kind
of code about 9-10x slower. Rerun with `moodbox-train music --timing-only` (`--timing-patches 4,5` times other
patch counts beside them).

## Limits
- The labels are AllMusic mood tags of 30 s excerpts mapped to quadrants; a whole song can move between moods.
- Most errors are between the two calm quadrants (sad Q3 vs tender Q4): valence at low arousal is the hard part;
  the floors trade coverage for precision there.
- Trained on {contract['clips']} clips of mostly Western popular music; other traditions are less certain.
- `moodbox library --explain TRACK` shows the probabilities and, per playlist, whether the track is in and why.

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
