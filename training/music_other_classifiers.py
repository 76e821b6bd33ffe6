"""Issue 28, session 10: does another classifier on the shipped head's inputs tell calm from sad better?

The shipped head's inputs (mean over the device's 3 excerpts of the pooled mid-end features, the embedding and the
tags), the card's artist-grouped folds and fold seeds; in each outer fold the classifier's settings are chosen by an
inner grouped CV on the training clips. Rows: an RBF support-vector machine (C, gamma) and a shrinkage linear
discriminant (shrinkage), against the card's logistic regression (71.9% quadrant accuracy over fold seeds 0-2).
The session-10 record:
    cd training && export PYTHONPATH=.:../device
    nice .venv/bin/python music_other_classifiers.py --work /work/runs-s9/music \\
        > experiments/issue28-s10-other-classifiers.json
"""

import argparse
import json
from pathlib import Path

import numpy as np
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC
from threadpoolctl import threadpool_limits

from moodbox_training.music import data, evaluate, extract, heads
from moodbox_training.music.cli import DEFAULT_DATA, DEFAULT_OUT, MODEL_FILE

INPUTS = ("pool", "embedding", "tags")  # the shipped head's
SETTINGS = {"rbf-svm": [(c, gamma) for c in (1, 3, 10, 30) for gamma in (1e-4, 3e-4, 1e-3)],
            "shrinkage-lda": [0.3, 0.5, 0.7, 0.9]}

parser = argparse.ArgumentParser()
parser.add_argument("--work", type=Path, required=True, help="feature cache (not the repo)")
parser.add_argument("--seeds", default="0,1,2")
args = parser.parse_args()

clips = data.load(DEFAULT_DATA)
cache = extract.extract(clips, DEFAULT_OUT / MODEL_FILE, args.work / "features_msd", (3, 9),
                        with_handmade=False)  # the cache of the session-9 runs holds both counts
y = np.array([data.QUADRANTS.index(c.quadrant) for c in clips])
groups = np.array([c.artist for c in clips])
x = heads.Candidate("shipped inputs", 3, inputs=INPUTS).features(cache)


def model(kind: str, setting):
    if kind == "rbf-svm":
        return make_pipeline(StandardScaler(), SVC(C=setting[0], gamma=setting[1]))
    return make_pipeline(StandardScaler(), LinearDiscriminantAnalysis(solver="lsqr", shrinkage=setting))


def cross_validate(kind: str, seed: int) -> dict:
    predicted, chosen = np.zeros(len(y), int), []
    for train, test in evaluate.folds_for(y, groups, 5, seed):
        inner = evaluate.folds_for(y[train], groups[train], 4, seed + 1)
        scores = [np.mean(np.concatenate([model(kind, setting).fit(x[train][a], y[train][a]).predict(x[train][b])
                                          == y[train][b] for a, b in inner])) for setting in SETTINGS[kind]]
        setting = SETTINGS[kind][int(np.argmax(scores))]
        predicted[test] = model(kind, setting).fit(x[train], y[train]).predict(x[test])
        chosen.append(setting)
    precision = {data.QUADRANTS[q]: round(float(np.mean(y[predicted == q] == q)), 3) for q in range(4)}
    return {"seed": seed, "quadrant_accuracy": round(float(np.mean(predicted == y)), 4), "precision": precision,
            "chosen": chosen}


seeds = [int(s) for s in args.seeds.split(",")]
with threadpool_limits(1):
    rows = {kind: [cross_validate(kind, seed) for seed in seeds] for kind in SETTINGS}
print(json.dumps({"inputs": INPUTS, "patches": 3, "fold_seeds": seeds, "rows": {
    kind: {"quadrant_accuracy_mean": round(float(np.mean([r["quadrant_accuracy"] for r in per_seed])), 4),
           "precision_mean": {q: round(float(np.mean([r["precision"][q] for r in per_seed])), 3)
                              for q in data.QUADRANTS},
           "per_seed": per_seed} for kind, per_seed in rows.items()}}, indent=1, default=str))
