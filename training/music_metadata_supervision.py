"""Issue 28, session 11: does the 4Q set's own metadata, used in training only, teach the head more than the quadrant?

Each of the 540 clips comes with ``PQuad`` (the share of its AllMusic mood tags in its quadrant: how sure the label
is), its AllMusic mood tags and genres (``labels.csv``). The device sees only audio, so these can only shape training:
1. ``pquad``: each training clip weighted by PQuad ** k (a clip whose tags split between quadrants counts less);
2. ``soft``: targets (1 - lambda) x the quadrant + lambda x the quadrant distribution of the clip's mood tags, each
   tag's distribution counted over the other training clips that carry it (the clip itself left out);
3. ``tag-scores``: a ridge regression from the audio features to the training clips' mood tags and genres (those on
   >= 5 training clips), its cross-fitted scores given to the logistic regression alone or beside the features.
All on the shipped head's inputs (pool + embedding + tags, 3 excerpts), the card's artist-grouped folds and fold
seeds 0-2; C and each variant's setting chosen in each outer fold by an inner grouped CV (4 folds, accuracy). Figures
of raw probabilities (no temperature: the same for every row), the row ``quadrant only`` the card's head refitted
the same way (the card: 71.9%). The session-11 record:
    cd training && export PYTHONPATH=.:../device
    nice .venv/bin/python music_metadata_supervision.py --work /work/runs/music \\
        > experiments/issue28-s11-metadata-supervision.json
"""

import argparse
import csv
import json
import sys
import warnings
from collections import Counter
from pathlib import Path

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from moodbox_training.music import data, evaluate, extract, floors, heads
from moodbox_training.music.cli import DEFAULT_DATA, DEFAULT_OUT, MODEL_FILE

parser = argparse.ArgumentParser()
parser.add_argument("--work", type=Path, required=True, help="feature cache (not the repo)")
parser.add_argument("--seeds", default="0,1,2")
args = parser.parse_args()
warnings.filterwarnings("ignore", category=ConvergenceWarning)

clips = data.load(DEFAULT_DATA)
cache = extract.extract(clips, DEFAULT_OUT / MODEL_FILE, args.work / "features_msd", (3,), with_handmade=False)
with (Path(DEFAULT_DATA) / "labels.csv").open(newline="") as f:
    meta = {row["Song"]: row for row in csv.DictReader(f)}
y = np.array([data.QUADRANTS.index(c.quadrant) for c in clips])
groups = np.array([c.artist for c in clips])
pquad = np.array([float(meta[c.song]["PQuad"]) for c in clips])
mood_tags = [{t.strip() for t in meta[c.song]["MoodsStr"].split(";") if t.strip()} for c in clips]
genres = [{g.strip() for g in meta[c.song]["GenresStr"].split(";") if g.strip()} for c in clips]
x = heads.Candidate("shipped inputs", 3, inputs=("pool", "embedding", "tags")).features(cache)


def logistic(x_train, y_train, strength, weight=None, targets=None):
    """A standardised logistic regression; ``targets`` (rows of class shares) are learnt as weighted copies."""
    scaler = StandardScaler().fit(x_train)
    z = scaler.transform(x_train)
    if targets is not None:
        z, y_train, weight = np.tile(z, (4, 1)), np.repeat(np.arange(4), len(z)), targets.T.reshape(-1)
        z, y_train, weight = z[weight > 0], y_train[weight > 0], weight[weight > 0]
    model = LogisticRegression(C=strength, max_iter=5000).fit(z, y_train, sample_weight=weight)
    return lambda x_test: model.predict_proba(scaler.transform(x_test))


def tag_shares(train, share):
    """(1 - share) x each training clip's quadrant + share x its mood tags' quadrant distribution (leave-one-out)."""
    counts = {}
    for i in train:
        for tag in mood_tags[i]:
            counts.setdefault(tag, np.zeros(4))[y[i]] += 1
    targets = np.zeros((len(train), 4))
    for row, i in enumerate(train):
        spread = np.zeros(4)
        for tag in mood_tags[i]:
            others = counts[tag] - np.eye(4)[y[i]]
            spread += others / others.sum() if others.sum() else 0
        spread = spread / spread.sum() if spread.sum() else np.eye(4)[y[i]]
        targets[row] = (1 - share) * np.eye(4)[y[i]] + share * spread
    return targets


