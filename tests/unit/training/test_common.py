"""Shared training helpers (service/training/common.py)."""

from __future__ import annotations

import numpy as np
import pytest

from service.training import common


def test_calibration_error_is_zero_when_each_bin_matches_its_rate() -> None:
    y = np.array([0, 0, 0, 1, 1, 1, 1, 0])
    proba = np.array([0.25, 0.25, 0.25, 0.25, 0.75, 0.75, 0.75, 0.75])
    assert common.calibration_error(y, proba) == pytest.approx(0.0)


def test_calibration_error_weights_each_bin_by_its_share() -> None:
    # One bin holds every text: it says 0.95, half of them are positive.
    y = np.array([1, 1, 0, 0])
    proba = np.array([0.95, 0.95, 0.95, 0.95])
    assert common.calibration_error(y, proba) == pytest.approx(0.45)
    # Two bins of equal share: |0.15 - 0| and |0.95 - 1| averaged.
    y2 = np.array([0, 0, 1, 1])
    proba2 = np.array([0.15, 0.15, 0.95, 0.95])
    assert common.calibration_error(y2, proba2) == pytest.approx(0.1)
