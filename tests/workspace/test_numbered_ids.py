"""Text ids that are one prefix, a number and one suffix are aligned through integers.

``numbered_ids`` may only say "these are numbers" when equal numbers mean equal texts;
every other case must go to the text (hash) path, and either way ``align_ids`` must give the
same permutation and the same errors, naming the ids as written.
"""

from __future__ import annotations

import re
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
        # padded after a canonical chunk: one width (3), no sign
        (["img_100", "img_101", "img_007"], ["img_007", "img_101", "img_100"], [100, 101, 7]),
        (["a1b", "a22b", "a-3b"], ["a-3b", "a1b", "a22b"], [1, 22, -3]),  # as printed
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
        (["img_001", "img_02"], ["img_002", "img_001"]),  # two widths
        (["img_0", "img_-0"], ["img_0", "img_-0"]),
        (["img_00", "img_-0"], ["img_-0", "img_00"]),  # one width, but a sign
        (["img_5", "img_+5"], ["img_5", "img_+5"]),
        (["img_5", "img_ 5"], ["img_5", "img_ 5"]),
        (["img_5"], ["img_5 "]),
        (["ab_5", "cd_6"], ["cd_6", "ab_5"]),  # two prefixes
        (["ab_5x", "ab_6y"], ["ab_6y", "ab_5x"]),  # two suffixes
        (["a.png", "b.png"], ["b.png", "a.png"]),  # no number
        (["img_1", "img_2"], ["img_1234567890123456789", "img_2"]),  # 19 digits
        (["img_1", "img_2"], ["img_2", "img_"]),  # no number
        (["img_1", "img_2"], ["img_2", "img_-"]),  # a sign alone
        (["img_1", "img_2"], ["img_2", "im"]),  # shorter than the prefix
        (["img_1", "img_2"], ["img_2", "img_1\u0660"]),  # a digit of another script
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


def _reference(gt: list[str], pred: list[str]) -> list[int] | None:
    """The module's rule written out on Python strings: the numbers of gt + pred, or None."""
    match = re.fullmatch(r"(.*?)([0-9]{1,18})([^0-9]*)", gt[0], re.DOTALL)
    if match is None:
        return None
    prefix, _, suffix = match.groups()
    middles = []
    for text in gt + pred:
        if not (text.startswith(prefix) and text.endswith(suffix)):
            return None
        if len(text) - len(prefix) - len(suffix) < 1:
            return None
        middle = text[len(prefix) : len(text) - len(suffix)]
        if not re.fullmatch(r"-?[0-9]{1,18}", middle):
            return None
        middles.append(middle)
    canonical = all(str(int(m)) == m for m in middles)
    one_width = len({len(m) for m in middles}) == 1 and not any(m[0] == "-" for m in middles)
    return [int(m) for m in middles] if canonical or one_width else None


def _random_pair(rng: np.random.Generator) -> tuple[list[str], list[str]]:
    """Ids of one scheme in both files (prediction order shuffled), sometimes spoiled."""
    prefix = str(rng.choice(["img_", "", "图-", "a1b", "frame_"]))
    suffix = str(rng.choice(["", ".png", "x", "_v2x"]))
    low = -50 if rng.random() < 0.2 else 0
    numbers = rng.integers(low, 10 ** int(rng.integers(1, 7)), 40)
    width = int(rng.integers(1, 8)) if rng.random() < 0.3 else 0
    gt = [f"{prefix}{n:0{width}d}{suffix}" for n in numbers]
    pred = [gt[i] for i in rng.permutation(len(gt))]
    odd = ["0", "+", " ", "-", "--", "x", "\u0660", "9" * 19, "", "00"]
    for _ in range(int(rng.integers(0, 3))):  # a few odd ones: padded, signed, spaced, other
        ids = gt if rng.random() < 0.5 else pred
        i = int(rng.integers(0, len(ids)))
        ids[i] = f"{prefix}{rng.choice(odd)}{abs(int(numbers[i]))}{suffix}"
    return gt, pred


@pytest.mark.parametrize("seed", range(300))
def test_numbered_ids_follow_the_rule_on_random_sets(seed: int) -> None:
    rng = np.random.default_rng(seed)
    gt, pred = _random_pair(rng)
    big = rng.random() < 0.5  # large_string offsets
    kind = pa.large_string() if big else pa.string()
    cuts = sorted(int(c) for c in rng.integers(0, len(gt), 2))
    sliced = pa.array(["pad", *gt, "pad"], kind).slice(1, len(gt))  # offset != 0
    g = pa.chunked_array([sliced[: cuts[0]], sliced[cuts[0] : cuts[1]], sliced[cuts[1] :]])
    p = pa.chunked_array([pa.array(pred, kind)])
    got = numbered_ids(g, p)
    want = _reference(gt, pred)
    if want is None:
        assert got is None
    else:
        assert got is not None
        assert got[0].tolist() + got[1].tolist() == want


def _with_a_null_over_text() -> pa.ChunkedArray:
    """["img_2", null], the null slot still spanning the bytes of "img_1"."""
    valid = pa.array([True, False]).buffers()[1]
    offsets = pa.py_buffer(np.array([0, 5, 10], np.int32).tobytes())
    arr = pa.Array.from_buffers(pa.string(), 2, [valid, offsets, pa.py_buffer(b"img_2img_1")])
    return pa.chunked_array([arr])


def test_no_numbers_for_nulls_no_ground_truth_or_a_column_not_text() -> None:
    g = _chunked(["img_1", "img_2"])
    assert numbered_ids(g, _with_a_null_over_text()) is None
    assert numbered_ids(_with_a_null_over_text(), g) is None
    assert numbered_ids(pa.chunked_array([], pa.string()), g) is None
    assert numbered_ids(g, pa.chunked_array([pa.array([2, 1])])) is None
    assert numbered_ids(pa.chunked_array([pa.array([1, 2])]), g) is None


def test_the_byte_after_nine_is_no_digit() -> None:
    assert numbered_ids(_chunked(["img_1", "img_2"]), _chunked(["img_2", "img_:"])) is None
    assert numbered_ids(_chunked(["img_1", "img_2"]), _chunked(["img_2", "img_1:"])) is None


def test_eighteen_digits_are_read_exactly() -> None:
    """Past 2**53 a float would round: 123456789012345677 and 999999999999999999 stay exact."""
    big, top = 123456789012345677, 10**18 - 1
    gt = ["img_7", f"img_{big}", f"img_{top}"]
    got = numbered_ids(_chunked(gt, 0), _chunked([f"img_{top}", "img_7", f"img_{big}"], 0))
    assert got is not None
    assert got[0].tolist() == [7, big, top] and got[1].tolist() == [top, 7, big]
    one_width = numbered_ids(_chunked([f"img_{big}"], 0), _chunked([f"img_{big}"], 0))
    assert one_width is not None and one_width[1].tolist() == [big]
