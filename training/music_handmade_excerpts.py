"""Issue 28, session 5: the hand-made features (tempo, mode, loudness ...) from the excerpts the device decodes.

The card's hand-made features read the whole clip, which the device never decodes; here they are computed per 3 s
excerpt of the ``--patch-counts`` excerpts (``audio.read_segments``) and averaged, timed (CPU per clip), and
appended to the shipped head's inputs (mean; pool + embedding + tags; logistic), by the card's artist-grouped CV with
its nested choice over fold seeds. The network outputs come from the card's feature cache (``--run-dir``):
    cd training && PYTHONPATH=.:../device .venv/bin/python music_handmade_excerpts.py --run-dir runs/music \\
        --patch-counts 3 --seeds 0,1,2 > experiments/issue28-s5-handmade-excerpts.json
"""

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from moodbox.music import audio
from moodbox_training.music import data, extract, handmade, heads
from moodbox_training.music.cli import DEFAULT_DATA, DEFAULT_OUT, MODEL_FILE

parser = argparse.ArgumentParser()
parser.add_argument("--run-dir", type=Path, required=True)
parser.add_argument("--patch-counts", default="3")
parser.add_argument("--seeds", default="0,1,2")
args = parser.parse_args()
counts = tuple(int(k) for k in args.patch_counts.split(","))
seeds = [int(s) for s in args.seeds.split(",")]
threadpool_limits(limits=1)

clips = data.load(DEFAULT_DATA)
features = extract.extract(clips, DEFAULT_OUT / MODEL_FILE, args.run_dir / "features", counts, with_handmade=False)
y = np.array([data.QUADRANTS.index(c.quadrant) for c in clips])
groups = np.array([c.artist for c in clips])

results = {}
for k in counts:
    excerpt_features, cpu = [], []
    for clip in clips:
        segments = audio.read_segments(clip.path, k).reshape(-1, audio.SEGMENT_SAMPLES)
        start = time.process_time()
        excerpt_features.append(np.mean([handmade.features(segment) for segment in segments], axis=0))
        cpu.append(time.process_time() - start)
    for name, inputs in (("mean; pool + embedding + tags; logistic", ("pool", "embedding", "tags")),
                         ("mean; pool + embedding + tags + hand-made of the excerpts; logistic",
                          ("pool", "embedding", "tags", "handmade"))):
        x = heads.Candidate(name, k, inputs=inputs).features({**features, "handmade": np.array(excerpt_features)})
        row = results[f"{name} ({k} patches)"] = heads.over_fold_seeds(x, y, groups, "logistic", seeds)
        row["handmade_median_cpu_s_per_clip"] = float(np.median(cpu))
        print(f"{name} ({k}):", {key: round(v, 3) for key, v in row["mean"].items()}, file=sys.stderr, flush=True)
print(json.dumps({"protocol": "540 4Q clips, 5 artist-grouped folds per seed, nested choice as the card's",
                  "rows": results}, indent=1))
