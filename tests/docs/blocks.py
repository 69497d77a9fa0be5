"""Fenced code blocks of the README files and ``docs/``: where they are and what they hold.

A block that is deliberately not run carries a visible marker on the line before it:
``<!-- not-run: the reason -->``. The docs tests count those and fail above a budget.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FENCE = re.compile(r"^(\s*)```([A-Za-z0-9_+-]*)\s*$")
NOT_RUN = re.compile(r"<!--\s*not-run:\s*(.+?)\s*-->")
ALIASES = {
    "sh": "bash",
    "shell": "bash",
    "console": "bash",
    "js": "javascript",
    "mjs": "javascript",
    "ts": "typescript",
    "py": "python",
}


@dataclass(frozen=True)
class Block:
    """One fenced block: its file, first code line (1-based), language and text."""

    path: Path
    line: int
    lang: str
    code: str
    not_run: str | None  # the reason, when the block is marked as not run

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(REPO)}:{self.line}"


def doc_files() -> list[Path]:
    """Every document whose examples are checked."""
    files = [REPO / "README.md", REPO / "README.zh-CN.md", REPO / "clients/js/README.md"]
    files += sorted((REPO / "docs").rglob("*.md"))
    return [f for f in files if f.is_file()]


def blocks(path: Path) -> list[Block]:
    """The fenced blocks of ``path`` in order (indented fences in lists included)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    out: list[Block] = []
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        indent, lang = m.group(1), m.group(2).lower()
        end = i + 1
        while end < len(lines) and lines[end].strip() != "```":
            end += 1
        body = [ln[len(indent) :] if ln.startswith(indent) else ln for ln in lines[i + 1 : end]]
        marker = NOT_RUN.search(lines[i - 1]) if i > 0 else None
        out.append(
            Block(
                path,
                i + 2,
                ALIASES.get(lang, lang),
                "\n".join(body) + "\n",
                marker.group(1) if marker else None,
            )
        )
        i = end + 1
    return out


def all_blocks() -> list[Block]:
    return [b for f in doc_files() for b in blocks(f)]


def shell_commands(code: str) -> list[str]:
    """The command lines of a shell block: continuations joined, comments dropped."""
    joined = re.sub(r"\\\n\s*", " ", code)
    out = []
    for line in joined.splitlines():
        line = line.split(" #")[0].strip()
        if line and not line.startswith("#"):
            out.append(line)
    return out
