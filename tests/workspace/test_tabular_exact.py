"""workspace.tabular on small files: each error whole, each column's type and values.

``test_tabular.py`` goes through ``score()`` and checks codes and key words; these call
``read_table`` and the array helpers directly and compare with known values.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from autoscorer.errors import AutoScorerError
from autoscorer.workspace import tabular as T

ID, LABEL, VALUE = T.Column("id", "id"), T.Column("label", "label"), T.Column("value", "number")
NAME = "input/gt.csv"
PART = "participant"


@pytest.fixture()
def gt(tmp_path: Path) -> Path:
    (tmp_path / "input").mkdir()
    return tmp_path / "input" / "gt.csv"


def read(path: Path, text: str | bytes, cols: tuple[T.Column, ...] = (ID, VALUE), **kw: Any) -> Any:
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    fmt = kw.pop("fmt", T.CsvFormat())
    return T.read_table(path, list(cols), fmt, **kw)


def failure(
    path: Path, text: str | bytes, cols: tuple[T.Column, ...] = (ID, VALUE), **kw: Any
) -> dict[str, Any]:
    with pytest.raises(AutoScorerError) as exc:
        read(path, text, cols, **kw)
    return exc.value.to_dict()


def columns(table: T.CsvTable) -> dict[str, tuple[str, list[Any]]]:
    return {k: (str(v.type), v.to_pylist()) for k, v in table.columns.items()}


def row_fault(row: int, column: str | None, text: str, **extra: Any) -> dict[str, Any]:
    where = f"{NAME} data row {row} (1-based)" + (f", column '{column}'" if column else "")
    return {
        "code": extra.pop("code", "INVALID_VALUE"),
        "message": f"{where}: {text}",
        "field": NAME,
        "details": {"file": NAME, "row": row, "column": column, **extra, "fault": PART},
    }


@pytest.mark.parametrize("text", ["id,value\n", "id,value\n\n\n"])
def test_a_header_without_rows(gt: Path, text: str) -> None:
    assert failure(gt, text) == {
        "code": "EMPTY_FILE",
        "message": f"{NAME} has a header but no data rows",
        "field": NAME,
        "details": {"file": NAME, "fault": PART},
    }


def test_only_blank_lines(gt: Path) -> None:
    assert failure(gt, "\n\n") == {
        "code": "EMPTY_FILE",
        "message": f"{NAME} has no rows",
        "field": NAME,
        "details": {"file": NAME, "fault": PART},
    }


def test_duplicate_column_names(gt: Path) -> None:
    assert failure(gt, "id,value,id\n1,2,3\n") == {
        "code": "PARSE_ERROR",
        "message": f"{NAME}: column name(s) ['id'] appear more than once in the header",
        "field": NAME,
        "details": {"file": NAME, "columns": ["id", "value", "id"], "fault": PART},
    }


@pytest.mark.parametrize("sep", [";", "\t", "|"])
def test_a_missing_column_hints_at_the_separator(gt: Path, sep: str) -> None:
    found = f"id{sep}value"
    assert failure(gt, f"{found}\n1{sep}2\n") == {
        "code": "MISSING_COLUMN",
        "message": f"{NAME} is missing column(s) ['id', 'value']; found [{found!r}] "
        "(the file must be comma-separated)",
        "field": NAME,
        "details": {"file": NAME, "missing": ["id", "value"], "found": [found], "fault": PART},
    }


def test_a_missing_column_without_a_separator_hint(gt: Path) -> None:
    assert failure(gt, "id,v\n1,2\n")["message"] == (
        f"{NAME} is missing column(s) ['value']; found ['id', 'v']"
    )
    assert failure(gt, "idXvalue\n1\n")["message"] == (
        f"{NAME} is missing column(s) ['id', 'value']; found ['idXvalue']"
    )
    assert failure(gt, "1;2\n", fmt=T.CsvFormat(has_header=False))["message"] == (
        f"{NAME} is missing column(s) ['value']; found ['id'] (the file must be "
        "comma-separated) (data.has_header is false, so columns are taken in order: id first)"
    )


def test_without_a_header_columns_are_taken_in_order(gt: Path) -> None:
    no_header = T.CsvFormat(has_header=False)
    table = read(gt, "1,2,x\n3,4,y\n", fmt=no_header)
    assert (table.header, table.num_rows) == (["id", "value", "column_3"], 2)
    assert columns(table) == {"id": ("int64", [1, 3]), "value": ("double", [2.0, 4.0])}
    assert failure(gt, "1,2\n", (ID, VALUE, LABEL), fmt=no_header)["message"] == (
        f"{NAME} is missing column(s) ['label']; found ['id', 'value'] "
        "(data.has_header is false, so columns are taken in order: id first)"
    )


def test_one_row_without_a_header_is_data(gt: Path) -> None:
    table = read(gt, "7,2.5\n", fmt=T.CsvFormat(has_header=False))
    assert columns(table) == {"id": ("int64", [7]), "value": ("double", [2.5])}


def test_value_errors_name_row_and_column(gt: Path) -> None:
    assert failure(gt, "id,value\n1,\n") == row_fault(1, "value", "value is missing")
    assert failure(gt, "id,value\n1,2\n2,-inf\n") == row_fault(
        2, "value", "-inf is not allowed (values must be finite numbers)"
    )
    assert failure(gt, "id,value\n1,2\n2,NaN\n") == row_fault(
        2, "value", "nan is not allowed (values must be finite numbers)"
    )
    assert failure(gt, "id,label\n1,a\n2,\n", (ID, LABEL)) == row_fault(
        2, "label", "label is empty"
    )
    assert failure(gt, "id,label\n1,a\n,b\n", (ID, LABEL)) == row_fault(2, "id", "id is empty")
    assert failure(gt, 'id,label\nx,a\ny,""\n', (ID, LABEL)) == row_fault(
        2, "label", "label is empty"
    )


def test_row_error_without_a_column() -> None:
    err = T.row_error(T.ParseError, NAME, 4, "broken", reason="r")
    assert err.to_dict() == row_fault(5, None, "broken", code="PARSE_ERROR", reason="r")


def test_unknown_encoding(gt: Path) -> None:
    assert failure(gt, "id,value\n1,2\n", fmt=T.CsvFormat(encoding="nope")) == {
        "code": "ENCODING_ERROR",
        "message": "unknown encoding 'nope' in meta.json data.encoding",
        "field": "data.encoding",
        "details": {"encoding": "nope", "fault": PART},
    }


@pytest.mark.parametrize(
    ("encoding", "arrow"),
    [("utf-8", "utf8"), ("UTF_8", "utf8"), ("utf8", "utf8"), ("utf-8-sig", "utf8"), ("gbk", "gbk")],
)
def test_arrow_encoding(encoding: str, arrow: str) -> None:
    assert T.CsvFormat(encoding=encoding).arrow_encoding == arrow


def test_format_defaults() -> None:
    assert T.CsvFormat() == T.CsvFormat("utf-8", True, 2 * 1024**3)


def test_types_ids_labels_and_prefixed_numbers(gt: Path) -> None:
    text = "id,label,value,p_a,p_b,other\n007,x,1,0.25,0.75,z\n-5,y,2,0.5,0.5,z\n"
    table = read(gt, text, (ID, LABEL, VALUE), prefix="p_")
    assert columns(table) == {
        "id": ("int64", [7, -5]),
        "label": ("dictionary<values=string, indices=int32, ordered=0>", ["x", "y"]),
        "value": ("double", [1.0, 2.0]),
        "p_a": ("double", [0.25, 0.5]),
        "p_b": ("double", [0.75, 0.5]),
    }
    assert (table.name, table.path, table.num_rows) == (NAME, gt, 2)
    assert table.reread_text("id").to_pylist() == ["007", "-5"]


def test_integer_labels_are_int64(gt: Path) -> None:
    table = read(gt, "id,label\na,3\nb,4\n", (ID, LABEL))
    assert columns(table) == {"id": ("string", ["a", "b"]), "label": ("int64", [3, 4])}


def test_nineteen_digits_are_text(gt: Path) -> None:
    table = read(gt, "id,value\n1234567890123456789,1\n123456789012345678,2\n")
    assert columns(table)["id"] == ("string", ["1234567890123456789", "123456789012345678"])
    assert columns(read(gt, "id,value\n123456789012345678,1\n"))["id"] == (
        "int64",
        [123456789012345678],
    )


def test_a_long_file_is_sampled_from_its_head(gt: Path) -> None:
    """Past the 256 KiB head the sample stops; a text id late in the file is re-read."""
    body = "".join(f"{i},{i}.5\n" for i in range(40_000)) + "late,1\n"
    table = read(gt, "id,value\n" + body)
    assert table.num_rows == 40_001
    ids = table.columns["id"]
    assert str(ids.type) == "string" and ids[0].as_py() == "0" and ids[-1].as_py() == "late"
    assert table.numbers("value")[:2].tolist() == [0.5, 1.5]


def test_numbers_of_a_chunked_column_become_one_chunk(gt: Path) -> None:
    table = read(gt, "id,value\n1,2\n")
    table.columns["value"] = pa.chunked_array([pa.array([1.0, 2.0]), pa.array([3.0])])
    assert table.numbers("value").tolist() == [1.0, 2.0, 3.0]
    assert table.columns["value"].num_chunks == 1


def test_array_helpers() -> None:
    arr = pa.chunked_array([pa.array([1, 2, 3], pa.int32()), pa.array([4], pa.int32())])
    flat = T.flat_numpy(arr)
    assert flat.dtype == np.int32 and flat.tolist() == [1, 2, 3, 4]
    assert T.flat_numpy(pa.chunked_array([pa.array([5.0])])).tolist() == [5.0]
    assert T.flat_numpy(pa.chunked_array([], pa.float64())).tolist() == []
    sliced = pa.array([1.0, 2.0, 3.0, 4.0]).slice(1, 2)
    assert T.chunk_numpy(sliced).tolist() == [2.0, 3.0]
    assert T.chunk_numpy(pa.array([1.0, None])).tolist()[0] == 1.0
    assert T.chunk_numpy(pa.array(["a"])).tolist() == ["a"]
    taken = T.take_rows(pa.chunked_array([pa.array(["a", "b", "c"])]), np.array([2, 0]))
    assert taken.to_pylist() == ["c", "a"]


def test_words_pyarrow_would_read_as_null_are_labels(gt: Path) -> None:
    table = read(gt, "id,label\n1,NA\n2,null\n3,N/A\n4,NaN\n", (ID, LABEL))
    assert columns(table)["label"][1] == ["NA", "null", "N/A", "NaN"]


def test_a_row_longer_than_the_header_many_times(gt: Path) -> None:
    """The read block is at least 1 MiB, whatever the header's length."""
    value = "0." + "1" * 200
    table = read(gt, f"id,value\n1,{value}\n2,{value}\n")
    assert table.numbers("value").tolist() == [float(value)] * 2


