"""The per-class logit bias chosen on the actor folds and PublicTest, and the uniform soup of fold fine-tunes."""

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from moodbox_training.adjust import RECORD, bias_for, choose_bias, raise_class, search  # noqa: E402
from moodbox_training.torch_train import BEST, load_weights  # noqa: E402
from moodbox_training.wise import SOUP_RECORD, soup  # noqa: E402

from test_wise import network, save_run, tiny_sets  # noqa: E402

pytestmark = pytest.mark.training


def views(logits):
    logits = np.asarray(logits, dtype=np.float64)
    return logits, logits  # the mirror image scores the same


def test_the_bias_raises_a_swallowed_class_on_the_actors_while_publictest_keeps_its_floor():
    # actors: three angry faces read as neutral by a small margin; PublicTest: neutral faces read clearly
    actors = views([[0.75, 0, 0, 0, 0, 0, 1.0]] * 3 + [[0, 0, 0, 0, 0, 0, 1.0]])
    actor_truth = np.array([0, 0, 0, 6])
    public = views([[0, 0, 0, 0, 0, 0, 2.0]] * 4 + [[2.0, 0, 0, 0, 0, 0, 0]])
    public_truth = np.array([6, 6, 6, 6, 0])
    chosen = search(public, public_truth, [actors], [actor_truth], floor=1.0)
    bias = np.asarray(chosen["bias"])
    assert bias[0] - bias[6] > 0.25  # angry now wins on the actors
    assert ((public[0] + bias).argmax(1) == public_truth).all()  # and PublicTest keeps every face
    assert chosen["objective"] == pytest.approx(1.0)
    # a floor no bias can keep leaves the network as it is
    assert search(public, public_truth, [actors], [actor_truth], floor=1.01) == {"bias": [0.0] * 7, "objective": None}


def test_each_fold_gets_the_bias_chosen_without_its_actors(tmp_path):
    fer, posed = tiny_sets(["P01", "P02", "P03"])
    base = save_run(tmp_path / "base", network(0)) / BEST
    final = save_run(tmp_path / "final", network(1))
    folds = [save_run(tmp_path / f"fold{i}", network(2 + i), posed_holdout=actor)
             for i, actor in enumerate(["P01", "P02", "P03"])]
    record = choose_bias(fer, posed, final, folds, base, alpha=0.5, max_public_drop=1.0)
    assert json.loads((final / RECORD).read_text()) == record
    assert record["held_out"]["adjusted_cross_fitted"]["rows"] == 21
    assert record["held_out"]["adjusted_in_sample"]["balanced_accuracy"] >= \
        record["held_out"]["unadjusted"]["balanced_accuracy"]
    own, how = bias_for(final / RECORD, folds[1])
    assert own.tolist() == record["bias_without"][str(folds[1].resolve())] and "without" in how
    assert bias_for(final / RECORD, final)[0].tolist() == record["bias"]


def test_a_raised_class_goes_as_far_as_publictest_accuracy_allows():
    # PublicTest: two fear faces read as neutral by 0.35 and 0.75; four neutral faces 1.05 ahead of fear
    public = views([[0, 0, 0, 0, 0, 0, 0.35], [0, 0, 0, 0, 0, 0, 0.75]] + [[0, 0, 0, 0, 0, 0, 1.05]] * 4)
    truth = np.array([2, 2, 6, 6, 6, 6])
    fear = 2
    assert raise_class(public, truth, fear, max_drop=0.0)["bias"] == [0, 0, 1.0, 0, 0, 0, 0]  # neutral kept
    assert raise_class(public, truth, fear, max_drop=0.5)["bias"][fear] == 1.5  # 4 of 6 may go: it goes to the end
    assert raise_class(views([[0, 0, 0, 0, 0, 0, 0.1]]), np.array([6]), fear, 0.0)["bias"] == [0.0] * 7


def test_a_raised_bias_is_every_folds_and_reports_the_actors(tmp_path):
    fer, posed = tiny_sets(["P01", "P02"])
    base = save_run(tmp_path / "base", network(0)) / BEST
    final = save_run(tmp_path / "final", network(1))
    folds = [save_run(tmp_path / f"fold{i}", network(2 + i), posed_holdout=actor)
             for i, actor in enumerate(["P01", "P02"])]
    record = choose_bias(fer, posed, final, folds, base, alpha=0.5, max_public_drop=0.05, raised="fear")
    assert [value for i, value in enumerate(record["bias"]) if i != 2] == [0.0] * 6 and record["bias"][2] >= 0
    assert record["public"]["adjusted"]["public_ferplus_acc"] >= record["floor_public_ferplus_acc"] - 1e-12
    assert record["held_out"]["adjusted"]["rows"] == record["held_out"]["unadjusted"]["rows"] == 14
    for run in (final, *folds):
        bias, how = bias_for(final / RECORD, run)
        assert bias.tolist() == record["bias"] and how == "fear raised on PublicTest alone"


def test_a_soup_is_the_mean_of_its_members_weights_and_names_them(tmp_path):
    members = [save_run(tmp_path / f"fold{i}", network(i), posed_holdout=f"P0{i}") for i in range(3)]
    soup(tmp_path / "soup", members)
    mixed, config = load_weights(tmp_path / "soup" / BEST)
    weights = [load_weights(member / BEST)[0].state_dict() for member in members]
    for key, value in mixed.state_dict().items():
        if value.dtype.is_floating_point:
            torch.testing.assert_close(value, sum(w[key] for w in weights) / 3)
    assert config.posed_holdout == ""
    assert json.loads((tmp_path / "soup" / SOUP_RECORD).read_text())["members"] == [str(m) for m in members]
    with pytest.raises(ValueError, match="different settings"):
        soup(tmp_path / "mixed", [members[0], save_run(tmp_path / "other", network(5), learning_rate=0.1)])
