"""Loading a classification workspace: gt and pred labels as shared class codes, aligned by id."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from autoscorer.errors import MissingColumn, ParseError
from autoscorer.scorers.base import ScoringContext
from autoscorer.scorers.builtin.labels import LabelSpace, local_codes
from autoscorer.scorers.builtin.tabular_common import csv_format, resolve_weights, weight_columns
from autoscorer.workspace.align import align_ids
from autoscorer.workspace.tabular import Column, CsvTable, read_table

PROB_PREFIX = "prob_"
ID, LABEL = Column("id", "id"), Column("label", "label")


@dataclass
class Scores:
    """Per-class scores from ``prob_<label>`` columns, in ground-truth row order."""

    matrix: np.ndarray  # rows x score columns, columns in class order
    classes: np.ndarray  # class code of each column
    y_true: np.ndarray  # index of each row's true class among the columns


@dataclass
class ClassificationData:
    y_true: np.ndarray
    y_pred: np.ndarray
    space: LabelSpace
    weights: np.ndarray | None
    ids: pa.ChunkedArray  # ground-truth ids, for error cases
    load_seconds: float
    scores: Scores | None = None


def load_classification(
    ctx: ScoringContext, sample_weight: Any = None, *, with_scores: bool = False
) -> ClassificationData:
    """Read both files, align predictions to the ground truth, encode labels."""
    fmt = csv_format(ctx)
    started = time.perf_counter()
    gt = read_table(ctx.gt_path, [ID, LABEL, *weight_columns(sample_weight)], fmt)
    prefix = PROB_PREFIX if with_scores else None
    pred = read_table(ctx.pred_path, [ID, LABEL], fmt, prefix=prefix)
    load_seconds = time.perf_counter() - started
    order = align_ids(gt, pred)
    gt_local, pred_local = local_codes(gt.columns["label"]), local_codes(pred.columns["label"])
    score_cols = [c for c in pred.columns if prefix and c.startswith(prefix)]
    raw = [t for _, t in gt_local.values + pred_local.values]
    space = LabelSpace.build(
        raw + [c[len(PROB_PREFIX) :] for c in score_cols], ctx.meta.label_mapping
    )
    y_true, y_pred = space.encode(gt_local), space.encode(pred_local)
    data = ClassificationData(
        y_true=y_true,
        y_pred=y_pred if order is None else y_pred[order],
        space=space,
        weights=resolve_weights(sample_weight, gt),
        ids=gt.columns["id"],
        load_seconds=load_seconds,
    )
    if score_cols:
        data.scores = _scores(pred, gt, score_cols, space, data.y_true, order)
    return data


def _scores(
    pred: CsvTable,
    gt: CsvTable,
    columns: list[str],
    space: LabelSpace,
    y_true: np.ndarray,
    order: np.ndarray | None,
) -> Scores:
    """The score matrix, its columns sorted by class (ties then break as in scikit-learn)."""
    by_class: dict[int, str] = {}
    for col in columns:
        code = space.code(col[len(PROB_PREFIX) :])
        assert code is not None  # every score column's label is part of the space
        if code in by_class:
            raise ParseError(
                f"{pred.name}: columns '{by_class[code]}' and '{col}' are scores for the "
                f"same label '{space.names[code]}'",
                field=pred.name,
                details={"file": pred.name, "columns": [by_class[code], col]},
            )
        by_class[code] = col
    classes = np.array(sorted(by_class), dtype=np.int64)
    position = np.full(len(space), -1, dtype=np.int64)
    position[classes] = np.arange(len(classes))
    true_pos = position[y_true]
    if (true_pos < 0).any():
        row = int(np.argmin(true_pos >= 0))
        label = space.names[y_true[row]]
        raise MissingColumn(
            f"{pred.name} has score columns but none named '{PROB_PREFIX}{label}' for label "
            f"'{label}' ({gt.name} data row {row + 1}, 1-based); add a column for every label",
            field=pred.name,
            details={"file": pred.name, "missing": [f"{PROB_PREFIX}{label}"]},
        )
    matrix = np.column_stack([pred.numbers(by_class[int(c)]) for c in classes])
    return Scores(matrix if order is None else matrix[order], classes, true_pos)
