"""Text ids that are one prefix, a number and one suffix are aligned through integers.

``numbered_ids`` may only say "these are numbers" when equal numbers mean equal texts;
every other case must go to the text (hash) path, and either way ``align_ids`` must give the
same permutation and the same errors, naming the ids as written.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from autoscorer.errors import AutoScorerError
from autoscorer.workspace import align
from autoscorer.workspace.numbered import numbered_ids

from .test_tabular import load_pair


def _chunked(ids: list[str], cut: int = 1) -> pa.ChunkedArray:
    return pa.chunked_array([pa.array(ids[:cut], pa.string()), pa.array(ids[cut:], pa.string())])


@pytest.mark.parametrize(
    ("gt", "pred", "numbers"),
    [
        (["img_1", "img_2", "img_10"], ["img_10", "img_1", "img_2"], [1, 2, 10]),
        (["img_001", "img_002"], ["img_002", "img_001"], [1, 2]),  # one fixed width
        (["1.png", "2.png"], ["2.png", "1.png"], [1, 2]),
        (["img_5x", "img_6x"], ["img_6x", "img_5x"], [5, 6]),
        (["图_5", "图_6"], ["图_6", "图_5"], [5, 6]),
        (["img_5", "img_-5"], ["img_-5", "img_5"], [5, -5]),
        (["5", "6"], ["6", "5"], [5, 6]),
    ],
)
def test_numbered_ids_are_read_as_their_numbers(
    gt: list[str], pred: list[str], numbers: list[int]
) -> None:
    got = numbered_ids(_chunked(gt), _chunked(pred))
    assert got is not None
    assert got[0].tolist() == numbers
    assert got[1].tolist() == [numbers[gt.index(i)] for i in pred]


@pytest.mark.parametrize(
    ("gt", "pred"),
    [
        (["img_1", "img_2"], ["img_01", "img_2"]),  # 1 and 01: one number, two texts
        (["img_7", "img_8"], ["img_8", "img_007"]),
        (["img_1", "img_2"], ["img_002", "img_001"]),  # canonical here, padded there
        (["img_100", "img_101"], ["img_101", "img_007"]),  # padded after canonical chunks
        (["img_001", "img_02"], ["img_002", "img_001"]),  # two widths
        (["img_0", "img_-0"], ["img_0", "img_-0"]),
        (["img_00", "img_-0"], ["img_-0", "img_00"]),  # one width, but a sign
        (["img_5", "img_+5"], ["img_5", "img_+5"]),
        (["img_5", "img_ 5"], ["img_5", "img_ 5"]),
        (["img_5"], ["img_5 "]),
        (["ab_5", "cd_6"], ["cd_6", "ab_5"]),  # two prefixes
        (["ab_5x", "ab_6y"], ["ab_6y", "ab_5x"]),  # two suffixes
        (["a.png", "b.png"], ["b.png", "a.png"]),  # no number
        (["img_99999999999999999999"], ["img_99999999999999999999"]),  # beyond int64
    ],
)
def test_ids_that_are_not_one_numbering_are_compared_as_text(
    gt: list[str], pred: list[str]
) -> None:
    assert numbered_ids(_chunked(gt), _chunked(pred)) is None


IDS = {
    "numbered": [f"img_{i}" for i in range(300)],
    "padded": [f"frame_{i:06d}.png" for i in range(300)],
    "text": [f"id_{chr(97 + i % 26)}{i}" for i in range(300)],
    "mixed": [f"img_{i}" for i in range(299)] + ["img_0300"],
}


@pytest.mark.parametrize("kind", list(IDS))
def test_the_integer_path_gives_the_hash_path_s_permutation(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = IDS[kind]
    perm = np.random.default_rng(2).permutation(len(ids))
    gt, pred = load_pair(tmp_path, ids, [ids[i] for i in perm])
    fast = align.align_ids(gt, pred)
    monkeypatch.setattr(align, "numbered_ids", lambda g, p: None)
    slow = align.align_ids(gt, pred)
    assert fast is not None and slow is not None
    np.testing.assert_array_equal(fast, slow)
    numbered = numbered_ids(gt.columns["id"], pred.columns["id"]) is not None
    assert numbered == (kind in ("numbered", "padded"))


@pytest.mark.parametrize(
    ("gt_ids", "pred_ids", "code", "named"),
    [
        (["img_1", "img_2", "img_1"], ["img_1", "img_2"], "DUPLICATE_ID", "img_1"),
        (["img_1", "img_2"], ["img_2", "img_3"], "UNKNOWN_ID", "img_3"),
        (["img_1", "img_2", "img_3"], ["img_3", "img_1"], "MISSING_ID", "img_2"),
        (["img_1", "img_2"], ["img_2", "img_2", "img_1"], "DUPLICATE_ID", "img_2"),
    ],
)
def test_errors_name_the_ids_as_written(
    gt_ids: list[Any], pred_ids: list[Any], code: str, named: str, tmp_path: Path
) -> None:
    gt, pred = load_pair(tmp_path, gt_ids, pred_ids)
    assert numbered_ids(gt.columns["id"], pred.columns["id"]) is not None
    with pytest.raises(AutoScorerError) as exc:
        align.align_ids(gt, pred)
    assert exc.value.code == code
    assert exc.value.details["id"] == named and f"'{named}'" in exc.value.message


def test_ids_at_the_ends_of_int64_outside_the_table_are_unknown() -> None:
    top = 2**63 - 1  # p - lo wraps around for the lowest int64
    g = np.array([top, top - 1], dtype=np.int64)
    p = np.array([top - 1, -(2**63), 5], dtype=np.int64)
    got = align._int_lookup(g, p, "input/gt.csv", int)
    assert got is not None and got.tolist() == [1, -1, -1]
