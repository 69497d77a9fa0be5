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


def _squared_errors(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    diff = y_true - y_pred
    return np.multiply(diff, diff, out=diff)


def mean_squared_error(
    y_true: np.ndarray, y_pred: np.ndarray, sample_weight: np.ndarray | None = None
) -> float:
    return float(np.average(_squared_errors(y_true, y_pred), weights=sample_weight))


def root_mean_squared_error(
    y_true: np.ndarray, y_pred: np.ndarray, sample_weight: np.ndarray | None = None
) -> float:
    return math.sqrt(mean_squared_error(y_true, y_pred, sample_weight))


def mean_absolute_error(
    y_true: np.ndarray, y_pred: np.ndarray, sample_weight: np.ndarray | None = None
) -> float:
    diff = y_true - y_pred
    return float(np.average(np.abs(diff, out=diff), weights=sample_weight))


def _r2_parts(
    y_true: np.ndarray, squared: np.ndarray, sample_weight: np.ndarray | None
) -> tuple[float, float]:
    """R²'s numerator (weighted squared error) and denominator (weighted spread of y_true)."""
    weighted = squared if sample_weight is None else sample_weight * squared
    centred = y_true - np.average(y_true, weights=sample_weight)
    spread = np.multiply(centred, centred, out=centred)
    if sample_weight is not None:
        spread *= sample_weight
    return float(np.sum(weighted)), float(np.sum(spread))


def _r2_from_parts(n: int, numerator: float, denominator: float) -> float:
    if n < 2:
        return float("nan")
    if denominator == 0:
        return 1.0 if numerator == 0 else 0.0
    return 1.0 - numerator / denominator


def r2_score(
    y_true: np.ndarray, y_pred: np.ndarray, sample_weight: np.ndarray | None = None
) -> float:
    """Coefficient of determination, scikit-learn's convention for the degenerate cases."""
    parts = _r2_parts(y_true, _squared_errors(y_true, y_pred), sample_weight)
    return _r2_from_parts(len(y_true), *parts)


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
    """RMSE, MSE, MAE and R² with one pass for the errors, plus warnings for degenerate R²."""
    diff = y_true - y_pred
    mae = float(np.average(np.abs(diff), weights=sample_weight))
    squared = np.multiply(diff, diff, out=diff)
    mse = float(np.average(squared, weights=sample_weight))
    numerator, denominator = _r2_parts(y_true, squared, sample_weight)
    warnings = []
    if len(y_true) < 2:
        warnings.append("R² is not defined for fewer than two samples; reported as null")
    elif denominator == 0:
        warnings.append(
            "ground truth is constant, so R² is 1.0 for a perfect prediction and 0.0 otherwise"
        )
    return RegressionMetrics(
        rmse=math.sqrt(mse),
        mse=mse,
        mae=mae,
        r2=_r2_from_parts(len(y_true), numerator, denominator),
        warnings=warnings,
    )
