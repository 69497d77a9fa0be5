"""workspace.tabular_errors: where a bad CSV file is bad, checked on known bytes and rows.

Through ``read_table`` where a file can lead there (bad bytes past the 256 KiB head, across
the 1 MiB blocks the decoder reads, after a byte-order mark; a number or a row past the
1000 sampled rows), directly where only a disagreement between pyarrow and Python leads.
"""

from __future__ import annotations

import codecs
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from autoscorer.errors import AutoScorerError
from autoscorer.workspace import tabular as T
from autoscorer.workspace import tabular_errors as E

ID, LABEL, VALUE = T.Column("id", "id"), T.Column("label", "label"), T.Column("value", "number")
NAME, PART = "input/gt.csv", "participant"
UTF8_HINT = "set data.encoding in meta.json (e.g. 'gbk') or re-save the file as UTF-8"
MIB = 1 << 20


@pytest.fixture()
def gt(tmp_path: Path) -> Path:
    (tmp_path / "input").mkdir()
    return tmp_path / "input" / "gt.csv"


def failure(path: Path, data: bytes, cols: tuple[T.Column, ...], encoding: str = "utf-8") -> Any:
    path.write_bytes(data)
    with pytest.raises(AutoScorerError) as exc:
        T.read_table(path, list(cols), T.CsvFormat(encoding))
    return exc.value.to_dict()


def encoding_fault(data: bytes, encoding: str = "utf-8", hint: str = UTF8_HINT) -> dict[str, Any]:
    """The error for the first 0xff of ``data``, its offset and line counted here."""
    offset = data.index(b"\xff")
    line = data[:offset].count(b"\n") + 1
    return {
        "code": "ENCODING_ERROR",
        "message": f"{NAME} is not valid {encoding} at byte {offset} (line {line}); {hint}",
        "field": NAME,
        "details": {
            "file": NAME,
            "encoding": encoding,
            "byte_offset": offset,
            "line": line,
            "fault": PART,
        },
    }


def rows(n: int, label: str = "a") -> bytes:
    return "".join(f"{i},{label}\n" for i in range(n)).encode()


def padded_to(data: bytes, size: int) -> bytes:
    """``data`` and rows of one long label, so that the result is ``size`` bytes long."""
    out = bytearray(data)
    while len(out) < size:
        take = min(1000, size - len(out))
        out += b"1," + b"a" * max(take - 3, 0) + b"\n" if take >= 3 else b"\n" * take
    return bytes(out)


def test_a_byte_order_mark_is_counted_in_the_offset(gt: Path) -> None:
    """utf-8-sig counts from after the mark: the offsets were 3 bytes short (fixed)."""
    bom = codecs.BOM_UTF8
    head = bom + b"id,label\n1,a\n2,\xffb\n"
    assert failure(gt, head, (ID, LABEL)) == encoding_fault(head)
    late = bom + b"id,label\n" + rows(40_000) + b"x,\xff\n"
    assert failure(gt, late, (ID, LABEL)) == encoding_fault(late)
    for name in ("utf-8-sig", "UTF_8_SIG"):
        assert failure(gt, late, (ID, LABEL), name) == encoding_fault(late, name)


def test_a_bad_byte_just_past_a_read_block(gt: Path) -> None:
    """The second 1 MiB block starts with a line end; the bad byte follows it."""
    data = padded_to(b"id,label\n", MIB) + b"\n\xff,a\n"
    assert data.index(b"\xff") == MIB + 1
    assert failure(gt, data, (ID, LABEL)) == encoding_fault(data)


def test_a_character_cut_by_a_read_block(gt: Path) -> None:
    """'é' (2 bytes) straddles the end of the second block; the bad byte is in the third."""
    data = padded_to(b"id,label\n", 2 * MIB - 3) + b"1,\xc3\xa9\n" + rows(3000) + b"x,\xff\n"
    assert data[2 * MIB - 1 : 2 * MIB + 1] == "é".encode()
    assert failure(gt, data, (ID, LABEL)) == encoding_fault(data)


def test_gbk_characters_before_a_bad_byte_past_the_head(gt: Path) -> None:
    data = (b"id,label\n" + rows(40_000, "中文")).decode().encode("gbk") + b"x,\xff\n"
    hint = "check data.encoding in meta.json or re-save the file as gbk"
    assert failure(gt, data, (ID, LABEL), "gbk") == encoding_fault(data, "gbk", hint)


def row_fault(row: int, column: str | None, text: str, code: str, **extra: Any) -> Any:
    where = f"{NAME} data row {row} (1-based)" + (f", column '{column}'" if column else "")
    return {
        "code": code,
        "message": f"{where}: {text}",
        "field": NAME,
        "details": {"file": NAME, "row": row, "column": column, **extra, "fault": PART},
    }


