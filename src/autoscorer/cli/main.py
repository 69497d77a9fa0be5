"""Entry point of the ``autoscorer`` command (the typer app: ``autoscorer.cli.app``).

``--help`` and ``--version`` are answered before typer is imported (``cli.fasthelp``);
``app`` is still importable from here, built on first access."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import typer


def main() -> None:
    from autoscorer.cli import fasthelp

    prog = fasthelp.program_name()
    if prog is not None and fasthelp.answer(sys.argv[1:], prog):
        return
    from autoscorer.cli.app import app

    app()


def __getattr__(name: str) -> typer.Typer:
    if name == "app":
        from autoscorer.cli.app import app

        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


if __name__ == "__main__":
    main()
