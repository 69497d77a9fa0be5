"""Built-in regression scorer ``regression_rmse`` (RMSE primary, lower is better).

The math lives in :mod:`autoscorer.scorers.functional.regression`; see
``docs/scorers/regression.md``.
"""

from __future__ import annotations

import time
from typing import Any, ClassVar

from autoscorer.scorers.base import Param, ScoreOutput, Scorer, ScoringContext
from autoscorer.scorers.builtin.tabular_common import (
    SAMPLE_WEIGHT,
    csv_format,
    json_safe,
    resolve_weights,
    weight_columns,
)
from autoscorer.scorers.functional.regression import regression_metrics
from autoscorer.scorers.registry import register_scorer
from autoscorer.workspace.align import align_ids
from autoscorer.workspace.tabular import Column, read_table

ID, VALUE = Column("id", "id"), Column("value", "number")


@register_scorer
class RegressionRMSE(Scorer):
    """Root mean squared error, with MSE, MAE and R²."""

    name = "regression_rmse"
    version = "1.0.0"
    description = "Root Mean Square Error for regression tasks, with MSE, MAE and R²"
    task_type = "regression"
    supported_formats: ClassVar[list[str]] = ["csv"]
    documentation = "docs/scorers/regression.md"
    gt_file = "input/gt.csv"
    ground_truth: ClassVar[tuple[str, ...] | None] = ("input/gt.csv",)
    pred_file = "output/pred.csv"
    required_columns: ClassVar[list[str]] = ["id", "value"]
    data_types: ClassVar[dict[str, str]] = {"id": "string|integer", "value": "number"}
    primary_metric = "rmse"
    higher_is_better = False
    additional_metrics: ClassVar[list[str]] = ["mse", "mae", "r2"]
    parameters: ClassVar[dict[str, Param]] = {"sample_weight": SAMPLE_WEIGHT}
    examples: ClassVar[list[dict[str, Any]]] = [
        {
            "name": "Basic usage",
            "description": "RMSE of pred.csv's value against gt.csv's value, matched by id",
            "parameters": {},
            "expected_output": {"rmse": 0.5, "mse": 0.25, "mae": 0.4, "r2": 0.91},
        },
        {
            "name": "Weighted rows",
            "description": "Weights from a 'weight' column of input/gt.csv",
            "parameters": {"sample_weight": "weight"},
        },
    ]
    # RMSE has no natural scale, so no default rank thresholds; set them in meta.json

    def evaluate(self, ctx: ScoringContext) -> ScoreOutput:
        fmt = csv_format(ctx)
        sample_weight = self.params["sample_weight"]
        started = time.perf_counter()
        gt = read_table(ctx.gt_path, [ID, VALUE, *weight_columns(sample_weight)], fmt)
        pred = read_table(ctx.pred_path, [ID, VALUE], fmt)
        load_seconds = time.perf_counter() - started
        order = align_ids(gt, pred)
        y_pred = pred.numbers("value")
        result = regression_metrics(
            gt.numbers("value"),
            y_pred if order is None else y_pred[order],
            resolve_weights(sample_weight, gt),
        )
        metrics = {"rmse": result.rmse, "mse": result.mse, "mae": result.mae, "r2": result.r2}
        return ScoreOutput(
            metrics=json_safe(metrics),
            warnings=result.warnings,
            data_size=gt.num_rows,
            data_loading=load_seconds,
        )
