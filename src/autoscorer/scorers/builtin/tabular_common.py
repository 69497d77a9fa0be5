"""Pieces shared by the CSV scorers: file format, sample weights, JSON-safe metrics."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from autoscorer.errors import InvalidParameter, InvalidValue
from autoscorer.scorers.base import Param, ScoringContext
from autoscorer.workspace.tabular import Column, CsvFormat, CsvTable, row_error

SAMPLE_WEIGHT = Param(
    type="array|string",
    default=None,
    description=(
        "Per-row weights: a list in ground-truth row order, or the name of a numeric "
        "column of input/gt.csv (e.g. 'weight'). Weights must be finite and >= 0."
    ),
)


def csv_format(ctx: ScoringContext) -> CsvFormat:
    """``meta.json``'s ``data`` block and the size limit, as the CSV layer wants them."""
    return CsvFormat(encoding=ctx.encoding, has_header=ctx.has_header, max_bytes=ctx.max_file_bytes)


def weight_columns(sample_weight: Any) -> list[Column]:
    """The extra ground-truth column to load when ``sample_weight`` names one."""
    return [Column(sample_weight, "number")] if isinstance(sample_weight, str) else []


def resolve_weights(sample_weight: Any, gt: CsvTable) -> np.ndarray | None:
    """The weights in ground-truth row order (None: unweighted), checked."""
    if sample_weight is None:
        return None
    if isinstance(sample_weight, str):
        weights = gt.numbers(sample_weight)
        negative = np.flatnonzero(weights < 0)
        if len(negative):
            row = int(negative[0])
            text = f"weight {weights[row]} is negative"
            raise row_error(InvalidValue, gt.name, row, text, column=sample_weight)
    else:
        weights = _weights_from_list(sample_weight, gt)
    if not weights.sum() > 0:
        raise InvalidParameter("sample weights sum to zero", field="sample_weight")
    return weights


def _weights_from_list(values: list[Any], gt: CsvTable) -> np.ndarray:
    if len(values) != gt.num_rows:
        raise InvalidParameter(
            f"parameter 'sample_weight' has {len(values)} values but {gt.name} has "
            f"{gt.num_rows} data rows",
            field="sample_weight",
        )
    if any(isinstance(v, bool) or not isinstance(v, int | float) for v in values):
        raise InvalidParameter("parameter 'sample_weight' must hold numbers", field="sample_weight")
    weights = np.asarray(values, dtype=np.float64)
    if not (np.isfinite(weights).all() and (weights >= 0).all()):
        raise InvalidParameter(
            "parameter 'sample_weight' must hold finite numbers >= 0", field="sample_weight"
        )
    return weights


def json_safe(value: Any) -> Any:
    """NaN / inf -> None, numpy scalars -> Python numbers, recursively."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return json_safe(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
