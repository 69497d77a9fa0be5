"""Shared CLI plumbing: one-line errors, ``--json`` output, rich tables."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from autoscorer.errors import AutoScorerError, InvalidParameter

console = Console()
err_console = Console(stderr=True)
T = TypeVar("T")

JsonOpt = typer.Option(False, "--json", help="Print machine-readable JSON instead of text.")


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


def one_line(text: str) -> str:
    """``text`` with control and format characters (newlines, RTL overrides) escaped."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def fail(error: AutoScorerError, as_json: bool) -> None:
    """Print ``error`` as one line (or its JSON object) and exit non-zero."""
    if as_json:
        print_json({"success": False, "error": error.to_dict()})
    else:
        err_console.print(
            f"[bold red]error[/] [{error.code}] {escape(one_line(error.message))}",
            highlight=False,
            soft_wrap=True,
        )
    raise typer.Exit(code=2 if error.http_status < 500 else 1)


@contextmanager
def handle_errors(as_json: bool) -> Iterator[None]:
    """Turn domain errors into one clear line; never a traceback."""
    try:
        yield
    except AutoScorerError as exc:
        fail(exc, as_json)


def parse_json_option(value: str | None, name: str) -> dict[str, Any]:
    if not value:
        return {}
    try:
        data = json.loads(value)
    except json.JSONDecodeError as exc:
        raise InvalidParameter(f"{name} is not valid JSON: {exc}", field=name) from exc
    if not isinstance(data, dict):
        raise InvalidParameter(f"{name} must be a JSON object", field=name)
    return data


def table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> Table:
    t = Table(title=title, show_lines=False)
    for c in columns:
        t.add_column(c)
    for row in rows:
        t.add_row(*["" if v is None else str(v) for v in row])
    return t


def run_cmd(as_json: bool, fn: Callable[[], T]) -> T:
    with handle_errors(as_json):
        return fn()
    raise AssertionError("unreachable")  # pragma: no cover