def encoding_fault(offset: int, line: int) -> dict[str, Any]:
    return {
        "code": "ENCODING_ERROR",
        "message": f"{NAME} is not valid utf-8 at byte {offset} (line {line}); set "
        "data.encoding in meta.json (e.g. 'gbk') or re-save the file as UTF-8",
        "field": NAME,
        "details": {
            "file": NAME,
            "encoding": "utf-8",
            "byte_offset": offset,
            "line": line,
            "fault": PART,
        },
    }


def test_bad_bytes_in_the_head_and_past_it(gt: Path) -> None:
    assert failure(gt, b"id,label\n1,a\n2,\xffb\n", (ID, LABEL)) == encoding_fault(15, 3)
    body = "".join(f"{i},a\n" for i in range(40_000)).encode()
    late = failure(gt, b"id,label\n" + body + b"x,\xff\n", (ID, LABEL))
    assert late == encoding_fault(308_901, 40_002)


def test_rows_with_too_few_fields(gt: Path) -> None:
    assert failure(gt, "id,label\n1,2\n3\n", (ID, LABEL)) == row_fault(
        2,
        None,
        "expected 2 fields, got 1",
        code="PARSE_ERROR",
        reason="CSV parse error: Expected 2 columns, got 1: 3",
    )


def test_an_empty_integer_label(gt: Path) -> None:
    assert failure(gt, "id,label\n1,3\n2,\n", (ID, LABEL)) == row_fault(
        2, "label", "label is empty"
    )


