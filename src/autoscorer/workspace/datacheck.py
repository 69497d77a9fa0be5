"""Light checks of data files for ``validate``: readable, right header, right JSON shape.

These read only a CSV's first block and a JSON file's top level; the scorers'
own loaders (run by ``validate``'s full check) remain the authority on every row.
Each check raises a :class:`~autoscorer.errors.DataValidationError` naming the
file and what is wrong.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from autoscorer.errors import EmptyFile, InvalidValue, MissingColumn, ParseError
from autoscorer.workspace import safeio
from autoscorer.workspace.files import check_file, decode_bytes, display_name, read_json

HEAD_BYTES = 64 * 1024
HEAD_ROWS = 50

# top-level keys a COCO-style ground truth must have, by task type
GT_JSON_KEYS: dict[str, tuple[str, ...]] = {
    "detection": ("images", "annotations", "categories"),
    "segmentation": ("images", "categories"),
}
# task types whose predictions are a JSON list of objects
LIST_PRED_TASKS = frozenset({"detection", "segmentation"})


def _decode_head(path: Path, encoding: str) -> tuple[str, bool]:
    """The first ``HEAD_BYTES`` as text, and whether the file goes on past them.

    A multi-byte character cut at the end of the block is not an error.
    """
    with safeio.open_file(path) as fh:
        raw = fh.read(HEAD_BYTES + 1)
    truncated = len(raw) > HEAD_BYTES
    raw = raw[:HEAD_BYTES]
    return decode_bytes(path, raw, encoding, final=not truncated), truncated


def _head_rows(path: Path, encoding: str) -> list[list[str]]:
    text, truncated = _decode_head(path, encoding)
    lines = text.splitlines()
    if truncated and len(lines) > 1:
        lines = lines[:-1]  # the last line of a cut block may be partial
    try:
        return [row for row in csv.reader(lines[:HEAD_ROWS]) if row]
    except csv.Error as exc:
        name = display_name(path)
        raise ParseError(f"{name} is not valid CSV: {exc}", field=name) from exc


def check_csv(
    path: Path,
    required: Sequence[str],
    *,
    encoding: str = "utf-8",
    has_header: bool = True,
    max_bytes: int,
) -> None:
    """Header has ``required`` columns, at least one data row, consistent field counts."""
    check_file(path, max_bytes)
    name = display_name(path)
    rows = _head_rows(path, encoding)
    if not rows:
        raise EmptyFile(f"{name} has no rows", field=name, details={"file": name})
    width = len(rows[0])
    if has_header:
        header = [c.strip() for c in rows[0]]
        missing = [c for c in required if c not in header]
        if missing:
            raise MissingColumn(
                f"{name} lacks column(s) {missing}; its header is {header}",
                field=name,
                details={"file": name, "missing": missing, "found": header},
            )
        if len(rows) == 1:
            raise EmptyFile(f"{name} has a header but no data rows", field=name)
    elif width < len(required):
        raise MissingColumn(
            f"{name} has {width} column(s) but needs {len(required)} ({list(required)})",
            field=name,
            details={"file": name, "missing": list(required)[width:]},
        )
    _check_widths(name, rows, width, has_header)


def _check_widths(name: str, rows: list[list[str]], width: int, has_header: bool) -> None:
    for i, row in enumerate(rows[1:], start=2):
        if len(row) != width:
            row_no = i - 1 if has_header else i
            raise ParseError(
                f"{name} row {row_no}: {len(row)} field(s), expected {width}",
                field=name,
                details={"file": name, "row": row_no, "fields": len(row), "expected": width},
            )


def check_json(
    path: Path,
    *,
    role: str,
    task_type: str | None,
    required: Sequence[str] = (),
    encoding: str = "utf-8",
    max_bytes: int,
) -> list[str]:
    """Parse ``path`` and check its top-level shape for ``task_type``; returns warnings."""
    data = read_json(path, max_bytes, encoding)
    name = display_name(path)
    if role == "gt":
        _check_gt_object(name, data, GT_JSON_KEYS.get(task_type or "", ()))
        return []
    if task_type in LIST_PRED_TASKS or isinstance(data, list):
        return _check_pred_list(name, data, required)
    return []


def _check_gt_object(name: str, data: Any, keys: Sequence[str]) -> None:
    if not keys:
        return
    if not isinstance(data, dict):
        raise InvalidValue(
            f"{name} must be a JSON object with {list(keys)}, got a {type(data).__name__}",
            field=name,
            details={"file": name},
        )
    missing = [k for k in keys if k not in data]
    if missing:
        raise MissingColumn(
            f"{name} lacks top-level key(s) {missing}",
            field=name,
            details={"file": name, "missing": missing, "found": sorted(data)},
        )


def _check_pred_list(name: str, data: Any, required: Sequence[str]) -> list[str]:
    if not isinstance(data, list):
        raise InvalidValue(
            f"{name} must be a JSON list of objects, got a {type(data).__name__}",
            field=name,
            details={"file": name},
        )
    if not data:
        return [f"{name} is an empty list: there are no predictions to score"]
    for i, entry in enumerate(data):
        if not isinstance(entry, dict):
            raise InvalidValue(
                f"{name}[{i}] must be an object, got {type(entry).__name__}",
                field=f"{name}[{i}]",
                details={"file": name, "index": i},
            )
        missing = [k for k in required if k not in entry]
        if missing:
            raise MissingColumn(
                f"{name}[{i}] lacks key(s) {missing}",
                field=f"{name}[{i}]",
                details={"file": name, "index": i, "missing": missing},
            )
    return []
