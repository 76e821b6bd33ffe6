"""``moodbox-train music``: build the music-mood tagger and measure it.

1. convert MusiCNN's MSD checkpoint (from the ``musicnn`` wheel) to ``<out>/musicnn_msd.tflite`` (float32);
2. run every clip through the device's own front end and that model (features cached in ``<run-dir>``);
3. artist-grouped cross-validation of the mood head on the MusiCNN features and of the same head on hand-made
   features (tempo, loudness, onsets, centroid, mode), same folds;
4. fit the head on all clips and write ``<out>/mood.json`` (the contract the device reads), the confusion
   matrices ``<out>/confusion.png`` and the model card ``<out>/README.md``.
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
                        help="where the model files, figure and card go (default: %(default)s)")
    parser.add_argument("--run-dir", type=Path, default=REPO / "training" / "runs" / "music",
                        help="feature cache and logs (default: %(default)s)")
    parser.add_argument("--limit", type=int, default=None, help="use only this many clips (smoke runs)")
    parser.add_argument("--folds", type=int, default=5, help="outer artist-grouped folds (default: %(default)s)")
    parser.add_argument("--max-patches", type=int, default=6,
                        help="3 s excerpts analysed per track (default: %(default)s)")
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

    try:
        build(args, command)
    except (MusicDataError, MusicnnError) as err:
        log.error("%s", err)
        return 2
    return 0


def build(args, command: str) -> dict:
    from . import card, data, evaluate, extract, handmade, musicnn
    from moodbox.music import audio

    clips = data.load(args.data, args.limit)
    log.info("%d clips, %d artists", len(clips), len({c.artist for c in clips}))
    model = musicnn.convert(args.out / MODEL_FILE)
    log.info("wrote %s (%d bytes)", model, model.stat().st_size)

    features = extract.extract(clips, model, args.run_dir / "features", args.max_patches)
    y = np.array([data.QUADRANTS.index(c.quadrant) for c in clips])
    groups = np.array([c.artist for c in clips])
    inputs = {"musicnn": np.concatenate([features["embedding"], features["tags"]], axis=1),
              "handmade": features["handmade"]}
    results = {}
    for name, x in inputs.items():
        proba, chosen = evaluate.cross_validate(x, y, groups, args.folds, args.seed)
        results[name] = {**evaluate.metrics(y, proba), "C_per_fold": chosen}
        log.info("%s: quadrant accuracy %.3f, macro-F1 %.3f, valence %.3f, arousal %.3f", name,
                 results[name]["quadrant_accuracy"], results[name]["macro_f1"],
                 results[name]["valence_accuracy"], results[name]["arousal_accuracy"])
    head, c = evaluate.fit(inputs["musicnn"], y, groups, seed=args.seed)
    timing = extract.benchmark(clips, model, args.max_patches)
    log.info("analysis time per clip, 1 thread: median %.3f s wall, %.3f s CPU", timing["median_wall_s"],
             timing["median_cpu_s"])
    contract = {
        "name": "moodbox-music-mood",
        "model": MODEL_FILE,
        "model_sha256": extract.file_sha256(model),
        "front_end": {"sample_rate": audio.SAMPLE_RATE, "n_fft": audio.N_FFT, "hop": audio.HOP,
                      "n_mels": audio.N_MELS, "patch_frames": audio.PATCH_FRAMES,
                      "segment_samples": audio.SEGMENT_SAMPLES, "max_patches": args.max_patches,
                      "window": "periodic Hann, no centre padding", "mel": "Slaney scale and norm, 0-8000 Hz",
                      "log": "log10(10000 * mel_power + 1), float32",
                      "excerpts": "up to max_patches 3 s excerpts spread evenly over the track",
                      "implementation": "moodbox.music.audio (device package)"},
        "outputs": {"tags": [1, len(musicnn.MSD_TAGS)], "embedding": [1, 200]},
        "tags": list(musicnn.MSD_TAGS),
        "head": {"features": "patch-mean embedding (200) then patch-mean tag probabilities (50)",
                 **evaluate.export_head(head, c)},
        "valence": "P(Q1) + P(Q4) - P(Q2) - P(Q3), in -1..1",
        "arousal": "P(Q1) + P(Q2) - P(Q3) - P(Q4), in -1..1",
        "quadrant": "argmax of P(Q1..Q4): Q1 positive/energetic, Q2 negative/energetic, Q3 negative/calm, "
                    "Q4 positive/calm",
        "metrics": {"protocol": f"{len(clips)} clips of the 4Q set, {args.folds} folds grouped by Artist "
                                f"(StratifiedGroupKFold, seed {args.seed}); C chosen by an inner grouped CV",
                    **results},
        "analysis_seconds_per_clip": timing,
        "model_bytes": model.stat().st_size,
        "trained_on_sha256": data.fingerprint(clips),
        "clips": len(clips),
        "handmade_features": list(handmade.NAMES),
        "command": command,
    }
    (args.out / "mood.json").write_text(json.dumps(contract, indent=1) + "\n")
    evaluate.plot_confusions({"MusiCNN + logistic regression": results["musicnn"],
                              "hand-made features + logistic regression": results["handmade"]},
                             args.out / "confusion.png")
    (args.out / "README.md").write_text(card.render(contract))
    log.info("wrote %s, %s and %s", args.out / "mood.json", args.out / "confusion.png", args.out / "README.md")
    return contract
