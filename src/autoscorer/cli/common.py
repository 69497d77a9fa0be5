"""Shared CLI plumbing: one-line errors, ``--json`` output, rich tables."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

import typer

from autoscorer.errors import AutoScorerError, InvalidParameter

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

T = TypeVar("T")


class _LazyConsole:
    """A rich ``Console`` built on first use: importing rich costs ~40 ms of start-up,
    which ``--help``, ``--json`` and quiet runs never need."""

    def __init__(self, stderr: bool = False) -> None:
        self._stderr = stderr
        self._console: Console | None = None

    def get(self) -> Console:
        if self._console is None:
            from rich.console import Console

            self._console = Console(stderr=self._stderr)
        return self._console

    def __getattr__(self, name: str) -> Any:
        return getattr(self.get(), name)


console: Any = _LazyConsole()
err_console: Any = _LazyConsole(stderr=True)


def escape(text: str) -> str:
    """rich's markup escape, imported when text is printed."""
    from rich.markup import escape as rich_escape

    return rich_escape(text)


JsonOpt = typer.Option(False, "--json", help="Print machine-readable JSON instead of text.")


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


def say_line(ok: bool, text: str) -> None:
    """``✓ text`` (or ``✗``): coloured through rich on a terminal; into a pipe or file the
    same line unstyled and unwrapped, without importing rich (~30 ms of a script's run)."""
    if sys.stdout.isatty():
        mark = "[green]✓[/]" if ok else "[red]✗[/]"
        console.print(f"{mark} {escape(text)}", highlight=False)
    else:
        sys.stdout.write(f"{'✓' if ok else '✗'} {text}\n")


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
    from rich.table import Table

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
