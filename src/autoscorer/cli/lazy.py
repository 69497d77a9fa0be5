"""The top-level command group, whose commands are imported only when one is chosen.

Typer builds every command of an app (signatures, type hints, parameter converters) before
it parses the command line, and the command modules import what their commands use. For a
loop that runs ``autoscorer score`` hundreds of times, or for ``--help``, that was about
35 ms per start spent on commands that do not run. Here the group knows each command's
module and the first paragraph of its help (what ``--help`` lists); the module is imported,
and its commands built, on first access (the table: ``autoscorer.cli.commands``).
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from gettext import gettext as _
from typing import Any

import typer
from typer import _click
from typer.core import TyperGroup

from autoscorer.cli.commands import Entry


def build_module(module: str) -> dict[str, _click.Command]:
    """The click commands ``autoscorer.cli.<module>.register`` adds to an app."""
    # ``__import__``, not ``importlib.import_module``: only the former is listed by
    # ``python -X importtime``, which the start-up budget is measured with
    mod = __import__(f"autoscorer.cli.{module}", fromlist=["register"])
    sub = typer.Typer(rich_markup_mode=None)
    mod.register(sub)
    return dict(typer.main.get_group(sub).commands)


class LazyCommands(MutableMapping[str, _click.Command]):
    """``name -> command``, in the table's order; a command's module is built when read."""

    def __init__(self, table: dict[str, Entry], loaded: dict[str, _click.Command]) -> None:
        self.table = table
        self.loaded = dict(loaded)

    def __getitem__(self, name: str) -> _click.Command:
        if name not in self.loaded and name in self.table:
            self.loaded.update(build_module(self.table[name].module))
        return self.loaded[name]

    def __setitem__(self, name: str, cmd: _click.Command) -> None:
        self.loaded[name] = cmd

    def __delitem__(self, name: str) -> None:
        self.table.pop(name, None)
        self.loaded.pop(name, None)

    def __iter__(self) -> Iterator[str]:
        yield from self.table
        yield from (name for name in self.loaded if name not in self.table)

    def __len__(self) -> int:
        return len(self.table.keys() | self.loaded.keys())


class LazyGroup(TyperGroup):
    """A ``TyperGroup`` over ``LazyCommands`` of ``TABLE`` (set by the app's module)."""

    TABLE: dict[str, Entry] = {}

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.commands = LazyCommands(self.TABLE, dict(self.commands))

    def list_commands(self, ctx: _click.Context) -> list[str]:
        return list(self.commands)  # the names only: ``TyperGroup``'s reads every command

    def format_commands(self, ctx: _click.Context, formatter: _click.HelpFormatter) -> None:
        """As ``TyperGroup.format_commands`` (same text), from the table's summaries."""
        names = [n for n in self.list_commands(ctx) if not self._hidden(n)]
        if not names:
            return
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows = [(name, self._short_help(name, limit)) for name in names]
        with formatter.section(_("Commands")):
            formatter.write_dl(rows)

    def _hidden(self, name: str) -> bool:
        return name not in self.TABLE and self.commands[name].hidden

    def _short_help(self, name: str, limit: int) -> str:
        entry = self.TABLE.get(name)
        if entry is None:  # added at run time, not in the table
            return self.commands[name].get_short_help_str(limit)
        return _click.utils.make_default_short_help(entry.summary, limit)