def test_a_header_then_only_blank_lines_past_the_head(gt: Path) -> None:
    """The head (256 KiB) ends before the file does, so only the full read finds no rows."""
    assert failure(gt, "id,value\n" + "\n" * 300_000) == {
        "code": "EMPTY_FILE",
        "message": f"{NAME} has no data rows",
        "field": NAME,
        "details": {"file": NAME, "fault": PART},
    }


def test_narrow_offsets_and_row_numbers() -> None:
    assert T.chunk_numpy(pa.array([1, 2, 3, 4], pa.int32()).slice(1, 2)).tolist() == [2, 3]
    rows = np.array([2, 0], dtype=np.int32)
    assert T.take_rows(pa.chunked_array([pa.array(["a", "b", "c"])]), rows).to_pylist() == [
        "c",
        "a",
    ]


@pytest.mark.parametrize("quote", ["", '"'])
def test_a_field_longer_than_the_read_block_is_read(gt: Path, quote: str) -> None:
    """3 MiB is more than two 1 MiB read blocks: read again with larger blocks."""
    long = "b" * (3 << 20)
    table = read(gt, f"id,label\n1,a\n2,{quote}{long}{quote}\n3,c\n", (ID, LABEL))
    labels = table.columns["label"].to_pylist()
    assert labels[0] == "a" and labels[2] == "c" and labels[1] == long