def tag_scores(train, x_test, ridge_alpha):
    """Ridge scores of the training clips' mood tags and genres: cross-fitted on ``train``, fitted on all of it
    for ``x_test``."""
    counts = Counter(name for i in train for name in mood_tags[i] | genres[i])
    names = sorted(name for name, n in counts.items() if n >= 5)
    truth = np.array([[name in mood_tags[i] or name in genres[i] for name in names] for i in train], float)
    scaler = StandardScaler().fit(x[train])
    z = scaler.transform(x[train])
    inside = np.zeros_like(truth)
    for a, b in evaluate.folds_for(y[train], groups[train], 4, 7):
        inside[b] = Ridge(alpha=ridge_alpha).fit(z[a], truth[a]).predict(z[b])
    return inside, Ridge(alpha=ridge_alpha).fit(z, truth).predict(scaler.transform(x_test))


def predict(kind, setting, train, x_test):
    strength, extra = setting
    if kind == "quadrant only":
        return logistic(x[train], y[train], strength)(x_test)
    if kind == "pquad":
        return logistic(x[train], y[train], strength, weight=pquad[train] ** extra)(x_test)
    if kind == "soft":
        return logistic(x[train], y[train], strength, targets=tag_shares(train, extra))(x_test)
    ridge_alpha, beside = extra
    inside, outside = tag_scores(train, x_test, ridge_alpha)
    if beside:
        inside, outside = np.hstack([x[train], inside]), np.hstack([x_test, outside])
    return logistic(inside, y[train], strength)(outside)


SETTINGS = {"quadrant only": [(c, None) for c in heads.C_GRID],
            "pquad": [(c, k) for c in heads.C_GRID for k in (1, 2, 4)],
            "soft": [(c, share) for c in heads.C_GRID for share in (0.25, 0.5, 0.75)],
            "tag-scores": [(c, (a, beside)) for c in heads.C_GRID for a in (300.0, 3000.0) for beside in (False, True)]}


def cross_validate(kind, seed):
    proba, chosen = np.zeros((len(y), 4)), []
    folds = evaluate.folds_for(y, groups, 5, seed)
    for train, test in folds:
        inner = evaluate.folds_for(y[train], groups[train], 4, seed + 1)
        scores = [np.mean([np.mean(predict(kind, setting, train[a], x[train[b]]).argmax(1) == y[train[b]])
                           for a, b in inner]) for setting in SETTINGS[kind]]
        setting = SETTINGS[kind][int(np.argmax(scores))]
        proba[test] = predict(kind, setting, train, x[test])
        chosen.append(setting)
    m = evaluate.metrics(y, proba)
    calming = floors.cross_validated(y, proba, folds, ("Q4",), floors.TARGET)
    return {"seed": seed, "quadrant": round(m["quadrant_accuracy"], 4),
            "Q3_precision": round(m["per_quadrant"]["Q3"]["precision"], 3),
            "Q4_precision": round(m["per_quadrant"]["Q4"]["precision"], 3),
            "calming_floor_precision": round(calming["precision"], 3),
            "calming_floor_coverage": round(calming["coverage"], 3), "chosen": chosen}


seeds = [int(s) for s in args.seeds.split(",")]
rows = {}
with threadpool_limits(1):
    for kind in SETTINGS:
        per_seed = [cross_validate(kind, seed) for seed in seeds]
        rows[kind] = {"mean": {key: round(float(np.mean([r[key] for r in per_seed])), 4)
                               for key in per_seed[0] if key not in ("seed", "chosen")}, "per_seed": per_seed}
        print(kind, rows[kind]["mean"], file=sys.stderr, flush=True)
print(json.dumps({"note": "issue 28, session 11: the 4Q metadata (PQuad, mood tags, genres) in training only; "
                          "command and rows in training/music_metadata_supervision.py",
                  "inputs": ["pool", "embedding", "tags"], "patches": 3, "fold_seeds": seeds, "rows": rows},
                 indent=1, default=str))
