"""Fast CSV loading for the tabular scorers (pyarrow.csv), with errors naming file, row and column.

Row numbers in messages are 1-based *data* rows: the header and blank lines are
not counted, so ``data row 1`` is the first line of values.

Column kinds: ``id`` (row key; int64 when every id is an integer, else text),
``label`` (class; int64 or dictionary-encoded text) and ``number`` (float64,
finite). Types are guessed from the first rows and the file is parsed once; if
a later row breaks the guess the file is parsed again as text.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv

from autoscorer.errors import (
    DataValidationError,
    EmptyFile,
    EncodingError,
    InvalidValue,
    MissingColumn,
    ParseError,
)
from autoscorer.workspace import arrowfn, safeio
from autoscorer.workspace.arrowfn import POOL, binary_length
from autoscorer.workspace.arrowfn import minimum as min_
from autoscorer.workspace.files import check_file, display_name
from autoscorer.workspace.tabular_errors import (
    locate_bad_number,
    locate_decode_error,
    locate_field_count,
)

Kind = Literal["id", "label", "number"]
_INT_RE = re.compile(r"-?\d{1,18}")
_HEAD_BYTES = 1 << 18
_SAMPLE_ROWS = 1000
_TEXT = {"id": pa.string(), "label": pa.dictionary(pa.int32(), pa.string()), "number": pa.float64()}


@dataclass(frozen=True)
class CsvFormat:
    """How to read a data file: ``meta.json``'s ``data`` block plus the size limit."""

    encoding: str = "utf-8"
    has_header: bool = True
    max_bytes: int = 2 * 1024**3

    @property
    def arrow_encoding(self) -> str:
        norm = self.encoding.lower().replace("_", "-")
        return "utf8" if norm in ("utf-8", "utf8", "utf-8-sig") else self.encoding


@dataclass(frozen=True)
class Column:
    """A column to load: its name and kind."""

    name: str
    kind: Kind


@dataclass
class CsvTable:
    """The loaded columns of one file, plus what is needed to re-read one as text."""

    name: str
    path: Path
    header: list[str]
    columns: dict[str, pa.ChunkedArray]
    num_rows: int
    fmt: CsvFormat

    def numbers(self, column: str) -> np.ndarray:
        """A ``number`` column as float64 (already checked: no gaps, finite)."""
        arr = self.columns[column]
        if arr.num_chunks != 1:  # one copy, then the column is a zero-copy view of it
            self.columns[column] = arr = pa.chunked_array([pa.array(flat_numpy(arr))])
        return np.asarray(chunk_numpy(arr.chunk(0)), dtype=np.float64)

    def reread_text(self, column: str) -> pa.ChunkedArray:
        """``column`` parsed again as text (e.g. ids that were read as integers)."""
        return _arrow_read(self, [Column(column, "id")], text=True)[column]


def read_table(
    path: Path, columns: Sequence[Column], fmt: CsvFormat, *, prefix: str | None = None
) -> CsvTable:
    """Load ``columns`` (all required) and every column whose name starts with ``prefix``.

    Raises MissingFile / EmptyFile / FileTooLarge, EncodingError, ParseError,
    MissingColumn or InvalidValue, each naming the file and, where there is one,
    the data row and column.
    """
    name = display_name(path)
    check_file(path, fmt.max_bytes)
    first, sample, header_only = _read_head(path, name, fmt)
    header = _column_names(first, columns, fmt.has_header)
    _require(name, header, columns, first, fmt.has_header)
    wanted = list(columns) + [
        Column(c, "number") for c in header if prefix and c.startswith(prefix)
    ]
    table = CsvTable(name, path, header, {}, 0, fmt)
    if header_only:
        raise EmptyFile(f"{name} has a header but no data rows", field=name, details={"file": name})
    table.columns = _read_typed(table, wanted, sample)
    table.num_rows = len(next(iter(table.columns.values())))
    if table.num_rows == 0:
        raise EmptyFile(f"{name} has no data rows", field=name, details={"file": name})
    for col in wanted:
        _check_values(table, col)
    return table


E = TypeVar("E", bound=DataValidationError)


def row_error(
    cls: type[E], name: str, row: int, text: str, *, column: str | None = None, **details: object
) -> E:
    """An error about 0-based data row ``row`` of file ``name``; the message says ``data row``."""
    where = f"{name} data row {row + 1} (1-based)"
    if column is not None:
        where += f", column '{column}'"
    info = {"file": name, "row": row + 1, "column": column, **details}
    return cls(f"{where}: {text}", field=name, details=info)


