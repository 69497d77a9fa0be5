"""workspace.align on small files: each error whole, on each of its lookup paths.

The same cases run with dense integer ids (a lookup table), sparse integer ids and
letter ids (one hash pass), and numbered text ids (``img_3``: numbers, then a table).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from autoscorer.errors import AutoScorerError
from autoscorer.workspace import align

from .test_tabular import load_pair

GT, PRED, PART = "input/gt.csv", "output/pred.csv", "participant"

KINDS: dict[str, Callable[[int], Any]] = {
    "dense": lambda k: k,
    "sparse": lambda k: k * 10**15,  # a table would be too big: hash pass on integers
    "numbered": lambda k: f"img_{k}",
    "letters": lambda k: f"id{chr(97 + k)}",
}


def _failure(tmp_path: Path, kind: str, gt: list[int], pred: list[int]) -> dict[str, Any]:
    make = KINDS[kind]
    with pytest.raises(AutoScorerError) as exc:
        align.align_ids(*load_pair(tmp_path, [make(k) for k in gt], [make(k) for k in pred]))
    return exc.value.to_dict()


@pytest.fixture(params=list(KINDS))
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_an_id_twice_in_the_ground_truth(tmp_path: Path, kind: str) -> None:
    x = KINDS[kind](1)
    assert _failure(tmp_path, kind, [5, 1, 2, 1, 3], [1, 2, 3, 5]) == {
        "code": "DUPLICATE_ID",
        "message": f"{GT} data row 4 (1-based): id '{x}' appears more than once "
        "(first at data row 2)",
        "field": GT,
        "details": {"file": GT, "row": 4, "column": None, "id": x, "first_row": 2, "fault": PART},
    }


def test_the_same_ids_in_the_same_order_twice(tmp_path: Path, kind: str) -> None:
    """Predictions equal to the ground truth skip the lookup only if the ids are unique."""
    x = KINDS[kind](2)
    failure = _failure(tmp_path, kind, [1, 2, 2], [1, 2, 2])
    assert failure["code"] == "DUPLICATE_ID"
    assert failure["details"] == {
        "file": GT,
        "row": 3,
        "column": None,
        "id": x,
        "first_row": 2,
        "fault": PART,
    }


def test_an_id_twice_in_the_predictions(tmp_path: Path, kind: str) -> None:
    x = KINDS[kind](2)
    assert _failure(tmp_path, kind, [1, 2, 3], [1, 2, 3, 2]) == {
        "code": "DUPLICATE_ID",
        "message": f"{PRED} data row 4 (1-based): id '{x}' appears more than once "
        "(first at data row 2); keep one row per id",
        "field": PRED,
        "details": {
            "file": PRED,
            "row": 4,
            "column": None,
            "id": x,
            "first_row": 2,
            "fault": PART,
        },
    }


def test_unknown_ids(tmp_path: Path, kind: str) -> None:
    x = KINDS[kind](9)
    tail = f"; predict exactly the ids of {GT}"
    details = {"file": PRED, "row": 2, "column": None, "id": x, "fault": PART}
    assert _failure(tmp_path, kind, [1, 2, 4], [4, 9, 1, 3, 2]) == {
        "code": "UNKNOWN_ID",
        "message": f"{PRED} data row 2 (1-based): id '{x}' not in ground truth "
        f"(1 more unknown id(s)){tail}",
        "field": PRED,
        "details": {**details, "count": 2},
    }
    assert _failure(tmp_path, kind, [1, 2, 4], [4, 9, 1, 2]) == {
        "code": "UNKNOWN_ID",
        "message": f"{PRED} data row 2 (1-based): id '{x}' not in ground truth{tail}",
        "field": PRED,
        "details": {**details, "count": 1},
    }


def test_an_unknown_id_against_a_single_ground_truth_id(tmp_path: Path, kind: str) -> None:
    failure = _failure(tmp_path, kind, [5], [7])
    assert failure["code"] == "UNKNOWN_ID" and failure["details"]["id"] == KINDS[kind](7)


def test_missing_ids(tmp_path: Path, kind: str) -> None:
    x = KINDS[kind](2)
    assert _failure(tmp_path, kind, [1, 2, 3, 4], [4, 1]) == {
        "code": "MISSING_ID",
        "message": f"{PRED} has no prediction for id '{x}' ({GT} data row 2, 1-based); "
        "2 ground-truth id(s) have no prediction",
        "field": PRED,
        "details": {"file": PRED, "id": x, "gt_row": 2, "count": 2, "fault": PART},
    }


def test_the_prediction_row_of_each_ground_truth_row(tmp_path: Path, kind: str) -> None:
    make = KINDS[kind]
    gt, pred = load_pair(tmp_path, [make(k) for k in (3, 1, 2)], [make(k) for k in (1, 2, 3)])
    assert align.align_ids(gt, pred).tolist() == [2, 0, 1]  # type: ignore[union-attr]
    same = load_pair(tmp_path, [make(k) for k in (3, 1, 2)], [make(k) for k in (3, 1, 2)])
    assert align.align_ids(*same) is None


def test_integer_predictions_against_text_ground_truth_compare_as_text(tmp_path: Path) -> None:
    gt, pred = load_pair(tmp_path, ["007", "8", "x"], [8, 7])
    assert pa.types.is_integer(pred.columns["id"].type)
    with pytest.raises(AutoScorerError) as exc:
        align.align_ids(gt, pred)
    assert exc.value.code == "UNKNOWN_ID" and exc.value.details["id"] == "7"
    gt, pred = load_pair(tmp_path, ["x", "8"], [8])
    with pytest.raises(AutoScorerError) as exc:
        align.align_ids(gt, pred)
    assert exc.value.code == "MISSING_ID" and exc.value.details["id"] == "x"


@pytest.mark.parametrize(
    ("chunks", "increasing"),
    [
        ([[1, 2], [3]], True),
        ([[1, 2], [], [3]], True),
        ([[1, 2, 3, 4]], True),
        ([[1, 2], [2, 3]], False),  # equal across chunks
        ([[1, 2], [], [2]], False),  # across an empty chunk
        ([[1, 2, 5], [3]], False),  # the chunk's last, not its second
        ([[2, 1]], False),
        ([[1, 1]], False),
        ([[1, 3, 2]], False),
        ([["a", "b", "c"]], True),
        ([["a"]], True),
        ([["b", "a"]], False),
        ([["a", "a"]], False),
        ([["a", "c", "b"]], False),
    ],
)
def test_strictly_increasing(chunks: list[list[Any]], increasing: bool) -> None:
    kind = pa.string() if isinstance(chunks[0][0], str) else pa.int64()
    ids = pa.chunked_array([pa.array(c, kind) for c in chunks], kind)
    assert align._increasing(ids) is increasing


def test_the_table_is_used_up_to_four_slots_a_row_plus_1024() -> None:
    """Two ids: a table of up to 4 * 2 + 1024 = 1032 slots."""
    got = align._int_lookup(np.array([0, 1031]), np.array([1031, 0, 5, -1, 1032]), GT, int)
    assert got is not None and got.tolist() == [1, 0, -1, -1, -1]
    assert align._int_lookup(np.array([0, 1032]), np.array([0]), GT, int) is None
    one = align._int_lookup(np.array([5]), np.array([7, 5, 4]), GT, int)
    assert one is not None and one.tolist() == [-1, 0, -1]
