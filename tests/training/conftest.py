"""The training tests run in the training venv (TensorFlow); they skip cleanly anywhere else."""

import pytest

pytest.importorskip("moodbox_training", reason="training package not installed: run tests/run, or "
                    "`pip install -e 'training[test]'` in training/.venv")