def _read_head(path: Path, name: str, fmt: CsvFormat) -> tuple[list[str], list[list[str]], bool]:
    """First record (header or first data row), up to 1000 sample rows, and header-only."""
    with safeio.open_file(path) as fh:
        raw = fh.read(_HEAD_BYTES)
        at_end = not fh.read(1)
    try:
        decoder = codecs.getincrementaldecoder(_py_encoding(fmt))()
        text = decoder.decode(raw, final=at_end)
    except LookupError as exc:
        raise EncodingError(
            f"unknown encoding {fmt.encoding!r} in meta.json data.encoding",
            field="data.encoding",
            details={"encoding": fmt.encoding},
        ) from exc
    except UnicodeDecodeError as exc:
        # utf-8-sig counts from after the byte-order mark it strips
        bom = _py_encoding(fmt) == "utf-8-sig" and raw.startswith(codecs.BOM_UTF8)
        start = exc.start + (len(codecs.BOM_UTF8) if bom else 0)
        raise locate_decode_error(path, name, fmt.encoding, start) from exc
    lines = text.splitlines()
    if not at_end and lines:
        lines.pop()  # possibly cut in the middle
    lines = lines[: 2 * _SAMPLE_ROWS]  # blank lines are skipped below
    rows = [r for r in csv.reader(io.StringIO("\n".join(lines))) if r]
    if not rows:
        raise EmptyFile(f"{name} has no rows", field=name, details={"file": name})
    first = [c.strip() for c in rows[0]]
    sample = rows[1:] if fmt.has_header else rows
    return first, sample[:_SAMPLE_ROWS], fmt.has_header and at_end and len(rows) == 1


def _py_encoding(fmt: CsvFormat) -> str:
    return "utf-8-sig" if fmt.arrow_encoding == "utf8" else fmt.encoding


def _column_names(first: list[str], columns: Sequence[Column], has_header: bool) -> list[str]:
    """The header, or without one: the required columns in order, then ``column_<n>``."""
    if has_header:
        return first
    required = [c.name for c in columns][: len(first)]
    return required + [f"column_{i + 1}" for i in range(len(required), len(first))]


def _require(
    name: str, header: list[str], columns: Sequence[Column], first: list[str], has_header: bool
) -> None:
    """Column names must be unique and include every required column."""
    dupes = sorted({c for c in header if header.count(c) > 1})
    if dupes:
        raise ParseError(
            f"{name}: column name(s) {dupes} appear more than once in the header",
            field=name,
            details={"file": name, "columns": header},
        )
    missing = [c.name for c in columns if c.name not in header]
    if missing:
        hint = ""
        if len(first) == 1 and any(sep in first[0] for sep in ";\t|"):
            hint = " (the file must be comma-separated)"
        if not has_header:
            hint += " (data.has_header is false, so columns are taken in order: id first)"
        raise MissingColumn(
            f"{name} is missing column(s) {missing}; found {header}{hint}",
            field=name,
            details={"file": name, "missing": missing, "found": header},
        )


def _read_typed(
    table: CsvTable, wanted: list[Column], sample: list[list[str]]
) -> dict[str, pa.ChunkedArray]:
    """Parse once with integer types where the sample allows, else (or on failure) as text."""
    int_cols = [c for c in wanted if c.kind != "number" and _ints_only(table, c, sample)]
    if int_cols:
        try:
            return _arrow_read(table, wanted, int_names={c.name for c in int_cols})
        except _IntGuessWrong:
            pass
    return _arrow_read(table, wanted)


def _ints_only(table: CsvTable, col: Column, sample: list[list[str]]) -> bool:
    idx = table.header.index(col.name)
    values = [r[idx] for r in sample if len(r) > idx]
    return bool(values) and all(_INT_RE.fullmatch(v.strip()) for v in values)


# pyarrow reads a CSV in blocks and cannot parse a field longer than one; a file with one is
# read again with blocks 16 times larger, up to this size (a field longer fails with
# PARSE_ERROR, naming the limit)
MAX_BLOCK = 256 << 20
_STRADDLES = "straddling object straddles two block boundaries"


class _IntGuessWrong(Exception):
    """A column guessed to hold integers does not."""


def _arrow_read(
    table: CsvTable, wanted: list[Column], *, int_names: set[str] | None = None, text: bool = False
) -> dict[str, pa.ChunkedArray]:
    int_names = int_names or set()
    types = {
        c.name: pa.int64() if c.name in int_names else (pa.string() if text else _TEXT[c.kind])
        for c in wanted
    }
    convert = pcsv.ConvertOptions(
        column_types=types,
        include_columns=[c.name for c in wanted],
        null_values=[""],
        strings_can_be_null=False,
        quoted_strings_can_be_null=False,
    )
    block = max(1 << 20, 4 * len(",".join(table.header)))
    while True:
        try:
            arrow = _read_csv(table, block, convert)
            break
        except pa.ArrowInvalid as exc:
            if _STRADDLES in str(exc) and block < MAX_BLOCK:
                block = min(block * 16, MAX_BLOCK)  # a field longer than a block: larger ones
                continue
            raise _translate(table, str(exc), int_names) from exc
        except UnicodeDecodeError as exc:
            raise locate_decode_error(table.path, table.name, table.fmt.encoding, None) from exc
    return {c.name: arrow.column(c.name) for c in wanted}


