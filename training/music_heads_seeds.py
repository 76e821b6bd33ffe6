"""Issue 28: the music-mood heads the card does not list, by the card's artist-grouped CV over several fold seeds.

Reads the feature cache of a ``moodbox-train music`` run (no network is run when the cache holds the counts asked
for) and, for each fold seed, cross-validates with the card's nested choice of regularisation and temperature
(``heads.cross_validate``): the 4-quadrant logistic head at each patch count, and two ways of telling sad from calm
that the issue suggests: separate arousal and valence heads multiplied into quadrants, and a Q3-vs-Q4 specialist
that splits the 4-quadrant head's calm mass. For ``auto-calming``: the card's cross-validated floor (precision and
coverage) and the best precision reachable at 40% of the Q4 clips (a floor picked with hindsight on the
out-of-fold scores: an upper bound) for P(Q4) and for P(low arousal) x P(positive valence).
    cd training && PYTHONPATH=.:../device .venv/bin/python music_heads_seeds.py --run-dir runs/music \\
        --patch-counts 3 --seeds 0,1,2 > experiments/issue28-s4-heads-3.json
"""

import argparse
import json
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from moodbox_training.music import data, evaluate, extract, floors, heads
from moodbox_training.music.cli import DEFAULT_DATA, DEFAULT_OUT, MODEL_FILE

parser = argparse.ArgumentParser()
parser.add_argument("--run-dir", type=Path, required=True)
parser.add_argument("--patch-counts", default="3")
parser.add_argument("--seeds", default="0,1,2")
args = parser.parse_args()
counts = tuple(int(k) for k in args.patch_counts.split(","))

clips = data.load(DEFAULT_DATA)
features = extract.extract(clips, DEFAULT_OUT / MODEL_FILE, args.run_dir / "features", counts, with_handmade=False)
y = np.array([data.QUADRANTS.index(c.quadrant) for c in clips])
groups = np.array([c.artist for c in clips])
low, positive = (y >= 2).astype(int), np.isin(y, [0, 3]).astype(int)


def binary(x, target, train, test, seed):
    """P(target) of the test clips from a logistic head fitted (nested, as the card's) on the training clips."""
    member = heads.fit(x[train], target[train], groups[train], "logistic", seed)[0]
    model = member[1]
    return model.predict_proba(x[test])[:, list(model.classes_).index(1)]


def best_precision_at(score, coverage=0.40):
    """Precision of the top-scored clips that hold ``coverage`` of the Q4 clips."""
    order = np.argsort(-score)
    needed = int(np.ceil(coverage * np.sum(y == 3)))
    taken = np.searchsorted(np.cumsum(y[order] == 3), needed) + 1
    return float(needed / taken)


def summary(proba):
    m = evaluate.metrics(y, proba)
    return {"quadrant": m["quadrant_accuracy"], "Q3_precision": m["per_quadrant"]["Q3"]["precision"],
            "Q4_precision": m["per_quadrant"]["Q4"]["precision"]}


rows = {}
with threadpool_limits(limits=1):
    for k in counts:
        x = heads.Candidate("", k, inputs=("pool", "embedding", "tags")).features(features)
        for seed in (int(s) for s in args.seeds.split(",")):
            cv = heads.cross_validate(x, y, groups, "logistic", 5, seed)
            four = cv["calibrated"]
            calm_low, calm_pos, specialist = (np.zeros(len(y)) for _ in range(3))
            for train, test in cv["folds"]:
                calm_low[test] = binary(x, low, train, test, seed)
                calm_pos[test] = binary(x, positive, train, test, seed)
                calm = train[y[train] >= 2]
                sub = heads.fit(x[calm], (y[calm] == 3).astype(int), groups[calm], "logistic", seed)[0][1]
                specialist[test] = sub.predict_proba(x[test])[:, 1]
            a, v = 1 - calm_low, calm_pos
            product = np.stack([a * v, a * (1 - v), (1 - a) * (1 - v), (1 - a) * v], axis=1)
            split, calm_mass = four.copy(), four[:, 2] + four[:, 3]
            split[:, 2], split[:, 3] = calm_mass * (1 - specialist), calm_mass * specialist
            for name, proba in (("4 quadrants", four), ("arousal x valence heads", product),
                                ("4 quadrants, Q3/Q4 specialist", split)):
                row = rows.setdefault(f"{k} patches; {name}", {"per_seed": []})
                row["per_seed"].append({"seed": seed, **summary(proba),
                                        "calming_precision_at_40pct_P(Q4)": best_precision_at(proba[:, 3])})
            rows[f"{k} patches; 4 quadrants"]["per_seed"][-1]["calming_precision_at_40pct_P(low)xP(pos)"] = \
                best_precision_at(calm_low * calm_pos)
            calming = floors.cross_validated(y, four, cv["folds"], ("Q4",), floors.TARGET)
            rows[f"{k} patches; 4 quadrants"]["per_seed"][-1].update(
                calming_floor_precision=calming["precision"], calming_floor_coverage=calming["coverage"])
for row in rows.values():
    row["mean"] = {key: float(np.mean([s[key] for s in row["per_seed"] if key in s]))
                   for key in row["per_seed"][0] if key != "seed"}
print(json.dumps({"protocol": "540 4Q clips, 5 artist-grouped folds per seed, nested choice as the card's",
                  "rows": rows}, indent=1))
