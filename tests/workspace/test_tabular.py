"""The CSV layer: loading, id alignment, and every bad input through score()."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from autoscorer.errors import AutoScorerError
from autoscorer.pipeline.scoring import score
from autoscorer.workspace.align import align_ids
from autoscorer.workspace.tabular import Column, CsvFormat, read_table

ID, LABEL, VALUE = Column("id", "id"), Column("label", "label"), Column("value", "number")
PREVIOUS = '{"summary": {"score": 0.5}, "previous": true}'


def make_ws(
    root: Path,
    gt: str | bytes | None,
    pred: str | bytes | None,
    *,
    scorer: str = "classification_f1",
    data: dict[str, Any] | None = None,
) -> Path:
    """A score-only workspace with an earlier result.json that must survive failures."""
    ws = root / "ws"
    (ws / "input").mkdir(parents=True)
    (ws / "output").mkdir()
    meta = {"job_id": "t", "scorer": scorer, "data": data or {}}
    (ws / "meta.json").write_text(json.dumps(meta))
    for path, content in ((ws / "input/gt.csv", gt), (ws / "output/pred.csv", pred)):
        if content is not None:
            path.write_bytes(content.encode() if isinstance(content, str) else content)
    (ws / "output" / "result.json").write_text(PREVIOUS)
    return ws


def rows(n: int, start: int = 0, label: str = "a") -> str:
    return "".join(f"{i},{label}\n" for i in range(start, start + n))


GT = "id,label\n" + rows(30)

# name -> (gt, pred, data settings, error code, words the message must contain)
BAD_INPUTS: dict[str, tuple[Any, Any, dict[str, Any], str, list[str]]] = {
    "missing gt file": (None, GT, {}, "MISSING_FILE", ["input/gt.csv"]),
    "missing pred file": (GT, None, {}, "MISSING_FILE", ["output/pred.csv"]),
    "wrong columns": (
        GT,
        "id,class\n" + rows(30),
        {},
        "MISSING_COLUMN",
        ["output/pred.csv", "'label'", "'class'"],
    ),
    "semicolon separated": (
        GT,
        "id;label\n1;a\n",
        {},
        "MISSING_COLUMN",
        ["output/pred.csv", "comma-separated"],
    ),
    "extra id": (
        GT,
        "id,label\n" + rows(16) + "a9,a\n" + rows(14, 16),
        {},
        "UNKNOWN_ID",
        ["output/pred.csv data row 17 (1-based)", "id 'a9' not in ground truth"],
    ),
    "missing id": (
        GT,
        "id,label\n" + rows(12) + rows(17, 13),
        {},
        "MISSING_ID",
        ["output/pred.csv", "id '12'", "input/gt.csv data row 13"],
    ),
    "duplicate id in pred": (
        GT,
        "id,label\n" + rows(30) + "7,a\n",
        {},
        "DUPLICATE_ID",
        ["output/pred.csv data row 31", "id '7'", "first at data row 8"],
    ),
    "duplicate id in gt": (
        "id,label\n" + rows(5) + "3,b\n",
        GT,
        {},
        "DUPLICATE_ID",
        ["input/gt.csv data row 6", "id '3'"],
    ),
    "empty label": (
        GT,
        "id,label\n" + rows(4) + "4,\n" + rows(25, 5),
        {},
        "INVALID_VALUE",
        ["output/pred.csv data row 5", "column 'label'", "empty"],
    ),
    "empty id": (
        GT,
        "id,label\n" + rows(3) + ",a\n",
        {},
        "INVALID_VALUE",
        ["output/pred.csv data row 4", "column 'id'"],
    ),
    "empty file": (GT, "", {}, "EMPTY_FILE", ["output/pred.csv is empty"]),
    "header only": (GT, "id,label\n", {}, "EMPTY_FILE", ["output/pred.csv", "no data rows"]),
    "blank lines only": (GT, "id,label\n\n\n", {}, "EMPTY_FILE", ["output/pred.csv"]),
    "ragged row": (
        GT,
        "id,label\n" + rows(9) + "9,a,extra\n" + rows(20, 10),
        {},
        "PARSE_ERROR",
        ["output/pred.csv data row 10", "expected 2 fields, got 3"],
    ),
    "duplicate header": (
        GT,
        "id,label,label\n1,a,a\n",
        {},
        "PARSE_ERROR",
        ["output/pred.csv", "'label'", "more than once"],
    ),
    "gbk without encoding": (
        GT,
        ("id,label\n" + rows(5) + "5,中文\n" + rows(24, 6)).encode("gbk"),
        {},
        "ENCODING_ERROR",
        ["output/pred.csv", "utf-8", "line 7", "gbk"],
    ),
    "utf-8 with gbk encoding": (
        "id,label\n1,猫\n".encode("gbk"),
        "id,label\n1,猫猫\n",
        {"encoding": "gbk"},
        "ENCODING_ERROR",
        ["output/pred.csv", "not valid gbk"],
    ),
    "unknown encoding": (
        GT,
        GT,
        {"encoding": "klingon"},
        "ENCODING_ERROR",
        ["'klingon'", "data.encoding"],
    ),
    "invalid utf-8 later in file": (
        GT,
        b"id,label\n" + rows(2000).encode() + b"2000,\xff\n",
        {},
        "ENCODING_ERROR",
        ["output/pred.csv", "line 2002"],
    ),
}


@pytest.mark.parametrize("case", BAD_INPUTS, ids=list(BAD_INPUTS))
def test_bad_input(case: str, tmp_path: Path) -> None:
    gt, pred, data, code, words = BAD_INPUTS[case]
    ws = make_ws(tmp_path, gt, pred, data=data)
    with pytest.raises(AutoScorerError) as exc:
        score(ws)
    assert exc.value.code == code, exc.value.message
    for word in words:
        assert word in exc.value.message, (word, exc.value.message)
    assert (ws / "output" / "result.json").read_text() == PREVIOUS
    assert not (ws / "output" / "artifacts").exists()
    assert not list((ws / "output").glob(".artifacts-*"))


@pytest.mark.parametrize("scorer", ["classification_f1", "regression_rmse"])
def test_sparse_1gb_file_beyond_limit(scorer: str, tmp_path: Path) -> None:
    col = "label" if scorer == "classification_f1" else "value"
    ws = make_ws(tmp_path, f"id,{col}\n1,1\n", None, scorer=scorer)
    with (ws / "output" / "pred.csv").open("wb") as fh:
        fh.truncate(1 << 30)  # sparse: 1 GiB long, no blocks written
    with pytest.raises(AutoScorerError) as exc:
        score(ws, max_file_bytes=256 << 20)
    assert exc.value.code == "FILE_TOO_LARGE"
    assert "output/pred.csv is 1,073,741,824 bytes" in exc.value.message
    assert (ws / "output" / "result.json").read_text() == PREVIOUS


def test_bom_is_ignored(tmp_path: Path) -> None:
    ws = make_ws(tmp_path, "\ufeffid,label\n1,a\n2,b\n", "\ufeffid,label\n2,b\n1,a\n")
    assert score(ws).metrics["accuracy"] == 1.0


def test_gbk_with_encoding_set(tmp_path: Path) -> None:
    gt = "id,label\n1,猫\n2,狗\n3,猫\n".encode("gbk")
    pred = "id,label\n3,狗\n2,狗\n1,猫\n".encode("gbk")
    result = score(make_ws(tmp_path, gt, pred, data={"encoding": "gbk"}))
    assert result.metrics["class_labels"] == sorted(["猫", "狗"])
    assert result.metrics["accuracy"] == pytest.approx(2 / 3)


def test_without_header(tmp_path: Path) -> None:
    ws = make_ws(tmp_path, "1,a\n2,b\n", "2,b\n1,b\n", data={"has_header": False})
    assert score(ws).metrics["accuracy"] == 0.5


def test_without_header_too_few_columns(tmp_path: Path) -> None:
    ws = make_ws(tmp_path, "1,a\n2,b\n", "2\n1\n", data={"has_header": False})
    with pytest.raises(AutoScorerError) as exc:
        score(ws)
    assert exc.value.code == "MISSING_COLUMN" and "has_header" in exc.value.message


# --- read_table ---------------------------------------------------------------------------


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


def test_integer_columns_read_as_int64(tmp_path: Path) -> None:
    table = read_table(
        write(tmp_path / "in/gt.csv", "id,label\n1,3\n2,4\n"), [ID, LABEL], CsvFormat()
    )
    assert table.columns["id"].type == pa.int64() and table.columns["label"].type == pa.int64()
    assert table.num_rows == 2 and table.name == "in/gt.csv"


def test_late_text_falls_back_to_text(tmp_path: Path) -> None:
    """The sample says integers; row 3000 disagrees, so the file is read again as text."""
    text = "id,label\n" + "".join(f"{i},{i % 3}\n" for i in range(2999)) + "x1,cat\n"
    table = read_table(write(tmp_path / "in/gt.csv", text), [ID, LABEL], CsvFormat())
    assert pa.types.is_string(table.columns["id"].type)
    assert pa.types.is_dictionary(table.columns["label"].type)
    assert table.columns["id"][-1].as_py() == "x1" and table.num_rows == 3000


def test_extra_columns_are_not_loaded_but_prefixed_ones_are(tmp_path: Path) -> None:
    text = "id,label,note,prob_a,prob_b\n1,a,hi,0.5,0.5\n"
    table = read_table(write(tmp_path / "o/p.csv", text), [ID, LABEL], CsvFormat(), prefix="prob_")
    assert set(table.columns) == {"id", "label", "prob_a", "prob_b"}
    assert table.numbers("prob_a").tolist() == [0.5]


def test_blank_lines_are_skipped_and_rows_count_data_only(tmp_path: Path) -> None:
    text = "id,value\n\n1,1.0\n\n2,oops\n"
    with pytest.raises(AutoScorerError) as exc:
        read_table(write(tmp_path / "o/p.csv", text), [ID, VALUE], CsvFormat())
    assert exc.value.message.startswith("o/p.csv data row 2 (1-based), column 'value'")


def test_number_with_spaces_is_accepted(tmp_path: Path) -> None:
    table = read_table(write(tmp_path / "o/p.csv", "id,value\n1, 2.5\n"), [ID, VALUE], CsvFormat())
    assert table.numbers("value").tolist() == [2.5]


def test_header_names_are_stripped(tmp_path: Path) -> None:
    table = read_table(write(tmp_path / "o/p.csv", " id , label\n1,a\n"), [ID, LABEL], CsvFormat())
    assert table.columns["label"].to_pylist() == ["a"]


def test_utf16_with_encoding_set(tmp_path: Path) -> None:
    path = write(tmp_path / "o/p.csv", "id,label\n1,a\n2,b\n".encode("utf-16"))
    table = read_table(path, [ID, LABEL], CsvFormat(encoding="utf-16"))
    assert table.columns["label"].to_pylist() == ["a", "b"]


# --- align_ids ----------------------------------------------------------------------------


def load_pair(tmp_path: Path, gt_ids: list[Any], pred_ids: list[Any]) -> tuple[Any, Any]:
    gt = write(tmp_path / "input/gt.csv", "id,label\n" + "".join(f"{i},a\n" for i in gt_ids))
    pred = write(tmp_path / "output/pred.csv", "id,label\n" + "".join(f"{i},a\n" for i in pred_ids))
    return read_table(gt, [ID, LABEL], CsvFormat()), read_table(pred, [ID, LABEL], CsvFormat())


@pytest.mark.parametrize(
    "ids",
    [
        list(range(500)),  # dense integers
        [i * 10**9 for i in range(500)],  # sparse integers: hash path
        [f"img_{i:05d}" for i in range(500)],  # text
        [f"img_{i}" for i in range(500)],  # text, not sorted as text
    ],
    ids=["dense-int", "sparse-int", "text", "text-unsorted"],
)
def test_alignment_matches_a_reference(ids: list[Any], tmp_path: Path) -> None:
    perm = np.random.default_rng(1).permutation(len(ids))
    gt, pred = load_pair(tmp_path, ids, [ids[i] for i in perm])
    order = align_ids(gt, pred)
    assert order is not None
    pred_ids = pred.columns["id"].to_pylist()
    assert [pred_ids[k] for k in order] == gt.columns["id"].to_pylist()


@pytest.mark.parametrize(
    "ids", [list(range(50)), [5, 3, 9, 1], ["b", "a", "c"]], ids=["sorted", "int", "text"]
)
def test_same_order_needs_no_permutation(ids: list[Any], tmp_path: Path) -> None:
    gt, pred = load_pair(tmp_path, ids, ids)
    assert align_ids(gt, pred) is None


def test_integer_and_text_ids_compare_as_text(tmp_path: Path) -> None:
    gt, pred = load_pair(tmp_path, ["007", "8", "x"], ["x", "007", "8"])
    assert pa.types.is_string(gt.columns["id"].type)
    assert pa.types.is_integer(pred.columns["id"].type) is False
    assert align_ids(gt, pred) is not None


def test_leading_zeros_are_kept_when_one_side_has_text(tmp_path: Path) -> None:
    gt, pred = load_pair(tmp_path, ["007", "x"], ["7", "x"])
    with pytest.raises(AutoScorerError) as exc:
        align_ids(gt, pred)
    assert exc.value.code == "UNKNOWN_ID" and "id '7'" in exc.value.message


def test_integer_ids_compare_by_value(tmp_path: Path) -> None:
    gt, pred = load_pair(tmp_path, ["007", "8"], ["8", "7"])
    assert align_ids(gt, pred).tolist() == [1, 0]  # type: ignore[union-attr]


def test_counts_of_unknown_and_missing_are_reported(tmp_path: Path) -> None:
    gt, pred = load_pair(tmp_path, list(range(10)), [0, 1, 2, 3])
    with pytest.raises(AutoScorerError) as exc:
        align_ids(gt, pred)
    assert exc.value.code == "MISSING_ID" and exc.value.details["count"] == 6


@pytest.mark.skipif(not hasattr(os, "truncate"), reason="needs sparse files")
def test_size_limit_checked_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "o" / "big.csv"
    path.parent.mkdir()
    with path.open("wb") as fh:
        fh.truncate(1 << 30)
    with pytest.raises(AutoScorerError) as exc:
        read_table(path, [ID, LABEL], CsvFormat(max_bytes=1 << 20))
    assert exc.value.code == "FILE_TOO_LARGE" and exc.value.details["limit"] == 1 << 20
