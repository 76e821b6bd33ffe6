"""The training-setup timer: every setup runs and is written down (the figures themselves are the machine's)."""

import json

import pytest

pytest.importorskip("torch")
pytest.importorskip("tensorflow")

from moodbox_training.throughput import RESULT, measure  # noqa: E402

pytestmark = pytest.mark.training


def test_every_training_setup_is_timed_and_written(tmp_path):
    report = measure(tmp_path, width=4, steps=1)
    written = json.loads((tmp_path / RESULT).read_text())
    assert written == report and written["network"] == "plain VGG w4"
    frameworks = {setup["framework"] for setup in written["setups"]}
    assert frameworks == {"PyTorch", "Keras/TF"}  # the Keras port builds and trains, as the PyTorch network does
    assert all(setup["images_per_second"] > 0 for setup in written["setups"])
