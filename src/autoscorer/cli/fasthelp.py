"""``autoscorer --help`` and ``autoscorer --version`` without importing typer.

Importing typer (and the click it bundles) is about 50 ms of a 100 ms start; scripts and
shells call ``--help``/``--version`` to probe the tool. The text is the one typer prints
(click's layout: terminal width capped at 80, the commands' first paragraphs shortened to
fit); ``tests/cli/test_startup.py`` compares the two at every width. Anything else, and a
program name too long for the one-line usage, goes to typer.
"""

from __future__ import annotations

import os
import shutil
import sys
import textwrap

from autoscorer import __version__
from autoscorer.cli.commands import APP_HELP, COMMANDS, VERSION_HELP

_ARGS = "[OPTIONS] COMMAND [ARGS]..."
_HELP_HELP = "Show this message and exit."


def answer(argv: list[str], prog: str) -> bool:
    """Print the answer to ``prog --help`` / ``prog --version`` and return True; False for
    any other command line (typer handles it)."""
    if argv == ["--version"]:
        sys.stdout.write(f"autoscorer {__version__}\n")
        return True
    width = max(min(shutil.get_terminal_size().columns, 80) - 2, 50)
    if argv != ["--help"] or len(f"Usage: {prog} {_ARGS}") > width:
        return False
    sys.stdout.write(help_text(prog, width) + "\n")
    return True


def help_text(prog: str, width: int) -> str:
    """The top-level help, laid out as click lays it out at ``width`` columns."""
    about = textwrap.TextWrapper(
        width, initial_indent="  ", subsequent_indent="  ", replace_whitespace=False
    )
    options = [("--version", VERSION_HELP), ("--help", _HELP_HELP)]
    name_width = max(len(name) for name in COMMANDS)
    limit = width - 6 - name_width
    commands = [(name, short_help(e.summary, limit)) for name, e in COMMANDS.items()]
    parts = [f"Usage: {prog} {_ARGS}", about.fill(APP_HELP)]
    parts += [_section("Options", options), _section("Commands", commands)]
    return "\n\n".join(parts)


def _section(title: str, rows: list[tuple[str, str]]) -> str:
    pad = max(len(first) for first, _ in rows) + 2
    return "\n".join([f"{title}:", *(f"  {first:<{pad}}{text}" for first, text in rows)])


def short_help(text: str, limit: int) -> str:
    """click's ``make_default_short_help``: the first sentence if it fits in ``limit``,
    else as many words as fit, then ``...``."""
    words = text.split()
    total = 0
    for i, word in enumerate(words):
        total += len(word) + (i > 0)
        if total > limit:
            break
        if word.endswith("."):
            return " ".join(words[: i + 1])
        if total == limit and i != len(words) - 1:
            break
    else:
        return " ".join(words)
    total += 3
    while i > 0:
        total -= len(words[i]) + 1
        if total <= limit:
            break
        i -= 1
    return " ".join(words[:i]) + "..."


def program_name() -> str | None:
    """The name to print, as click derives it, or None when run as ``python -m``."""
    name = os.path.basename(sys.argv[0])
    return None if name.endswith(".py") or not name else name
