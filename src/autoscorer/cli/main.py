"""The ``autoscorer`` command. Each command group lives in its own module."""

from __future__ import annotations

import typer

from autoscorer import __version__
from autoscorer.cli import artifacts, jobs_remote, k8s, run, scorers, serve, worker, workspace

app = typer.Typer(
    name="autoscorer",
    help="AutoScorer: run submissions in a sandbox and score them exactly.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"autoscorer {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """AutoScorer command line."""


for module in (workspace, scorers, run, worker, serve, jobs_remote, artifacts, k8s):
    module.register(app)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
