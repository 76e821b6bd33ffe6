"""PublicTest FER+ accuracy of PyTorch weights on clean faces and on the evaluation's dim + blur + noise faces
at 48/32/24 px (``robustness.py``), mirror-averaged in float, before any export: a quick look at a fine-tune's
robustness, e.g. a fold run of issue 23 (``best_ema.pt``), optionally interpolated with its start.
    PYTHONPATH=training training/.venv/bin/python training/degraded_public.py W.pt [W2.pt ...] \\
        [--wise-from training/weights/vgg24.pt --alpha 0.5]
"""

import argparse

from moodbox_training import data, robustness
from moodbox_training.torch_train import interpolate, load_weights, logits_of_both_views, softmax

parser = argparse.ArgumentParser()
parser.add_argument("weights", nargs="+")
parser.add_argument("--wise-from")
parser.add_argument("--alpha", type=float, default=1.0)
parser.add_argument("--data", default="../shared/data")
args = parser.parse_args()
fer = data.load(args.data)
faces, truth = fer.ferplus_faces("public")
views = {"clean_48": faces, **{f"degraded_{size}": robustness.degraded(faces, size, seed=size)
                               for size in robustness.SIZES}}
for path in args.weights:
    model = load_weights(path)[0]
    if args.wise_from:
        model = interpolate(load_weights(args.wise_from)[0], model, args.alpha)
    scores = {}
    for name, pixels in views.items():
        plain, mirror = logits_of_both_views(model, pixels)
        scores[name] = round(float(((softmax(plain) + softmax(mirror)).argmax(1) == truth).mean()), 4)
    print(path, f"alpha {args.alpha}" if args.wise_from else "", scores, flush=True)