def test_a_ragged_row_in_utf16_with_a_character_holding_commas(gt: Path) -> None:
    """U+2C2C is bytes 2c 2c in UTF-16-LE: read as UTF-8 they would be two more fields."""
    data = "id,label\n1,\u2c2c\n2\n".encode("utf-16")
    reason = "CSV parse error: Expected 2 columns, got 1: 2"
    assert failure(gt, data, (ID, LABEL), "utf-16") == row_fault(
        2, None, "expected 2 fields, got 1", "PARSE_ERROR", reason=reason
    )


def test_a_ragged_row_before_a_bad_byte(gt: Path) -> None:
    """pyarrow stops at the row; a bad byte past the head must not stop the search."""
    data = b"id,label\n" + rows(1500) + b"1500\n" + rows(40_000) + b"x,\xff\n"
    reason = "CSV parse error: Expected 2 columns, got 1: 1500"
    assert failure(gt, data, (ID, LABEL)) == row_fault(
        1501, None, "expected 2 fields, got 1", "PARSE_ERROR", reason=reason
    )


def test_a_ragged_row_after_a_bad_byte_in_the_same_block(gt: Path) -> None:
    """pyarrow parses a block before it checks its text: the row is reported, and the search
    reads past the bad byte (replaced) to find it."""
    data = b"id,label\n" + rows(40_000) + b"x,\xff\n" + b"40001\n"
    reason = "CSV parse error: Expected 2 columns, got 1: 40001"
    assert failure(gt, data, (ID, LABEL)) == row_fault(
        40_002, None, "expected 2 fields, got 1", "PARSE_ERROR", reason=reason
    )


@pytest.mark.parametrize("at", [1000, 1001, 1337, 1999])
def test_a_bad_number_past_the_sample(gt: Path, at: int) -> None:
    """The first 1000 rows are checked on the sample; pyarrow finds the later ones."""
    body = "".join(f"{i},{i / 4}\n" for i in range(2000)).encode()
    lines = body.splitlines(keepends=True)
    lines[at] = f"{at}, oops \n".encode()
    got = failure(gt, b"id,value\n" + b"".join(lines), (ID, VALUE))
    assert got == row_fault(at + 1, "value", "'oops' is not a number", "INVALID_VALUE")


@pytest.mark.parametrize("n", range(1, 9))
def test_the_first_failure_at_each_position(n: int) -> None:
    for bad in range(n):
        arr = pa.array(["1"] * bad + ["x"] + ["2"] * (n - bad - 1))
        assert E._first_failure(arr, lambda a: E._parses(a, pa.float64())) == bad


def table_of(path: Path, text: str) -> T.CsvTable:
    path.write_text(text)
    return T.read_table(path, [ID, VALUE], T.CsvFormat())


def test_no_row_to_name_when_python_finds_nothing_wrong(gt: Path) -> None:
    """pyarrow's CSV reader and Python's codecs, csv and casts may disagree: no row then."""
    table = table_of(gt, "id,value\n1,2.5\n2,3\n")
    assert E.locate_bad_number(table, "value").to_dict() == {
        "code": "INVALID_VALUE",
        "message": f"{NAME}, column 'value': a value is not a number",
        "field": NAME,
        "details": {"file": NAME, "column": "value", "fault": PART},
    }
    assert E.locate_field_count(table, 2, "why").to_dict() == {
        "code": "PARSE_ERROR",
        "message": f"{NAME} is not valid CSV: why",
        "field": NAME,
        "details": {"file": NAME, "reason": "why", "fault": PART},
    }
    assert E.locate_decode_error(gt, NAME, "utf-8", None).to_dict() == {
        "code": "ENCODING_ERROR",
        "message": f"{NAME} is not valid utf-8; {UTF8_HINT}",
        "field": NAME,
        "details": {
            "file": NAME,
            "encoding": "utf-8",
            "byte_offset": None,
            "line": None,
            "fault": PART,
        },
    }


@pytest.mark.parametrize("encoding", ["UTF_8", "utf8", "UTF-8-SIG", "utf_8_sig"])
def test_every_spelling_of_utf8_gets_the_utf8_hint(gt: Path, encoding: str) -> None:
    gt.write_bytes(b"id\n\xff\n")
    got = E.locate_decode_error(gt, NAME, encoding, 3).to_dict()
    assert got["message"] == f"{NAME} is not valid {encoding} at byte 3 (line 2); {UTF8_HINT}"
