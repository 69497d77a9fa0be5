"""Regression metrics (pure numpy, exact against scikit-learn).

Weighted versions use ``np.average(..., weights=w)`` exactly like
``sklearn.metrics``. R² follows scikit-learn's ``force_finite=True``: when
``y_true`` is constant the score is 1.0 for a perfect prediction and 0.0
otherwise; with fewer than two samples it is NaN (reported as null).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np


def mean_squared_error(
    y_true: np.ndarray, y_pred: np.ndarray, sample_weight: np.ndarray | None = None
) -> float:
    diff = y_true - y_pred
    return float(np.average(diff * diff, weights=sample_weight))


def root_mean_squared_error(
    y_true: np.ndarray, y_pred: np.ndarray, sample_weight: np.ndarray | None = None
) -> float:
    return math.sqrt(mean_squared_error(y_true, y_pred, sample_weight))


def mean_absolute_error(
    y_true: np.ndarray, y_pred: np.ndarray, sample_weight: np.ndarray | None = None
) -> float:
    return float(np.average(np.abs(y_true - y_pred), weights=sample_weight))


def r2_score(
    y_true: np.ndarray, y_pred: np.ndarray, sample_weight: np.ndarray | None = None
) -> float:
    """Coefficient of determination, scikit-learn's convention for the degenerate cases."""
    if len(y_true) < 2:
        return float("nan")
    w = 1.0 if sample_weight is None else sample_weight
    diff = y_true - y_pred
    numerator = float(np.sum(w * (diff * diff)))
    centred = y_true - np.average(y_true, weights=sample_weight)
    denominator = float(np.sum(w * (centred * centred)))
    if denominator == 0:
        return 1.0 if numerator == 0 else 0.0
    return 1.0 - numerator / denominator


@dataclass
class RegressionMetrics:
    rmse: float
    mse: float
    mae: float
    r2: float
    warnings: list[str] = field(default_factory=list)


def regression_metrics(
    y_true: np.ndarray, y_pred: np.ndarray, sample_weight: np.ndarray | None = None
) -> RegressionMetrics:
    """RMSE, MSE, MAE and R² in one call, with warnings for the degenerate R² cases."""
    mse = mean_squared_error(y_true, y_pred, sample_weight)
    warnings = []
    if len(y_true) < 2:
        warnings.append("R² is not defined for fewer than two samples; reported as null")
    elif np.all(y_true == y_true[0]):
        warnings.append(
            "ground truth is constant, so R² is 1.0 for a perfect prediction and 0.0 otherwise"
        )
    return RegressionMetrics(
        rmse=math.sqrt(mse),
        mse=mse,
        mae=mean_absolute_error(y_true, y_pred, sample_weight),
        r2=r2_score(y_true, y_pred, sample_weight),
        warnings=warnings,
    )
