"""Reading data files safely: size limits, encodings, JSON with clear errors."""

from __future__ import annotations

import codecs
import json
import os
from pathlib import Path
from typing import IO, Any

from autoscorer.errors import EmptyFile, EncodingError, FileTooLarge, MissingFile, ParseError
from autoscorer.workspace import safeio


def display_name(path: Path) -> str:
    """``input/gt.csv`` rather than an absolute path, for messages."""
    return f"{path.parent.name}/{path.name}"


def check_file(path: Path, max_bytes: int) -> int:
    """Size of ``path``; raises if missing, empty, larger than ``max_bytes`` or a link out.

    The file is opened through :mod:`autoscorer.workspace.safeio`, so under a
    workspace boundary a link leading out of the workspace is refused, never followed.
    """
    fd, size = _checked_fd(path, max_bytes)
    os.close(fd)
    return size


def open_checked(path: Path, max_bytes: int) -> IO[bytes]:
    """``path`` opened for reading after the checks of :func:`check_file`, in one open
    (a folder of masks is thousands of files: the second confined open cost ~10%)."""
    fd, _ = _checked_fd(path, max_bytes)
    try:
        os.set_blocking(fd, True)
        return open(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _checked_fd(path: Path, max_bytes: int) -> tuple[int, int]:
    name = display_name(path)
    try:
        fd = safeio.open_fd(path)
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError) as exc:
        raise MissingFile(f"{name} is missing", field=name, details={"file": name}) from exc
    try:
        size = os.fstat(fd).st_size
        if size == 0:
            raise EmptyFile(f"{name} is empty", field=name, details={"file": name})
        if size > max_bytes:
            raise FileTooLarge(
                f"{name} is {size:,} bytes, above the limit of {max_bytes:,} bytes "
                "(raise max_file_bytes in the server config if this is expected)",
                field=name,
                details={"file": name, "size": size, "limit": max_bytes},
            )
    except BaseException:
        os.close(fd)
        raise
    return fd, size


def read_text(path: Path, max_bytes: int, encoding: str = "utf-8") -> str:
    """Whole file as text; a BOM is dropped; bad bytes give the byte offset."""
    check_file(path, max_bytes)
    with safeio.open_file(path) as fh:
        raw = fh.read(max_bytes + 1)
    return decode_bytes(path, raw, encoding)


def decode_bytes(path: Path, raw: bytes, encoding: str, *, final: bool = True) -> str:
    """Decode ``raw`` read from ``path``; ``final=False`` allows a cut multi-byte tail."""
    enc = "utf-8-sig" if encoding.lower().replace("_", "-") in ("utf-8", "utf8") else encoding
    try:
        return codecs.getincrementaldecoder(enc)().decode(raw, final=final)
    except UnicodeDecodeError as exc:
        name = display_name(path)
        raise EncodingError(
            f"{name} is not valid {encoding} at byte {exc.start}; set data.encoding in "
            "meta.json (e.g. 'gbk') or re-save the file as UTF-8",
            field=name,
            details={"file": name, "encoding": encoding, "byte_offset": exc.start},
        ) from exc
    except LookupError as exc:
        raise EncodingError(f"unknown encoding {encoding!r}", field="data.encoding") from exc


def read_json(path: Path, max_bytes: int, encoding: str = "utf-8") -> Any:
    """Parsed JSON; a syntax error names the file, line and column."""
    text = read_text(path, max_bytes, encoding)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        name = display_name(path)
        raise ParseError(
            f"{name} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}",
            field=name,
            details={"file": name, "line": exc.lineno, "column": exc.colno},
        ) from exc
