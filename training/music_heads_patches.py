"""Issue 28, session 5: the card's heads at more excerpts per track, by the card's artist-grouped CV over fold seeds.

Reads the feature cache of a ``moodbox-train music`` run (``--run-dir``; the network runs only for counts not
cached yet) and, per patch count and fold seed, cross-validates each head with the card's nested choice of
regularisation and temperature (``heads.cross_validate``). Per row: quadrant accuracy, Q3/Q4 precision of the
calibrated probabilities, and ``auto-calming``'s floor chosen per fold (``floors.cross_validated``: precision and the
share of Q4 kept). ``--rows`` picks rows by number (default all). The session-5 records:
    cd training && export PYTHONPATH=.:../device
    .venv/bin/python music_heads_patches.py --run-dir runs/music --patch-counts 4,5 --rows 0,2 \\
        > experiments/issue28-s5-heads-lr.json
    .venv/bin/python music_heads_patches.py --run-dir runs/music --patch-counts 4 --rows 1,3 \\
        > experiments/issue28-s5-heads-std.json
    .venv/bin/python music_heads_patches.py --run-dir runs/music --patch-counts 3 --rows 1 \\
        > experiments/issue28-s5-heads-std-3.json
    .venv/bin/python music_heads_patches.py --run-dir runs/music --patch-counts 3 --rows 5 \\
        > experiments/issue28-s5-heads-handmade.json
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from moodbox_training.music import data, extract, heads
from moodbox_training.music.cli import DEFAULT_DATA, DEFAULT_OUT, MODEL_FILE

POOL, BOTH = ("pool", "embedding", "tags"), ("embedding", "tags")
ROWS = (("mean; pool + embedding + tags; logistic", ("mean",), POOL, "logistic"),
        ("mean + std; pool + embedding + tags; logistic", ("mean", "std"), POOL, "logistic"),
        ("mean + std; embedding + tags; logistic", ("mean", "std"), BOTH, "logistic"),
        ("mean + std; embedding + tags; logistic + MLP", ("mean", "std"), BOTH, "logistic+mlp"),
        ("mean; embedding + tags + hand-made; logistic", ("mean",), (*BOTH, "handmade"), "logistic"),
        ("mean; pool + embedding + tags + hand-made; logistic", ("mean",), (*POOL, "handmade"), "logistic"))

parser = argparse.ArgumentParser()
parser.add_argument("--run-dir", type=Path, required=True)
parser.add_argument("--patch-counts", default="4,5,6")
parser.add_argument("--seeds", default="0,1,2")
parser.add_argument("--rows", default=",".join(str(n) for n in range(len(ROWS))))
args = parser.parse_args()
counts = tuple(int(k) for k in args.patch_counts.split(","))
seeds = [int(s) for s in args.seeds.split(",")]
chosen_rows = [ROWS[int(n)] for n in args.rows.split(",")]

clips = data.load(DEFAULT_DATA)
features = extract.extract(clips, DEFAULT_OUT / MODEL_FILE, args.run_dir / "features", counts,
                           with_handmade=any("handmade" in row[2] for row in chosen_rows))
y = np.array([data.QUADRANTS.index(c.quadrant) for c in clips])
groups = np.array([c.artist for c in clips])

results = {}
with threadpool_limits(limits=1):
    for k in counts:
        for name, pooling, inputs, classifier in chosen_rows:
            x = heads.Candidate(name, k, pooling=pooling, inputs=inputs).features(features)
            row = results[f"{name} ({k} patches)"] = heads.over_fold_seeds(x, y, groups, classifier, seeds)
            print(f"{name} ({k}):", {key: round(v, 3) for key, v in row["mean"].items()}, file=sys.stderr, flush=True)
print(json.dumps({"protocol": "540 4Q clips, 5 artist-grouped folds per seed, nested choice as the card's",
                  "rows": results}, indent=1))
