"""WiSE-FT weight interpolation and the rule that picks how far to move towards the fine-tune."""

import json
from dataclasses import asdict

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from moodbox_training.data import FerData  # noqa: E402
from moodbox_training.posed import PosedData  # noqa: E402
from moodbox_training.torch_train import BEST, CONFIG, TorchTrainConfig, build, interpolate  # noqa: E402
from moodbox_training.wise import RECORD, choose_alpha  # noqa: E402

pytestmark = pytest.mark.training


def network(seed, width=4):
    torch.manual_seed(seed)
    model = build(width).eval()
    with torch.no_grad():
        for buffer in model.state_dict().values():
            if buffer.dtype.is_floating_point:
                buffer.uniform_(0.5, 1.5)  # BN statistics that differ between the two networks
    return model


def test_interpolation_mixes_every_weight_and_statistic_and_keeps_the_ends():
    base, tuned = network(0), network(1)
    half = interpolate(base, tuned, 0.5)
    for key, value in half.state_dict().items():
        if value.dtype.is_floating_point:
            torch.testing.assert_close(value, (base.state_dict()[key] + tuned.state_dict()[key]) / 2)
    faces = torch.rand(2, 1, 48, 48) * 255
    torch.testing.assert_close(interpolate(base, tuned, 0.0)(faces), base(faces))
    torch.testing.assert_close(interpolate(base, tuned, 1.0)(faces), tuned(faces))


def save_run(folder, model, **settings):
    config = TorchTrainConfig(width=4, **settings)
    folder.mkdir(parents=True)
    torch.save({"model": model.state_dict(), "config": asdict(config), "epoch": 1}, folder / BEST)
    (folder / CONFIG).write_text(json.dumps(asdict(config)))
    return folder


def tiny_sets(actors: list[str]) -> tuple[FerData, PosedData]:
    """60 random FER2013-shaped faces (20 per split, one full vote each) and each actor posing all seven labels."""
    rng = np.random.default_rng(0)
    n = 60
    votes = np.zeros((n, 10), np.uint8)
    votes[np.arange(n), rng.integers(0, 7, n)] = 10
    fer = FerData(rng.integers(0, 256, (n, 48, 48), dtype=np.uint8), rng.integers(0, 7, n).astype(np.uint8),
                  np.repeat(np.array([0, 1, 2], np.uint8), 20), votes, sha256={})
    k = len(actors)
    posed = PosedData(rng.integers(0, 256, (7 * k, 48, 48), dtype=np.uint8), np.tile(np.arange(7, dtype=np.uint8), k),
                      np.repeat(np.array(actors), 7), np.eye(7, dtype=np.float32)[np.tile(np.arange(7), k)],
                      sha256={})
    return fer, posed


def test_the_chosen_alpha_is_the_best_on_held_out_actors_among_those_that_keep_publictest(tmp_path):
    fer, posed = tiny_sets(["P01", "P02"])
    base = save_run(tmp_path / "base", network(0)) / BEST
    final = save_run(tmp_path / "final", network(1))
    folds = [save_run(tmp_path / f"fold{i}", network(2 + i), posed_holdout=actor) for i, actor in
             enumerate(["P01", "P02"])]
    record = choose_alpha(fer, posed, final, folds, base, alphas=(0.0, 0.5, 1.0), max_public_drop=1.0)
    assert json.loads((final / RECORD).read_text()) == record
    assert [c["alpha"] for c in record["candidates"]] == [0.0, 0.5, 1.0]
    assert all(c["held_out"]["rows"] == 14 for c in record["candidates"])  # both folds' actors, pooled
    best = max(record["candidates"], key=lambda c: c["held_out"]["balanced_accuracy"])
    assert record["chosen_alpha"] == best["alpha"]
    strict = choose_alpha(fer, posed, final, folds, base, alphas=(0.0, 0.5, 1.0), max_public_drop=0.0)
    base_public = strict["base_public_ferplus_acc"]
    assert all(c["eligible"] == (c["public_ferplus_acc"] >= base_public) for c in strict["candidates"])
    assert strict["candidates"][0]["eligible"]  # alpha 0 is the base itself
