"""``moodbox-train music``: build the music-mood tagger and measure it.

1. convert MusiCNN's MSD checkpoint (from the ``musicnn`` wheel) to ``<out>/musicnn_msd.tflite`` (float32);
2. run every clip through the device's own front end and that model at each patch count (per-patch outputs
   cached in ``<run-dir>/features``);
3. artist-grouped cross-validation, on the same folds, of every candidate head (patch count, pooling, inputs,
   classifier, calibration) and of a head on hand-made features (tempo, loudness, onsets, centroid, mode);
4. the shipped head: the best candidate the device can run within ``--max-patches``; its playlist confidence
   floors, chosen by the same cross-validation;
5. the analysis time per clip, before (6 patches, numpy's default BLAS pool of one thread per core) and now (one
   BLAS thread), in the same process;
6. write ``<out>/mood.json`` (the contract the device reads), ``<out>/confusion.png``, ``<out>/floors.png`` and the
   model card ``<out>/README.md``.

``--timing-only`` runs step 5 alone (on the clips, with the shipped model and contract); ``--card-only`` writes the
card again from ``mood.json``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shlex
import sys
from pathlib import Path

import numpy as np

from . import floors

REPO = Path(__file__).resolve().parents[3]
DEFAULT_DATA = Path(os.environ.get("MOODBOX_DATA", REPO.parent / "shared" / "data")) / "music4q"
DEFAULT_OUT = REPO / "models" / "music"
MODEL_FILE = "musicnn_msd.tflite"

log = logging.getLogger("moodbox_training.music")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="moodbox-train music", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA,
                        help="the 4Q clips: labels.csv and clips/ (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help="where the model files, figures and card go (default: %(default)s)")
    parser.add_argument("--run-dir", type=Path, default=REPO / "training" / "runs" / "music",
                        help="feature cache and logs (default: %(default)s)")
    parser.add_argument("--limit", type=int, default=None, help="use only this many clips (smoke runs)")
    parser.add_argument("--folds", type=int, default=5, help="outer artist-grouped folds (default: %(default)s)")
    parser.add_argument("--max-patches", type=int, default=3,
                        help="the most 3 s excerpts per track the shipped head may use (default: %(default)s)")
    parser.add_argument("--patch-counts", default="3,5,6",
                        help="patch counts compared (default: %(default)s; 6 is the former setting)")
    parser.add_argument("--target-precision", type=float, default=floors.TARGET,
                        help="precision each playlist's floor aims at (default: %(default)s)")
    parser.add_argument("--timing-clips", type=int, default=20, help="clips timed (default: %(default)s)")
    parser.add_argument("--timing-only", action="store_true", help="only time the analysis, before and now")
    parser.add_argument("--timing-patches", default="",
                        help="also time these patch counts, one BLAS thread, in the same run (e.g. 4,5)")
    parser.add_argument("--card-only", action="store_true",
                        help="only write the card <out>/README.md again from <out>/mood.json")
    parser.add_argument("--seed", type=int, default=0, help="fold shuffling (default: %(default)s)")
    return parser


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    args.run_dir.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        handlers=[logging.StreamHandler(sys.stderr),
                                  logging.FileHandler(args.run_dir / "music.log")], force=True)
    command = shlex.join(["moodbox-train", "music", *(sys.argv[2:] if argv is None else argv)])
    log.info("command: %s", command)
    from .data import MusicDataError
    from .musicnn import MusicnnError

    from threadpoolctl import threadpool_limits

    from . import heads  # noqa: F401  loads scikit-learn's own BLAS, so that the limit below covers it too

    try:
        with threadpool_limits(limits=1):  # a second BLAS thread on a busy 2-core machine only spins
            if args.card_only:
                from . import card

                (args.out / "README.md").write_text(card.render(json.loads((args.out / "mood.json").read_text())))
            elif args.timing_only:
                timing(args)
            else:
                build(args, command)
    except (MusicDataError, MusicnnError) as err:
        log.error("%s", err)
        return 2
    return 0


# the settings timed against the shipped one: the original (6 patches, numpy's default BLAS pool) and the previous
# model's (6 patches, one BLAS thread)
BEFORE = {"before": {"patches": 6, "blas_threads": os.cpu_count()}, "previous": {"patches": 6, "blas_threads": 1}}


def timing(args) -> dict:
    """Time the analysis before and now on the same clips in one process; print the table and the ratio."""
    from . import data, extract

    clips = data.load(args.data, args.limit)
    contract = json.loads((args.out / "mood.json").read_text())
    now = {"patches": contract["front_end"]["max_patches"], "blas_threads": 1}
    extra = {f"{k} patches": {"patches": int(k), "blas_threads": 1} for k in args.timing_patches.split(",") if k}
    result = extract.benchmark(clips, args.out / MODEL_FILE, {**BEFORE, "now": now, **extra}, args.timing_clips)
    for name, row in result.items():
        print(f"{name}: {row['patches']} patches, BLAS threads {row['blas_threads']}: median "
              f"{row['median_cpu_s']:.3f} s CPU per 30 s clip ({row['median_wall_s']:.3f} s wall), "
              f"{row['clips']} clips")
    ratio = result["now"]["median_cpu_s"] / result["before"]["median_cpu_s"]
    to_previous = result["now"]["median_cpu_s"] / result["previous"]["median_cpu_s"]
    for name in extra:
        print(f"{name} / before, CPU per clip: {result[name]['median_cpu_s'] / result['before']['median_cpu_s']:.2f}")
    load = os.getloadavg()
    print(f"now / before, CPU per clip: {ratio:.2f}; now / previous: {to_previous:.2f}; load average "
          f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} cores")
    return {**result, "ratio": ratio, "ratio_to_previous": to_previous, "load_average": list(load),
            "cores": os.cpu_count()}


def candidates(counts: list[int], before: int = 6) -> list:
    """The rows of the card: at the former patch count the former heads; at every other count the plain head, the
    pooled mid-end features added, and logistic + MLP ensembles; the hand-made features at the fewest patches."""
    from .heads import Candidate

    both, std, pool = ("embedding", "tags"), ("mean", "std"), ("pool", "embedding", "tags")
    rows = []
    if before in counts:
        rows += [Candidate("mean; embedding + tags; logistic (before)", before),
                 Candidate(f"mean + std; embedding + tags; logistic + MLP ({before} patches, shipped before)", before,
                           pooling=std, classifier="logistic+mlp")]
    for k in counts:
        if k != before:
            rows += [Candidate(f"mean; embedding + tags; logistic ({k} patches)", k),
                     Candidate(f"mean; pool + embedding + tags; logistic ({k} patches)", k, inputs=pool),
                     Candidate(f"mean + std; embedding + tags; logistic + MLP ({k} patches)", k, pooling=std,
                               classifier="logistic+mlp"),
                     Candidate(f"mean; pool + embedding + tags; logistic + MLP ({k} patches)", k, inputs=pool,
                               classifier="logistic+mlp")]
    fewest = min(counts)
    return rows + [Candidate(f"mean; embedding + tags + hand-made; logistic ({fewest} patches)", fewest,
                             inputs=(*both, "handmade")),
                   Candidate("hand-made features only; logistic", fewest, inputs=("handmade",))]


def build(args, command: str) -> dict:
    from . import card, data, evaluate, extract, handmade, heads, musicnn
    from moodbox.music import audio

    clips = data.load(args.data, args.limit)
    log.info("%d clips, %d artists", len(clips), len({c.artist for c in clips}))
    model = musicnn.convert(args.out / MODEL_FILE)
    log.info("wrote %s (%d bytes)", model, model.stat().st_size)

    counts = sorted({int(k) for k in args.patch_counts.split(",")} | {args.max_patches})
    features = extract.extract(clips, model, args.run_dir / "features", tuple(counts))
    y = np.array([data.QUADRANTS.index(c.quadrant) for c in clips])
    groups = np.array([c.artist for c in clips])
    rows = []
    for candidate in candidates(counts):
        cv = heads.cross_validate(candidate.features(features), y, groups, candidate.classifier, args.folds,
                                  args.seed)
        row = {"name": candidate.name, "candidate": candidate, "cv": cv,
               "raw": evaluate.metrics(y, cv["raw"]), "calibrated": evaluate.metrics(y, cv["calibrated"])}
        rows.append(row)
        log.info("%s: quadrant %.3f (calibrated %.3f), Q3 precision %.3f, Q4 precision %.3f, log-loss %.3f -> %.3f",
                 candidate.name, row["raw"]["quadrant_accuracy"], row["calibrated"]["quadrant_accuracy"],
                 row["calibrated"]["per_quadrant"]["Q3"]["precision"],
                 row["calibrated"]["per_quadrant"]["Q4"]["precision"], row["raw"]["log_loss"],
                 row["calibrated"]["log_loss"])
    eligible = [row for row in rows if row["candidate"].on_device() and row["candidate"].patches <= args.max_patches]
    chosen = max(eligible, key=lambda row: row["calibrated"]["quadrant_accuracy"])
    log.info("chosen: %s", chosen["name"])
    candidate, proba = chosen["candidate"], chosen["cv"]["calibrated"]

    playlist_floors = {}
    for quadrants in floors.all_subsets():
        playlist_floors[floors.key(quadrants)] = floors.choose(y, proba, quadrants, args.target_precision)
    floor_report = {}
    for name, quadrants in floors.DEFAULT_RULES.items():
        floor = playlist_floors[floors.key(quadrants)]
        floor_report[name] = {"quadrants": list(quadrants), "floor": floor, "target": args.target_precision,
                              "at_floor": floors.point(y, proba, quadrants, floor),
                              "no_floor": floors.point(y, proba, quadrants, 0.0),
                              "cross_validated": floors.cross_validated(y, proba, chosen["cv"]["folds"], quadrants,
                                                                        args.target_precision),
                              "curve": floors.curve(y, proba, quadrants)}
        log.info("floor %s (%s): %.2f; cross-validated precision %.3f, coverage %.3f", name, "+".join(quadrants),
                 floor, floor_report[name]["cross_validated"]["precision"],
                 floor_report[name]["cross_validated"]["coverage"])

    members = heads.fit(candidate.features(features), y, groups, candidate.classifier, seed=args.seed)
    contract = {
        "name": "moodbox-music-mood",
        "model": MODEL_FILE,
        "model_sha256": extract.file_sha256(model),
        "front_end": {"sample_rate": audio.SAMPLE_RATE, "n_fft": audio.N_FFT, "hop": audio.HOP,
                      "n_mels": audio.N_MELS, "patch_frames": audio.PATCH_FRAMES,
                      "segment_samples": audio.SEGMENT_SAMPLES, "max_patches": candidate.patches,
                      "window": "periodic Hann, no centre padding", "mel": "Slaney scale and norm, 0-8000 Hz",
                      "log": "log10(10000 * mel_power + 1), float32",
                      "excerpts": "up to max_patches 3 s excerpts spread evenly over the track",
                      "checks": {"min_seconds": audio.MIN_SECONDS,
                                 "min_excerpts": audio.excerpts_needed(candidate.patches),
                                 "silent_dbfs": audio.SILENT_DBFS, "max_clipped": audio.MAX_CLIPPED,
                                 "max_flatness": audio.MAX_FLATNESS},
                      "implementation": "moodbox.music.audio (device package)"},
        "outputs": {"tags": [1, len(musicnn.MSD_TAGS)], "embedding": [1, 200], "pool": [1, 1506]},
        "tags": list(musicnn.MSD_TAGS),
        "head": {"features": "per pooling, each of the inputs (embedding 200, tags 50, pool 1506) pooled over the "
                             "patches, in the order listed",
                 **heads.export(members, candidate)},
        "valence": "P(Q1) + P(Q4) - P(Q2) - P(Q3), in -1..1",
        "arousal": "P(Q1) + P(Q2) - P(Q3) - P(Q4), in -1..1",
        "quadrant": "argmax of P(Q1..Q4): Q1 positive/energetic, Q2 negative/energetic, Q3 negative/calm, "
                    "Q4 positive/calm",
        "floors": {"rule": "a track joins a playlist of quadrants S when its quadrant is in S and P(S) >= the floor "
                           "of S", "target_precision": args.target_precision,
                   "by_quadrants": playlist_floors, "default_playlists": floor_report},
        "metrics": {"protocol": f"{len(clips)} clips of the 4Q set, {args.folds} folds grouped by Artist "
                                f"(StratifiedGroupKFold, seed {args.seed}); regularisation and temperature chosen "
                                "by an inner grouped CV in each outer training fold",
                    "chosen": chosen["name"],
                    "rows": [{"name": row["name"], "patches": row["candidate"].patches,
                              "on_device": row["candidate"].on_device(), "raw": row["raw"],
                              "calibrated": row["calibrated"], "chosen_per_fold": row["cv"]["chosen"]}
                             for row in rows]},
        "model_bytes": model.stat().st_size,
        "trained_on_sha256": data.fingerprint(clips),
        "clips": len(clips),
        "handmade_features": list(handmade.NAMES),
        "command": command,
    }
    (args.out / "mood.json").write_text(json.dumps(contract, indent=1) + "\n")
    contract["analysis_seconds_per_clip"] = timing(args)
    (args.out / "mood.json").write_text(json.dumps(contract, indent=1) + "\n")
    handmade_row = next(row for row in rows if row["name"].startswith("hand-made"))
    evaluate.plot_confusions({f"shipped: {chosen['name']}": chosen["calibrated"],
                              "hand-made features + logistic regression": handmade_row["calibrated"]},
                             args.out / "confusion.png")
    floors.plot(floor_report, args.out / "floors.png")
    (args.out / "README.md").write_text(card.render(contract))
    log.info("wrote %s, %s, %s and %s", args.out / "mood.json", args.out / "confusion.png", args.out / "floors.png",
             args.out / "README.md")
    return contract
