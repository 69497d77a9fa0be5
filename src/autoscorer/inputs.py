"""Rules for every value that comes from outside: API requests, CLI arguments, SDK calls.

One place says what a string, a path, a number or a free-form JSON tree may hold, so
the API (as pydantic constraints and the OpenAPI document), the CLI and the SDK refuse
the same things with the same words, before anything is looked up or written:

- text is valid Unicode that encodes to UTF-8 (no lone surrogates), holds no NUL and
  is at most a bounded number of characters long;
- integers fit a signed 64-bit column; floats are finite;
- a path is text as above; ``~`` is never looked up in the user database. The API does
  not expand it at all (a leading ``~`` is refused); locally ``~`` and ``~/...`` mean
  ``$HOME`` of the user running the command, and ``~name`` is refused;
- a free-form JSON object (``config``, ``parameters``) holds such text and numbers, at
  most :data:`MAX_TREE_DEPTH` levels deep and :data:`MAX_TREE_ITEMS` values in all.

Every refusal is an :class:`~autoscorer.errors.InvalidParameter` naming the field.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

from autoscorer.errors import InvalidParameter

INT64_MAX = 2**63 - 1
MAX_NAME = 128  # scorer, task type, template, section, job id, filters
MAX_PATH = 4096  # PATH_MAX on Linux
MAX_TEXT = 4096  # free text such as a cancellation reason
MAX_URL = 2048
MAX_TREE_DEPTH = 32
MAX_TREE_ITEMS = 10_000
MAX_TREE_TEXT = 65_536  # one string inside a free-form object

JOB_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"
TEXT_PATTERN = r"^[^\x00]*$"
NAME_PATTERN = r"^[^\x00]+$"
MAX_COMPONENT = 255  # NAME_MAX: bytes of one path component
# No leading "~", no NUL, components of 1-255 characters (the server counts UTF-8 bytes).
API_PATH_PATTERN = r"^/?([^~/\x00][^/\x00]{0,254})?(/[^/\x00]{1,255})*/?$"


def text_problem(value: str, *, max_length: int) -> str | None:
    """Why ``value`` is not acceptable text, or None. Never echoes the value."""
    if len(value) > max_length:
        return f"is {len(value):,} characters long; at most {max_length:,} are allowed"
    if "\x00" in value:
        return "contains a NUL character"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        return f"is not valid Unicode (a lone surrogate at position {exc.start})"
    return None


def check_text(value: str, field: str, *, max_length: int = MAX_TEXT) -> str:
    problem = text_problem(value, max_length=max_length)
    if problem:
        raise InvalidParameter(f"{field} {problem}", field=field)
    return value


def api_path_problem(value: str) -> str | None:
    """Why ``value`` is not an acceptable API path (before resolving), or None."""
    if not value:
        return "must not be empty"
    if value.startswith("~"):
        return (
            "starts with '~', which the API does not expand; "
            "send an absolute path or one relative to the root"
        )
    problem = text_problem(value, max_length=MAX_PATH)
    if problem is None and any(len(c.encode()) > MAX_COMPONENT for c in value.split("/")):
        problem = f"has a component longer than {MAX_COMPONENT} bytes"
    return problem


def check_api_path(value: str, field: str) -> str:
    problem = api_path_problem(value)
    if problem:
        raise InvalidParameter(f"{field} {problem}", field=field)
    return value


def local_path(value: str | os.PathLike[str], field: str = "path") -> Path:
    """A local (CLI, library) path, absolute and resolved; ``~`` only as ``$HOME``."""
    text = os.fspath(value)
    check_text(text, field, max_length=2 * MAX_PATH)  # room for a root joined in front
    if not text:
        raise InvalidParameter(f"{field} must not be empty", field=field)
    if text == "~" or text.startswith("~/"):
        home = os.environ.get("HOME")
        if not home:
            raise InvalidParameter(f"{field} starts with '~' but HOME is not set", field=field)
        text = home + text[1:]
    elif text.startswith("~"):
        raise InvalidParameter(
            f"{field} starts with '~user', which is not expanded; write the full path",
            field=field,
        )
    if any(len(part.encode()) > MAX_COMPONENT for part in text.split("/")):
        raise InvalidParameter(
            f"{field} has a component longer than {MAX_COMPONENT} bytes", field=field
        )
    try:
        return Path(text).resolve()
    except (OSError, RuntimeError, ValueError) as exc:  # a symlink loop, a name too long
        raise InvalidParameter(f"cannot resolve {field}: {exc}", field=field) from exc


def check_int(value: int, field: str, *, low: int = -INT64_MAX - 1, high: int = INT64_MAX) -> int:
    if not low <= value <= high:
        raise InvalidParameter(f"{field} must be between {low} and {high}", field=field)
    return value


def tree_problem(value: Any) -> str | None:
    """Why a free-form JSON value is not acceptable, or None (iterative, bounded)."""
    stack: list[tuple[str, Any, int]] = [("", value, 0)]
    seen = 0
    while stack:
        where, item, depth = stack.pop()
        seen += 1
        if seen > MAX_TREE_ITEMS:
            return f"holds more than {MAX_TREE_ITEMS:,} values"
        if depth > MAX_TREE_DEPTH:
            return f"is nested more than {MAX_TREE_DEPTH} levels deep (at '{where}')"
        problem = _leaf_problem(item)
        if problem:
            return f"{'.' + where if where else ''} {problem}".strip()
        if isinstance(item, dict):
            for key, sub in item.items():
                key_problem = text_problem(str(key), max_length=MAX_NAME * 2)
                if key_problem:
                    return f"has a key that {key_problem}"
                stack.append((f"{where}.{key}" if where else str(key), sub, depth + 1))
        elif isinstance(item, list):
            stack.extend((f"{where}[{i}]", sub, depth + 1) for i, sub in enumerate(item))
    return None


def _leaf_problem(item: Any) -> str | None:
    if isinstance(item, bool) or item is None:
        return None
    if isinstance(item, int) and not -INT64_MAX - 1 <= item <= INT64_MAX:
        return "holds an integer outside the signed 64-bit range"
    if isinstance(item, float) and not math.isfinite(item):
        return "holds a number that is not finite"
    if isinstance(item, str):
        return text_problem(item, max_length=MAX_TREE_TEXT)
    return None


def check_tree(value: Any, field: str) -> Any:
    problem = tree_problem(value)
    if problem:
        raise InvalidParameter(f"{field} {problem}", field=field)
    return value
