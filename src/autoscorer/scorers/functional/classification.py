"""Classification metrics on integer-coded labels (pure numpy, exact against scikit-learn).

Every function takes ``y_true`` / ``y_pred`` as class codes ``0..n_classes-1``;
turning CSV labels into codes is the scorer's job. Conventions follow
scikit-learn 1.x: per-class statistics come from ``bincount``; ``zero_division``
is ``"warn"`` (0.0 plus a warning), ``0``, ``1`` or ``"nan"``; averages skip NaN
entries like ``sklearn.utils.extmath._nanaverage``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

ZeroDivision = Literal["warn", "nan", 0, 1] | float
AVERAGES = ("macro", "micro", "weighted")
_CHUNK_CELLS = 1 << 22  # rows x classes per block in top-k


def _bincount(codes: np.ndarray, weights: np.ndarray | None, size: int) -> np.ndarray:
    out = np.bincount(codes, weights=weights, minlength=size)
    return out.astype(np.float64 if weights is not None else np.int64, copy=False)


def confusion_matrix(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    n_classes: int,
    sample_weight: np.ndarray | None = None,
    n_pred_classes: int | None = None,
) -> np.ndarray:
    """``C[i, j]`` = (weighted) count of samples with true class i predicted as j.

    ``n_pred_classes`` makes it rectangular, when the two sides use different codes.
    """
    n_cols = n_classes if n_pred_classes is None else n_pred_classes
    flat = np.multiply(y_true, n_cols, dtype=np.int64)  # bincount wants intp anyway
    flat += y_pred
    return _bincount(flat, sample_weight, n_classes * n_cols).reshape(n_classes, n_cols)


def _aligned_pieces(
    a_chunks: list[np.ndarray], b_chunks: list[np.ndarray]
) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """(start, a piece, b piece) over two equally long chunked sequences, zero-copy."""
    i = j = off_a = off_b = start = 0
    while i < len(a_chunks) and j < len(b_chunks):
        a, b = a_chunks[i][off_a:], b_chunks[j][off_b:]
        n = min(len(a), len(b))
        if n:
            yield start, a[:n], b[:n]
        start, off_a, off_b = start + n, off_a + n, off_b + n
        if off_a == len(a_chunks[i]):
            i, off_a = i + 1, 0
        if off_b == len(b_chunks[j]):
            j, off_b = j + 1, 0


def confusion_matrix_chunks(
    true_chunks: list[np.ndarray],
    pred_chunks: list[np.ndarray],
    shape: tuple[int, int],
    shifts: tuple[int, int] = (0, 0),
    sample_weight: np.ndarray | None = None,
) -> np.ndarray:
    """:func:`confusion_matrix` of the concatenated chunks minus ``shifts``, built piece by
    piece so no row-sized temporary is needed (the chunks are pyarrow buffers)."""
    n_true, n_pred = shape
    cells = n_true * n_pred
    total_rows = sum(len(c) for c in true_chunks)
    if cells * (len(true_chunks) + len(pred_chunks)) > 8 * total_rows + (1 << 20):
        true_chunks, pred_chunks = [np.concatenate(true_chunks)], [np.concatenate(pred_chunks)]
    total = np.zeros(cells, dtype=np.float64 if sample_weight is not None else np.int64)
    buf = np.empty(max((len(c) for c in true_chunks), default=0), dtype=np.int64)
    base = shifts[0] * n_pred + shifts[1]
    for start, a, b in _aligned_pieces(true_chunks, pred_chunks):
        flat = buf[: len(a)]
        np.multiply(a, n_pred, out=flat)
        flat += b
        if base:
            flat -= base
        w = None if sample_weight is None else sample_weight[start : start + len(a)]
        total += np.bincount(flat, weights=w, minlength=cells)
    return total.reshape(n_true, n_pred)


def remap_confusion(
    raw: np.ndarray, true_class: np.ndarray, pred_class: np.ndarray, n_classes: int
) -> np.ndarray:
    """Fold a matrix over raw codes into classes: row i goes to ``true_class[i]``, column j
    to ``pred_class[j]`` (several raw codes may share a class; -1 rows/columns must be 0)."""
    rows, cols = np.flatnonzero(true_class >= 0), np.flatnonzero(pred_class >= 0)
    out = np.zeros((n_classes, n_classes), dtype=raw.dtype)
    np.add.at(out, (true_class[rows][:, None], pred_class[cols][None, :]), raw[np.ix_(rows, cols)])
    return out


def accuracy_from_confusion(cm: np.ndarray) -> float:
    """Trace over total: the same number as :func:`accuracy` on the labels."""
    return float(np.trace(cm) / cm.sum())


@dataclass(frozen=True)
class ClassCounts:
    """Per-class sufficient statistics: true positives, predicted and true totals."""

    tp: np.ndarray
    pred_sum: np.ndarray
    true_sum: np.ndarray

    @classmethod
    def from_confusion(cls, cm: np.ndarray) -> ClassCounts:
        return cls(tp=np.diag(cm).copy(), pred_sum=cm.sum(axis=0), true_sum=cm.sum(axis=1))

    @classmethod
    def from_labels(
        cls,
        y_true: np.ndarray,
        y_pred: np.ndarray,
        n_classes: int,
        sample_weight: np.ndarray | None = None,
    ) -> ClassCounts:
        """Without the full matrix (which is n_classes² cells)."""
        hit = y_true == y_pred
        hit_w = sample_weight[hit] if sample_weight is not None else None
        return cls(
            tp=_bincount(y_true[hit], hit_w, n_classes),
            pred_sum=_bincount(y_pred, sample_weight, n_classes),
            true_sum=_bincount(y_true, sample_weight, n_classes),
        )

    def select(self, classes: np.ndarray) -> ClassCounts:
        """Only the given classes (sklearn's ``labels``); other samples still count as errors."""
        return ClassCounts(self.tp[classes], self.pred_sum[classes], self.true_sum[classes])


def zero_division_value(zero_division: ZeroDivision) -> float:
    """The value a 0/0 metric takes: 0.0 for ``"warn"``, NaN for ``"nan"``, else 0 or 1."""
    if zero_division == "warn":
        return 0.0
    if zero_division == "nan" or zero_division not in (0, 1):
        return float("nan")
    return float(zero_division)


def _divide(num: np.ndarray, den: np.ndarray, zero_division: ZeroDivision) -> np.ndarray:
    num, den = np.asarray(num, dtype=np.float64), np.asarray(den, dtype=np.float64)
    zero = den == 0
    out = num / np.where(zero, 1.0, den)
    out[zero] = zero_division_value(zero_division)
    return out


def nanaverage(values: np.ndarray, weights: np.ndarray | None = None) -> float:
    """Weighted mean ignoring NaN; all-NaN or empty gives NaN; all-zero weights fall back
    to the plain mean (as scikit-learn does)."""
    keep = ~np.isnan(values)
    if values.size == 0 or not keep.any():
        return float("nan")
    if weights is None:
        return float(np.mean(values[keep]))
    w = np.asarray(weights, dtype=np.float64)[keep]
    if w.sum() == 0:
        return float(np.mean(values[keep]))
    return float(np.average(values[keep], weights=w))


@dataclass
class PRF:
    """Precision, recall and F1: per class (arrays) or averaged (floats), with warnings."""

    precision: np.ndarray | float
    recall: np.ndarray | float
    f1: np.ndarray | float
    support: np.ndarray | None
    warnings: list[str] = field(default_factory=list)


def _warnings(counts: ClassCounts, names: list[str] | None, scope: str) -> list[str]:
    out = []
    for metric, den, what in (
        ("precision", counts.pred_sum, "no predicted samples"),
        ("recall", counts.true_sum, "no true samples"),
        ("F1", counts.pred_sum + counts.true_sum, "neither true nor predicted samples"),
    ):
        empty = np.flatnonzero(den == 0)
        if len(empty):
            which = [names[i] for i in empty] if names else [int(i) for i in empty]
            out.append(
                f"{scope}{metric} is ill-defined and set to 0.0 for label(s) with {what}: "
                f"{which[:20]}{' ...' if len(which) > 20 else ''}; set zero_division to "
                "choose the value"
            )
    return out


def precision_recall_f1(
    counts: ClassCounts,
    average: str | None = None,
    zero_division: ZeroDivision = "warn",
    names: list[str] | None = None,
) -> PRF:
    """Like ``sklearn.metrics.precision_recall_fscore_support`` (beta=1) on given counts.

    ``average`` is None (per class), ``"macro"``, ``"micro"`` or ``"weighted"``.
    ``names`` label the classes in warnings.
    """
    if average == "micro":
        counts = ClassCounts(
            *(np.array([a.sum()]) for a in (counts.tp, counts.pred_sum, counts.true_sum))
        )
    precision = _divide(counts.tp, counts.pred_sum, zero_division)
    recall = _divide(counts.tp, counts.true_sum, zero_division)
    f1 = _divide(2 * counts.tp, counts.true_sum + counts.pred_sum, zero_division)
    warns: list[str] = []
    if zero_division == "warn":
        scope = f"{average} " if average else ""
        warns = _warnings(counts, None if average == "micro" else names, scope)
    if average is None:
        return PRF(precision, recall, f1, counts.true_sum, warns)
    if average not in AVERAGES:
        raise ValueError(f"average must be one of {AVERAGES} or None, got {average!r}")
    weights = counts.true_sum if average == "weighted" else None
    return PRF(
        nanaverage(precision, weights),
        nanaverage(recall, weights),
        nanaverage(f1, weights),
        None,
        warns,
    )


def accuracy(
    y_true: np.ndarray, y_pred: np.ndarray, sample_weight: np.ndarray | None = None
) -> float:
    """Fraction (weighted) of exact matches, as ``sklearn.metrics.accuracy_score``."""
    return float(np.average(y_true == y_pred, weights=sample_weight))


def balanced_accuracy(counts: ClassCounts) -> float:
    """Mean recall over classes present in y_true (``sklearn.metrics.balanced_accuracy_score``)."""
    present = counts.true_sum > 0
    return float(np.mean(counts.tp[present] / counts.true_sum[present]))


def top_k_hits(y_true: np.ndarray, scores: np.ndarray, k: int) -> np.ndarray:
    """Whether the true class is among the ``k`` highest scores of each row.

    Ties are broken as scikit-learn's ``top_k_accuracy_score`` does (stable sort,
    reversed): among equal scores, the class with the higher index ranks first.
    """
    n, n_classes = scores.shape
    hits = np.empty(n, dtype=bool)
    step = max(1, _CHUNK_CELLS // max(n_classes, 1))
    cols = np.arange(n_classes)
    for start in range(0, n, step):
        s = scores[start : start + step]
        t = y_true[start : start + step]
        own = s[np.arange(len(t)), t][:, None]
        ahead = (s > own).sum(axis=1) + ((s == own) & (cols > t[:, None])).sum(axis=1)
        hits[start : start + step] = ahead < k
    return hits


def top_k_accuracy(
    y_true: np.ndarray, scores: np.ndarray, k: int, sample_weight: np.ndarray | None = None
) -> float:
    """Fraction (weighted) of rows whose true class is in the top ``k`` scores."""
    return float(np.average(top_k_hits(y_true, scores, k), weights=sample_weight))
