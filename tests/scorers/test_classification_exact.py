"""functional.classification on small hand-made inputs: known values, dtypes, warning text.

These pin what the scikit-learn comparisons in ``test_classification.py`` leave open:
the exact warning sentences, the integer dtype of unweighted counts, chunk layouts
with empty chunks, and that no numpy RuntimeWarning escapes a 0/0.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from autoscorer.scorers.functional import classification as F

I64 = np.int64
TAIL = "; set zero_division to choose the value"


def counts(y_true: list[int], y_pred: list[int], n: int) -> F.ClassCounts:
    return F.ClassCounts.from_labels(np.array(y_true), np.array(y_pred), n)


def warning_lines(scope: str, which: str) -> list[str]:
    return [
        f"{scope}precision is ill-defined and set to 0.0 for label(s) with no predicted "
        f"samples: {which}{TAIL}",
        f"{scope}recall is ill-defined and set to 0.0 for label(s) with no true samples: "
        f"{which}{TAIL}",
        f"{scope}F1 is ill-defined and set to 0.0 for label(s) with neither true nor "
        f"predicted samples: {which}{TAIL}",
    ]


def test_aligned_pieces_with_empty_chunks_at_either_end() -> None:
    a, b = np.arange(3), np.arange(10, 13)
    empty = np.arange(0)
    for left, right in (([a, empty], [b]), ([a], [b, empty]), ([empty, a], [b, empty])):
        pieces = [(s, x.tolist(), y.tolist()) for s, x, y in F._aligned_pieces(left, right)]
        assert pieces == [(0, [0, 1, 2], [10, 11, 12])]
    split = F._aligned_pieces([a[:1], a[1:]], [b[:2], empty, b[2:]])
    assert [(s, x.tolist(), y.tolist()) for s, x, y in split] == [
        (0, [0], [10]),
        (1, [1], [11]),
        (2, [2], [12]),
    ]


def test_unweighted_counts_are_integers_and_weighted_ones_floats() -> None:
    y, p = np.array([0, 1, 1]), np.array([0, 1, 0])
    cm = F.confusion_matrix(y, p, 2)
    assert cm.dtype == I64 and cm.tolist() == [[1, 0], [1, 1]]
    weighted = F.confusion_matrix(y, p, 2, sample_weight=np.array([1.0, 2.0, 0.5]))
    assert weighted.dtype == np.float64 and weighted.tolist() == [[1.0, 0.0], [0.5, 2.0]]
    chunked = F.confusion_matrix_chunks([y[:2], y[2:]], [p[:1], p[1:]], (2, 2))
    assert chunked.dtype == I64 and chunked.tolist() == [[1, 0], [1, 1]]
    assert F.remap_confusion(cm, np.array([0, 1]), np.array([1, 0]), 2).dtype == I64
    assert F.top_k_hits(y, np.eye(2)[p], 1).dtype == np.bool_


def test_weighted_true_sums_use_the_weights() -> None:
    c = F.ClassCounts.from_labels(
        np.array([0, 1, 1]), np.array([0, 1, 0]), 2, sample_weight=np.array([1.0, 2.0, 0.5])
    )
    assert (c.tp.tolist(), c.pred_sum.tolist(), c.true_sum.tolist()) == (
        [1.0, 2.0],
        [1.5, 2.0],
        [1.0, 2.5],
    )


def test_many_classes_and_chunks_give_the_same_matrix_concatenated() -> None:
    """1100 x 1100 cells over four chunks is past the size rule: the chunks are joined."""
    y, p = np.array([0, 1099, 5, 7]), np.array([1099, 1099, 5, 8])
    cm = F.confusion_matrix_chunks([y[:2], y[2:]], [p[:3], p[3:]], (1100, 1100))
    assert cm.shape == (1100, 1100) and cm.sum() == 4
    assert (cm[0, 1099], cm[1099, 1099], cm[5, 5], cm[7, 8]) == (1, 1, 1, 1)


def test_no_chunks_give_a_zero_matrix() -> None:
    assert F.confusion_matrix_chunks([], [], (2, 3)).tolist() == [[0, 0, 0], [0, 0, 0]]


def test_zero_over_zero_raises_no_numpy_warning() -> None:
    c = counts([0, 1], [1, 0], 3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        per_class = F.precision_recall_f1(c, zero_division=1)
        assert math.isnan(F.nanaverage(np.array([np.nan, np.nan])))
        assert math.isnan(F.nanaverage(np.array([np.nan]), np.array([1.0])))
    assert per_class.precision.tolist() == [0.0, 0.0, 1.0]  # type: ignore[union-attr]


def test_zero_division_values() -> None:
    assert F.zero_division_value("warn") == 0.0
    assert (F.zero_division_value(0), F.zero_division_value(1)) == (0.0, 1.0)
    assert math.isnan(F.zero_division_value("nan"))
    assert math.isnan(F.zero_division_value(0.5))


def test_per_class_warnings_word_for_word() -> None:
    prf = F.precision_recall_f1(counts([0, 1], [1, 0], 3))  # class 2: nothing either side
    assert prf.warnings == warning_lines("", "[2]")
    assert prf.support.tolist() == [1, 1, 0]  # type: ignore[union-attr]
    named = F.precision_recall_f1(counts([0, 1], [1, 0], 3), names=["a", "b", "c"])
    assert named.warnings == warning_lines("", "['c']")


def test_averaged_warnings_name_the_average() -> None:
    macro = F.precision_recall_f1(counts([0, 1], [1, 0], 3), "macro", names=["a", "b", "c"])
    assert (macro.support, macro.warnings) == (None, warning_lines("macro ", "['c']"))
    zero = F.ClassCounts(*(np.zeros(2, dtype=I64) for _ in range(3)))
    micro = F.precision_recall_f1(zero, "micro", names=["a", "b"])  # one pooled entry: 0
    assert micro.warnings == warning_lines("micro ", "[0]")


def test_a_long_list_of_labels_is_cut_at_20() -> None:
    twenty = F.precision_recall_f1(counts([0], [0], 21))
    assert twenty.warnings[0] == warning_lines("", str(list(range(1, 21))))[0]
    more = F.precision_recall_f1(counts([0], [0], 22))
    assert more.warnings[0] == warning_lines("", str(list(range(1, 21))) + " ...")[0]


def test_explicit_zero_division_gives_no_warnings() -> None:
    assert F.precision_recall_f1(counts([0, 1], [1, 0], 3), zero_division=0).warnings == []


def test_an_unknown_average_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match=r"average must be one of .* or None, got 'samples'"):
        F.precision_recall_f1(counts([0], [0], 1), "samples")


def test_narrow_codes_do_not_overflow_the_matrix_index() -> None:
    """uint8 codes times 201 classes pass 255: the flat index is computed in int64."""
    cm = F.confusion_matrix(np.array([200], dtype=np.uint8), np.array([1], dtype=np.uint8), 201)
    assert (cm[200, 1], cm.sum()) == (1, 1)


def test_weighted_accuracy() -> None:
    y, p = np.array([0, 1, 1]), np.array([0, 1, 0])
    assert F.accuracy(y, p) == pytest.approx(2 / 3)
    assert F.accuracy(y, p, np.array([1.0, 2.0, 1.0])) == 0.75


def test_balanced_accuracy_skips_classes_absent_from_the_truth() -> None:
    """Recall 1/2 for class 0 and 1/1 for class 1; class 2 is never true."""
    assert F.balanced_accuracy(counts([0, 0, 1], [0, 1, 1], 3)) == 0.75