def _read_csv(table: CsvTable, block: int, convert: pcsv.ConvertOptions) -> pa.Table:
    read = pcsv.ReadOptions(
        encoding=table.fmt.arrow_encoding,
        column_names=table.header,
        skip_rows=1 if table.fmt.has_header else 0,
        block_size=block,
    )
    with safeio.open_file(table.path) as fh:
        return pcsv.read_csv(fh, read_options=read, convert_options=convert, memory_pool=POOL)


def _translate(table: CsvTable, msg: str, int_names: set[str]) -> Exception:
    """Turn a pyarrow error into ours, locating the row where pyarrow does not say it."""
    col_match = re.search(r"In CSV column #(\d+)", msg)
    column = table.header[int(col_match.group(1))] if col_match else None
    if "conversion error to int64" in msg and column in int_names:
        return _IntGuessWrong()
    if "conversion error to double" in msg and column is not None:
        return locate_bad_number(table, column)
    if "invalid UTF8" in msg:
        return locate_decode_error(table.path, table.name, table.fmt.encoding, None)
    if "CSV parse error" in msg:
        return locate_field_count(table, len(table.header), msg)
    if _STRADDLES in msg:
        return ParseError(
            f"{table.name} could not be read as CSV: a field is longer than "
            f"{MAX_BLOCK >> 20} MiB, the most one read block holds",
            field=table.name,
            details={"file": table.name, "reason": msg, "max_field_bytes": MAX_BLOCK},
        )
    return ParseError(
        f"{table.name} could not be read as CSV: {msg}",
        field=table.name,
        details={"file": table.name, "reason": msg},
    )


def _check_values(table: CsvTable, col: Column) -> None:
    """No empty ids/labels, no missing or non-finite numbers."""
    arr = table.columns[col.name]
    if arr.null_count:
        import pyarrow.compute as pc

        row = pc.index(pc.is_null(arr), True).as_py()
        what = "value is missing" if col.kind == "number" else f"{col.kind} is empty"
        raise row_error(InvalidValue, table.name, row, what, column=col.name)
    if col.kind == "number":
        values = table.numbers(col.name)
        finite = np.isfinite(values)
        if not finite.all():
            row = int(np.argmin(finite))
            text = f"{values[row]} is not allowed (values must be finite numbers)"
            raise row_error(InvalidValue, table.name, row, text, column=col.name)
    elif (pa.types.is_string(arr.type) or pa.types.is_dictionary(arr.type)) and _may_be_empty(arr):
        import pyarrow.compute as pc

        empty = pc.equal(arr, "")
        if pc.any(empty).as_py():
            row = pc.index(empty, True).as_py()
            raise row_error(InvalidValue, table.name, row, f"{col.kind} is empty", column=col.name)


def flat_numpy(arr: pa.ChunkedArray) -> np.ndarray:
    """``arr.to_numpy()`` without pandas: pyarrow's ChunkedArray conversion goes through
    its pandas layer, and importing pandas costs ~0.3 s of a small run's start-up."""
    chunks = [chunk_numpy(c) for c in arr.chunks]
    if len(chunks) == 1:
        return chunks[0]
    return np.concatenate(chunks) if chunks else arr.combine_chunks().to_numpy()


_NUMPY_TYPES = {
    "int8": np.int8,
    "int16": np.int16,
    "int32": np.int32,
    "int64": np.int64,
    "uint8": np.uint8,
    "uint16": np.uint16,
    "uint32": np.uint32,
    "uint64": np.uint64,
    "float": np.float32,
    "double": np.float64,
}


def chunk_numpy(chunk: pa.Array) -> np.ndarray:
    """A read-only numpy view of a numeric chunk without nulls (else a converted copy).

    Not ``chunk.to_numpy()``: pyarrow's conversion imports pandas (~0.3 s) on first use."""
    dtype = _NUMPY_TYPES.get(str(chunk.type))
    if dtype is None or chunk.null_count:
        return chunk.to_numpy(zero_copy_only=False)
    size = np.dtype(dtype).itemsize
    return np.frombuffer(chunk.buffers()[1], dtype, count=len(chunk), offset=chunk.offset * size)


def take_rows(arr: pa.ChunkedArray, rows: np.ndarray) -> pa.ChunkedArray:
    """``arr.take(rows)`` with the row numbers handed over as an Arrow buffer (pyarrow's
    conversion of a numpy argument imports pandas)."""
    idx = np.ascontiguousarray(rows, dtype=np.int64)
    return arrowfn.take(arr, pa.Array.from_buffers(pa.int64(), len(idx), [None, pa.py_buffer(idx)]))


def _may_be_empty(arr: pa.ChunkedArray) -> bool:
    """Whether an empty string may occur, without comparing to a Python ``""`` (pyarrow
    converts that scalar through pandas, which costs ~0.3 s of start-up to import)."""
    if pa.types.is_dictionary(arr.type):  # every used value is in a chunk's dictionary
        lengths = [min_(binary_length(c.dictionary)).as_py() for c in arr.chunks]
    else:
        lengths = [min_(binary_length(arr)).as_py()]
    return any(n == 0 for n in lengths)
