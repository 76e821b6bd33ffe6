"""Issue 28, session 9: does the head learn calm from sad better when trained on more excerpts than the device takes?

The device pools its 3 excerpts (mean) and classifies. Here each training clip is shown as several random 3-excerpt
means drawn from ``--pool`` evenly spread excerpts (augmentation), while every test clip is scored as the device
scores it (its 3 excerpts). Same artist-grouped folds and fold seeds as the card; in each outer fold the logistic
regression's C and softmax temperature are chosen by an inner grouped CV on the training clips (the inner test clips
as the device scores them too). Rows: the card's head (no augmentation) and ``--draws`` random subsets per clip.
The session-9 record:
    cd training && export PYTHONPATH=.:../device
    nice .venv/bin/python music_excerpt_augment.py --work /work/runs-s9/music \\
        > experiments/issue28-s9-excerpt-augment.json
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from moodbox.music.tagger import head_features
from moodbox_training.music import data, evaluate, extract, heads
from moodbox_training.music.cli import DEFAULT_DATA, DEFAULT_OUT, MODEL_FILE

INPUTS = ("pool", "embedding", "tags")  # the shipped head's

parser = argparse.ArgumentParser()
parser.add_argument("--work", type=Path, required=True, help="feature cache (not the repo)")
parser.add_argument("--pool", type=int, default=9, help="excerpts per clip to draw training subsets from")
parser.add_argument("--draws", default="0,8", help="random 3-excerpt subsets per training clip (0: the device's 3)")
parser.add_argument("--seeds", default="0,1,2")
args = parser.parse_args()
seeds = [int(s) for s in args.seeds.split(",")]

clips = data.load(DEFAULT_DATA)
cache = extract.extract(clips, DEFAULT_OUT / MODEL_FILE, args.work / "features_msd", (3, args.pool),
                        with_handmade=False)
y = np.array([data.QUADRANTS.index(c.quadrant) for c in clips])
groups = np.array([c.artist for c in clips])
outputs = cache["outputs"]


def pooled(clip: int, rows) -> np.ndarray:
    return head_features({name: outputs[clip][name][rows] for name in INPUTS}, ("mean",), INPUTS)


device = np.stack([pooled(i, cache["index"][3][i]) for i in range(len(clips))])


def training_set(train: np.ndarray, draws: int, rng: np.random.Generator):
    """The training clips as the device sees them, plus ``draws`` random 3-excerpt means of each."""
    x, labels = [device[train]], [y[train]]
    for _ in range(draws):
        x.append(np.stack([pooled(i, rng.choice(cache["index"][args.pool][i], 3, replace=False)) for i in train]))
        labels.append(y[train])
    return np.concatenate(x), np.concatenate(labels)


def fit(train: np.ndarray, draws: int, seed: int):
    """C and temperature by an inner grouped CV (inner test clips scored as the device scores them), then the fit."""
    rng = np.random.default_rng(seed)
    inner = evaluate.folds_for(y[train], groups[train], 4, seed + 1)
    best = None
    for strength in heads.C_GRID:
        log_proba = np.zeros((len(train), 4))
        for fit_rows, test_rows in inner:
            x, labels = training_set(train[fit_rows], draws, rng)
            log_proba[test_rows] = heads._log_proba(heads._model("logistic", strength, seed).fit(x, labels),
                                                    device[train[test_rows]])
        accuracy = np.mean(log_proba.argmax(axis=1) == y[train])
        if best is None or accuracy > best[0]:
            best = (accuracy, strength, heads.best_temperature(y[train], log_proba))
    x, labels = training_set(train, draws, rng)
    return heads._model("logistic", best[1], seed).fit(x, labels), best[2]


results = {}
with threadpool_limits(limits=1):
    for draws in (int(d) for d in args.draws.split(",")):
        per_seed = []
        for seed in seeds:
            folds = evaluate.folds_for(y, groups, 5, seed)
            calibrated = np.zeros((len(y), 4))
            for train, test in folds:
                model, temperature = fit(train, draws, seed)
                calibrated[test] = heads.soften(heads._log_proba(model, device[test]), temperature)
            per_seed.append(heads.seed_figures(y, calibrated, folds, seed))
        name = "the device's 3 excerpts (the card's head)" if draws == 0 else \
            f"plus {draws} random 3-of-{args.pool} excerpt means per training clip"
        results[name] = heads.with_means(per_seed)
        print(f"{name}:", {key: round(v, 3) for key, v in results[name]["mean"].items()}, file=sys.stderr, flush=True)
json.dump({"note": "issue 28, session 9: excerpt augmentation for the head; command in "
                   "training/music_excerpt_augment.py's docstring",
           "protocol": f"540 4Q clips, mean; pool + embedding + tags; logistic; 5 artist-grouped folds per seed "
                       f"{seeds}; test clips scored on the device's 3 excerpts",
           "rows": results}, sys.stdout, indent=1)
