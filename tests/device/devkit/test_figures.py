"""The figures of moodbox simulate: intervals over seeds."""

from __future__ import annotations

import pytest

from moodbox.devkit.figures import interval


def test_interval_is_the_mean_with_a_95_percent_half_width():
    assert interval([0.5, 0.7]) == {"mean": 0.6, "half": pytest.approx(1.96 * 0.1414 / 1.4142, abs=1e-3), "n": 2}
    assert interval([None]) == {"mean": None, "half": None, "n": 0}