@pytest.mark.parametrize("quote", ["", '"'])
def test_a_field_longer_than_the_largest_block(
    gt: Path, quote: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past ``MAX_BLOCK`` (set to 2 MiB here) the error says what the limit is."""
    monkeypatch.setattr(T, "MAX_BLOCK", 2 << 20)
    reason = "straddling object straddles two block boundaries (try to increase block size?)"
    text = f"id,label\n1,a\n2,{quote}{'b' * (5 << 20)}{quote}\n"
    assert failure(gt, text, (ID, LABEL)) == {
        "code": "PARSE_ERROR",
        "message": f"{NAME} could not be read as CSV: a field is longer than 2 MiB, the most "
        "one read block holds",
        "field": NAME,
        "details": {"file": NAME, "reason": reason, "max_field_bytes": 2 << 20, "fault": PART},
    }


def test_an_error_pyarrow_words_unlike_any_other_is_passed_on(gt: Path) -> None:
    """The last resort of ``_translate``: pyarrow's own words, whole."""
    table = read(gt, "id,label\n1,a\n", (ID, LABEL))
    err = T._translate(table, "something new went wrong", set())
    assert err.to_dict() == {  # type: ignore[attr-defined]
        "code": "PARSE_ERROR",
        "message": f"{NAME} could not be read as CSV: something new went wrong",
        "field": NAME,
        "details": {"file": NAME, "reason": "something new went wrong", "fault": PART},
    }
    conversion = "In CSV column #1: CSV conversion error to int64: invalid value 'x'"
    assert isinstance(T._translate(table, conversion, {"label"}), T._IntGuessWrong)


@pytest.mark.parametrize("encoding", ["ascii", "gbk"])
def test_bad_bytes_past_the_head_in_another_encoding(gt: Path, encoding: str) -> None:
    """pyarrow transcodes a non-UTF-8 file with Python's codec: its UnicodeDecodeError."""
    body = "".join(f"{i},a\n" for i in range(40_000)).encode()
    text = b"id,label\n" + body + b"x,\xff\n"
    assert failure(gt, text, (ID, LABEL), fmt=T.CsvFormat(encoding)) == {
        "code": "ENCODING_ERROR",
        "message": f"{NAME} is not valid {encoding} at byte 308901 (line 40002); check "
        f"data.encoding in meta.json or re-save the file as {encoding}",
        "field": NAME,
        "details": {
            "file": NAME,
            "encoding": encoding,
            "byte_offset": 308_901,
            "line": 40_002,
            "fault": PART,
        },
    }


def test_an_empty_integer_label_past_the_sample(gt: Path) -> None:
    """The 1000 sampled labels are integers, so the column is int64 and the empty one a null."""
    body = "".join(f"{i},{i % 3}\n" for i in range(1500))
    assert failure(gt, "id,label\n" + body + "1500,\n", (ID, LABEL)) == row_fault(
        1501, "label", "label is empty"
    )
