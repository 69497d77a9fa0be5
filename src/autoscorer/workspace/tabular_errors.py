"""Finding *where* a CSV file is bad, once pyarrow has said only *that* it is.

These run only on the error path, so they may re-read the file.
"""

from __future__ import annotations

import codecs
import csv
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa

from autoscorer.errors import EncodingError, InvalidValue, ParseError
from autoscorer.workspace import safeio

if TYPE_CHECKING:
    from autoscorer.workspace.tabular import CsvTable

_CHUNK = 1 << 20


def locate_decode_error(path: Path, name: str, encoding: str, offset: int | None) -> EncodingError:
    """An EncodingError giving the byte offset and line of the first undecodable byte."""
    if offset is None:
        offset = _first_bad_byte(path, encoding)
    line = _line_of(path, offset) if offset is not None else None
    where = f" at byte {offset} (line {line})" if offset is not None else ""
    utf8 = encoding.lower().replace("_", "-") in ("utf-8", "utf8", "utf-8-sig")
    hint = (
        "set data.encoding in meta.json (e.g. 'gbk') or re-save the file as UTF-8"
        if utf8
        else f"check data.encoding in meta.json or re-save the file as {encoding}"
    )
    return EncodingError(
        f"{name} is not valid {encoding}{where}; {hint}",
        field=name,
        details={"file": name, "encoding": encoding, "byte_offset": offset, "line": line},
    )


def _first_bad_byte(path: Path, encoding: str) -> int | None:
    # not utf-8-sig: it would count from after a byte-order mark (a BOM is valid UTF-8)
    norm = encoding.lower().replace("_", "-")
    enc = "utf-8" if norm in ("utf-8", "utf8", "utf-8-sig") else encoding
    decoder = codecs.getincrementaldecoder(enc)()
    done = 0
    with safeio.open_file(path) as fh:
        while block := fh.read(_CHUNK):
            try:
                decoder.decode(block)
            except UnicodeDecodeError as exc:
                # the decoder may hold back a few bytes of an unfinished sequence
                pending = len(decoder.getstate()[0])
                return max(done - pending, 0) + exc.start
            done += len(block)
    return None


def _line_of(path: Path, offset: int) -> int:
    lines = 1
    with safeio.open_file(path) as fh:
        left = offset
        while left > 0 and (block := fh.read(min(_CHUNK, left))):
            lines += block.count(b"\n")
            left -= len(block)
    return lines


def locate_bad_number(table: CsvTable, column: str) -> InvalidValue:
    """The first value of ``column`` that is not a number, as an InvalidValue."""
    import pyarrow.compute as pc  # error path only (a slow import, see workspace.arrowfn)

    from autoscorer.workspace.tabular import row_error

    text = pc.utf8_trim_whitespace(table.reread_text(column).combine_chunks())
    if _parses(text, pa.float64()):  # pyarrow's CSV and cast parsers disagree: no row to give
        return InvalidValue(
            f"{table.name}, column '{column}': a value is not a number",
            field=table.name,
            details={"file": table.name, "column": column},
        )
    row = _first_failure(text, lambda a: _parses(a, pa.float64()))
    value = text[row].as_py()
    return row_error(InvalidValue, table.name, row, f"{value!r} is not a number", column=column)


def _parses(arr: pa.Array, typ: pa.DataType) -> bool:
    import pyarrow.compute as pc

    try:
        pc.cast(arr, typ)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return False
    return True


def _first_failure(arr: pa.Array, ok: Callable[[pa.Array], bool]) -> int:
    """Smallest i such that ``ok(arr[: i + 1])`` is False; ``ok(arr)`` must be False."""
    lo, hi = 0, len(arr)  # invariant: ok(arr[:lo]) and not ok(arr[:hi])
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if ok(arr[:mid]):
            lo = mid
        else:
            hi = mid
    return hi - 1


def locate_field_count(table: CsvTable, expected: int, reason: str) -> ParseError:
    """A ParseError naming the first data row with the wrong number of fields."""
    from autoscorer.workspace.tabular import row_error

    for row, fields in _data_rows(table):
        if len(fields) != expected:
            text = f"expected {expected} fields, got {len(fields)}"
            return row_error(ParseError, table.name, row, text, reason=reason)
    return ParseError(
        f"{table.name} is not valid CSV: {reason}",
        field=table.name,
        details={"file": table.name, "reason": reason},
    )


def _data_rows(table: CsvTable) -> Iterator[tuple[int, list[str]]]:
    """(0-based data row, fields) for every non-blank row after the header."""
    norm = table.fmt.encoding.lower().replace("_", "-")
    enc = "utf-8-sig" if norm in ("utf-8", "utf8") else table.fmt.encoding
    with safeio.open_file(table.path, "r", encoding=enc, errors="replace", newline="") as fh:
        rows = (r for r in csv.reader(fh) if r)
        if table.fmt.has_header:
            next(rows, None)
        yield from enumerate(rows)
