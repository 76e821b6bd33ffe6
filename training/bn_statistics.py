"""How much of a fine-tune's clean FER+ loss is its BatchNorm statistics? PublicTest FER+ accuracy (float,
mirror-averaged) of PyTorch weights as they are, and with every BN layer's statistics re-estimated (weights
untouched) on 6,000 FER2013 training faces augmented as in training, clean or with the device's degradations:
    PYTHONPATH=training training/.venv/bin/python training/bn_statistics.py W.pt [W2.pt ...] [--degrade-share 0.4]
(issue 23: vgg24.pt re-estimated on the fine-tunes' batches loses ~1.6 points with no weight changed, yet fine-tunes
re-estimated on clean faces, or trained with --freeze-bn-stats, do not get their points back).
"""

import argparse
import copy

import numpy as np
import torch

from moodbox_training import data
from moodbox_training.torch_train import augment, degrade, load_weights, public_scores

parser = argparse.ArgumentParser()
parser.add_argument("weights", nargs="+")
parser.add_argument("--degrade-share", type=float, default=0.4)
parser.add_argument("--data", default="../shared/data")
args = parser.parse_args()
torch.set_num_threads(1)
torch.manual_seed(0)
fer = data.load(args.data)
faces = torch.from_numpy(fer.pixels[np.random.default_rng(0).choice(fer.split("train"), 6000, replace=False)])
faces = faces.float()[:, None]


def re_estimated(model, batches):
    model = copy.deepcopy(model)
    for module in model.modules():
        if isinstance(module, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
            module.reset_running_stats()
            module.momentum = None  # a plain mean over every batch
    model.train()
    with torch.no_grad():
        for start in range(0, len(faces), 128):
            model(batches(faces[start:start + 128]))
    return model.eval()


for path in args.weights:
    model = load_weights(path)[0]
    variants = {"as_is": model,
                "bn_on_augmented_clean": re_estimated(model, lambda x: augment(x, 20.0)),
                f"bn_on_augmented_degraded_{args.degrade_share}":
                    re_estimated(model, lambda x: degrade(augment(x, 20.0), args.degrade_share))}
    scores = {name: round(public_scores(variant, fer, "cpu")["public_ferplus_acc"], 4)
              for name, variant in variants.items()}
    print(path, scores, flush=True)
