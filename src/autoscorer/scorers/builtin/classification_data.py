"""Loading a classification workspace: labels of gt and pred as shared classes, aligned by id.

For speed the labels stay in their *local* codes (integer value offsets or the
dictionary indices pyarrow produced) and one ``bincount`` builds a small
confusion matrix over those codes; that matrix is then folded into classes. The
per-row class codes (``y_true`` / ``y_pred``) are only computed when a caller
needs them (error cases, top-k, or too many distinct labels for a matrix).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pyarrow as pa

from autoscorer.errors import MissingColumn, ParseError
from autoscorer.scorers.base import ScoringContext
from autoscorer.scorers.builtin.labels import LabelSpace, LocalCodes, local_codes
from autoscorer.scorers.builtin.tabular_common import csv_format, resolve_weights, weight_columns
from autoscorer.scorers.functional import classification as F
from autoscorer.workspace.align import align_ids
from autoscorer.workspace.tabular import Column, CsvTable, read_table

PROB_PREFIX = "prob_"
ID, LABEL = Column("id", "id"), Column("label", "label")
RAW_MATRIX_CELLS = 1 << 22  # local codes gt x pred; beyond this, per-row class codes are used
CLASS_MATRIX_UP_TO = 2000  # classes; beyond this no confusion matrix, only per-class counts


@dataclass
class Scores:
    """Per-class scores from ``prob_<label>`` columns, in ground-truth row order."""

    matrix: np.ndarray  # rows x score columns, columns in class order
    classes: np.ndarray  # class code of each column
    y_true: np.ndarray  # index of each row's true class among the columns


@dataclass
class ClassificationData:
    gt: LocalCodes
    pred: LocalCodes  # already in ground-truth row order
    raw_counts: np.ndarray | None  # unweighted matrix over local codes, if small enough
    space: LabelSpace
    weights: np.ndarray | None
    ids: pa.ChunkedArray  # ground-truth ids, for error cases
    load_seconds: float
    scores: Scores | None = None

    @cached_property
    def y_true(self) -> np.ndarray:
        return self.space.lut(self.gt.texts)[self.gt.codes]

    @cached_property
    def y_pred(self) -> np.ndarray:
        return self.space.lut(self.pred.texts)[self.pred.codes]

    @property
    def size(self) -> int:
        return len(self.gt.codes)

    def confusion(self) -> np.ndarray | None:
        """Class confusion matrix (weighted if weights are given), None if too big to build."""
        if self.raw_counts is None:
            return None
        raw = self.raw_counts
        if self.weights is not None:
            raw = _raw_confusion(self.gt, self.pred, self.weights)
        return F.remap_confusion(
            raw, self.space.lut(self.gt.texts), self.space.lut(self.pred.texts), len(self.space)
        )

    def counts(self) -> tuple[np.ndarray | None, F.ClassCounts, float]:
        """Class confusion matrix (None if too big), per-class counts and accuracy."""
        cm = self.confusion()
        k = len(self.space)
        if cm is None and k <= CLASS_MATRIX_UP_TO:
            cm = F.confusion_matrix(self.y_true, self.y_pred, k, self.weights)
        if cm is not None:
            return cm, F.ClassCounts.from_confusion(cm), F.accuracy_from_confusion(cm)
        y_true, y_pred = self.y_true, self.y_pred
        counts = F.ClassCounts.from_labels(y_true, y_pred, len(self.space), self.weights)
        return None, counts, F.accuracy(y_true, y_pred, self.weights)


def load_classification(
    ctx: ScoringContext, sample_weight: Any = None, *, with_scores: bool = False
) -> ClassificationData:
    """Read both files, align predictions to the ground truth, find the classes."""
    fmt = csv_format(ctx)
    started = time.perf_counter()
    gt = read_table(ctx.gt_path, [ID, LABEL, *weight_columns(sample_weight)], fmt)
    prefix = PROB_PREFIX if with_scores else None
    pred = read_table(ctx.pred_path, [ID, LABEL], fmt, prefix=prefix)
    load_seconds = time.perf_counter() - started
    order = align_ids(gt, pred)
    g, p = local_codes(gt.columns["label"]), local_codes(pred.columns["label"])
    if order is not None:
        p = p.reordered(order)
    raw = _raw_confusion(g, p, None) if len(g.texts) * len(p.texts) <= RAW_MATRIX_CELLS else None
    score_cols = [c for c in pred.columns if prefix and c.startswith(prefix)]
    texts = _used_texts(g, p, raw) + [c[len(PROB_PREFIX) :] for c in score_cols]
    data = ClassificationData(
        gt=g,
        pred=p,
        raw_counts=raw,
        space=LabelSpace.build(texts, ctx.meta.label_mapping),
        weights=resolve_weights(sample_weight, gt),
        ids=gt.columns["id"],
        load_seconds=load_seconds,
    )
    if score_cols:
        data.scores = _scores(pred, gt, score_cols, data, order)
    return data


def _used_texts(g: LocalCodes, p: LocalCodes, raw: np.ndarray | None) -> list[str]:
    """Raw labels that occur in either file (dense integer codes may include unused ones)."""
    if raw is not None:
        g_used, p_used = raw.sum(axis=1) > 0, raw.sum(axis=0) > 0
    else:
        g_used = np.bincount(g.codes, minlength=len(g.texts)) > 0
        p_used = np.bincount(p.codes, minlength=len(p.texts)) > 0
    return [t for t, used in zip(g.texts + p.texts, [*g_used, *p_used], strict=True) if used]


def _raw_confusion(g: LocalCodes, p: LocalCodes, weights: np.ndarray | None) -> np.ndarray:
    shape, shifts = (len(g.texts), len(p.texts)), (g.shift, p.shift)
    return F.confusion_matrix_chunks(g.chunks, p.chunks, shape, shifts, weights)


def _scores(
    pred: CsvTable,
    gt: CsvTable,
    columns: list[str],
    data: ClassificationData,
    order: np.ndarray | None,
) -> Scores:
    """The score matrix, its columns sorted by class (ties then break as in scikit-learn)."""
    by_class = _columns_by_class(pred.name, columns, data.space)
    classes = np.array(sorted(by_class), dtype=np.int64)
    position = np.full(len(data.space), -1, dtype=np.int64)
    position[classes] = np.arange(len(classes))
    true_pos = position[data.y_true]
    if (true_pos < 0).any():
        row = int(np.argmin(true_pos >= 0))
        label = data.space.names[data.y_true[row]]
        raise MissingColumn(
            f"{pred.name} has score columns but none named '{PROB_PREFIX}{label}' for label "
            f"'{label}' ({gt.name} data row {row + 1}, 1-based); add a column for every label",
            field=pred.name,
            details={"file": pred.name, "missing": [f"{PROB_PREFIX}{label}"]},
        )
    matrix = np.column_stack([pred.numbers(by_class[int(c)]) for c in classes])
    return Scores(matrix if order is None else matrix[order], classes, true_pos)


def _columns_by_class(name: str, columns: list[str], space: LabelSpace) -> dict[int, str]:
    """Class code -> its ``prob_<label>`` column; two columns for one class is an error."""
    by_class: dict[int, str] = {}
    for col in columns:
        code = space.code(col[len(PROB_PREFIX) :])
        assert code is not None  # every score column's label is part of the space
        if code in by_class:
            raise ParseError(
                f"{name}: columns '{by_class[code]}' and '{col}' are scores for the "
                f"same label '{space.names[code]}'",
                field=name,
                details={"file": name, "columns": [by_class[code], col]},
            )
        by_class[code] = col
    return by_class
