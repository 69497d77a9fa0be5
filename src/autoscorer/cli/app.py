"""The typer app of the ``autoscorer`` command; each command group lives in its own module,
imported only when one of its commands runs (see ``autoscorer.cli.lazy``)."""

from __future__ import annotations

import typer

from autoscorer import __version__
from autoscorer.cli.commands import APP_HELP, COMMANDS, VERSION_HELP
from autoscorer.cli.lazy import LazyGroup


class _Commands(LazyGroup):
    TABLE = COMMANDS


app = typer.Typer(
    name="autoscorer",
    help=APP_HELP,
    cls=_Commands,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # plain help: rich-formatted help imports rich and markdown-it (~85 ms per start)
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"autoscorer {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help=VERSION_HELP
    ),
) -> None:
    """AutoScorer command line."""
