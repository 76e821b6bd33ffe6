"""Issue 28: does a second backbone tell calm from sad better? MusiCNN with its MagnaTagATune weights (the
``MTT_musicnn`` checkpoint of the same ``musicnn`` wheel, the same network and front end) beside the shipped MSD one.

Converts the MTT checkpoint with the card's converter (``musicnn.convert``) into ``--work`` (outside the repository),
extracts both networks' outputs for the device's excerpts of the 540 clips (feature caches in ``--work``), and
cross-validates heads by the card's artist-grouped protocol over fold seeds (``heads.over_fold_seeds``: quadrant
accuracy, Q3/Q4 precision, ``auto-calming``'s floor per fold). Rows: the shipped head on MSD alone, and with MTT's
outputs appended. The session-9 record:
    cd training && export PYTHONPATH=.:../device
    nice .venv/bin/python music_second_backbone.py --work /work/runs-s9/music \\
        > experiments/issue28-s9-second-backbone.json
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from moodbox_training.music import data, extract, heads, musicnn
from moodbox_training.music.cli import DEFAULT_DATA, DEFAULT_OUT, MODEL_FILE

POOL, BOTH = ("pool", "embedding", "tags"), ("embedding", "tags")

parser = argparse.ArgumentParser()
parser.add_argument("--work", type=Path, required=True, help="converted model and feature caches (not the repo)")
parser.add_argument("--patches", type=int, default=3)
parser.add_argument("--seeds", default="0,1,2")
args = parser.parse_args()
seeds = [int(s) for s in args.seeds.split(",")]
k = args.patches

mtt_model = args.work / "musicnn_mtt.tflite"
if not mtt_model.is_file():
    mtt_checkpoint = str(Path(musicnn.checkpoint_prefix()).parent / "MTT_musicnn") + "/"
    musicnn.convert(mtt_model, mtt_checkpoint)
clips = data.load(DEFAULT_DATA)
msd = extract.extract(clips, DEFAULT_OUT / MODEL_FILE, args.work / "features_msd", (k,), with_handmade=False)
mtt = extract.extract(clips, mtt_model, args.work / "features_mtt", (k,), with_handmade=False)
y = np.array([data.QUADRANTS.index(c.quadrant) for c in clips])
groups = np.array([c.artist for c in clips])


def features(source: dict, inputs: tuple[str, ...]) -> np.ndarray:
    return heads.Candidate("", k, pooling=("mean",), inputs=inputs).features(source)


rows = {"MSD: mean; pool + embedding + tags (the shipped head)": features(msd, POOL),
        "MSD pool + embedding + tags, MTT embedding + tags": np.hstack([features(msd, POOL), features(mtt, BOTH)]),
        "MSD + MTT: pool + embedding + tags each": np.hstack([features(msd, POOL), features(mtt, POOL)]),
        "MSD embedding + tags, MTT embedding + tags": np.hstack([features(msd, BOTH), features(mtt, BOTH)]),
        "MTT alone: pool + embedding + tags": features(mtt, POOL)}
results = {}
with threadpool_limits(limits=1):
    for name, x in rows.items():
        results[name] = heads.over_fold_seeds(x, y, groups, "logistic", seeds)
        print(f"{name}:", {key: round(v, 3) for key, v in results[name]["mean"].items()}, file=sys.stderr, flush=True)
json.dump({"note": "issue 28, session 9: MusiCNN MTT weights beside the MSD ones; command in "
                   "training/music_second_backbone.py's docstring",
           "protocol": f"540 4Q clips, {k} excerpts, 5 artist-grouped folds per seed {seeds}, logistic head with the "
                       "card's nested choice of C and temperature",
           "rows": results}, sys.stdout, indent=1)
