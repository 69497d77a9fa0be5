"""Which parts of ``input/`` are ground truth, and what a sandbox may see of the rest.

Ground truth is *declared*, never guessed: a scorer names the files and folders it
reads as answers, ``meta.json`` may add more (``ground_truth: [...]``), and
``input/gt`` / ``input/gt.*`` are always included. Patterns are relative to the
workspace, start with ``input/``, and may use ``*``, ``?``, ``[...]`` within a
segment and ``**`` for any number of segments; a folder hides everything in it.

:func:`visible_entries` walks ``input/`` (never following a link) and returns the
entries a sandbox may mount: whole folders when nothing below them is hidden,
single entries otherwise. A file that is a hard link of a hidden file, and a link
whose target is (or contains) a hidden path, are hidden too.
"""

from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

# hidden whatever a scorer declares (the conventional names of the answers)
ALWAYS_HIDDEN = ("input/gt", "input/gt.*")


def check_pattern(pattern: str) -> str:
    """``pattern`` normalised; a ValueError unless it is a relative path under ``input/``."""
    if not isinstance(pattern, str) or not pattern.strip():
        raise ValueError("a ground-truth path must be a non-empty string")
    p = PurePosixPath(pattern.strip().replace("\\", "/"))
    parts = [s for s in p.parts if s != "."]
    if p.is_absolute() or ".." in parts or not parts or parts[0] != "input":
        raise ValueError(
            f"ground-truth path {pattern!r} must be relative to the workspace and start with "
            "'input/' (e.g. 'input/labels.csv', 'input/masks', 'input/**/*.png'); no '..'"
        )
    return "/".join(parts)


def _match(parts: tuple[str, ...], pat: tuple[str, ...]) -> bool:
    if not pat:
        return not parts
    if pat[0] == "**":
        return any(_match(parts[i:], pat[1:]) for i in range(len(parts) + 1))
    return bool(parts) and fnmatch.fnmatchcase(parts[0], pat[0]) and _match(parts[1:], pat[1:])


def covered(rel: str, patterns: tuple[str, ...]) -> bool:
    """True when ``rel`` (``input/...``) or one of its folders matches a pattern."""
    parts = tuple(rel.split("/"))
    return any(
        _match(parts[:n], tuple(p.split("/"))) for p in patterns for n in range(1, len(parts) + 1)
    )


def _reaches(parts: tuple[str, ...], pat: tuple[str, ...]) -> bool:
    """Whether something strictly below ``parts`` could match ``pat``."""
    if not pat:
        return False
    if pat[0] == "**":
        return True
    if not parts:
        return True
    return fnmatch.fnmatchcase(parts[0], pat[0]) and _reaches(parts[1:], pat[1:])


def may_contain(rel: str, patterns: tuple[str, ...]) -> bool:
    """True when a pattern could match something inside the folder ``rel``."""
    parts = tuple(rel.split("/"))
    return any(_reaches(parts, tuple(p.split("/"))) for p in patterns)


@dataclass(frozen=True)
class InputPolicy:
    """What of ``input/`` a sandbox sees.

    ``hidden``: patterns never mounted. ``public``: when not None, *only* these
    patterns are mounted (a custom scorer that declared no ground truth).
    ``expose``: the host exposed the ground truth; all of ``input/`` is mounted.
    """

    hidden: tuple[str, ...] = ALWAYS_HIDDEN
    public: tuple[str, ...] | None = None
    expose: bool = False

    def visible(self, rel: str) -> bool:
        if covered(rel, self.hidden):
            return False
        return self.public is None or covered(rel, self.public)


@dataclass
class _Scan:
    """Pass one over ``input/``: the hidden nodes' real paths and file identities."""

    policy: InputPolicy
    real: list[Path] = field(default_factory=list)
    inodes: set[tuple[int, int]] = field(default_factory=set)

    def walk(self, directory: Path, rel: str, hidden: bool) -> None:
        for entry in os.scandir(directory):
            sub = f"{rel}/{entry.name}"
            is_hidden = hidden or covered(sub, self.policy.hidden)
            if is_hidden and not hidden:
                self.real.append(Path(entry.path).resolve())
            if entry.is_dir(follow_symlinks=False):
                self.walk(Path(entry.path), sub, is_hidden)
            elif is_hidden and entry.is_file(follow_symlinks=False):
                st = entry.stat(follow_symlinks=False)
                self.inodes.add((st.st_dev, st.st_ino))

    def leaks(self, entry: os.DirEntry[str], rel: str) -> bool:
        """A hard link of a hidden file, or a link whose target overlaps a hidden path
        (or under which a pattern could match: the walk does not follow links)."""
        if entry.is_symlink():
            if may_contain(rel, self.policy.hidden):
                return True
            target = Path(entry.path).resolve()
            return any(
                target == r or target.is_relative_to(r) or r.is_relative_to(target)
                for r in self.real
            )
        if entry.is_file(follow_symlinks=False):
            st = entry.stat(follow_symlinks=False)
            return (st.st_dev, st.st_ino) in self.inodes
        return False


def _plan(scan: _Scan, directory: Path, rel: str) -> tuple[list[str], bool]:
    """(entries to mount, whether all of ``directory`` is visible)."""
    out: list[str] = []
    whole = True
    for entry in sorted(os.scandir(directory), key=lambda e: e.name):
        sub = f"{rel}/{entry.name}"
        if covered(sub, scan.policy.hidden) or scan.leaks(entry, sub):
            whole = False
            continue
        if entry.is_dir(follow_symlinks=False) and not entry.is_symlink():
            inner, all_visible = _plan(scan, Path(entry.path), sub)
            public = scan.policy.public is None or covered(sub, scan.policy.public)
            if all_visible and (public or inner):
                out.append(sub)
            else:
                out.extend(inner)
                whole = False
        elif scan.policy.visible(sub):
            out.append(sub)
        else:
            whole = False
    return out, whole


def visible_entries(input_dir: Path, policy: InputPolicy) -> list[str]:
    """Paths under ``input/`` (``input/data``, ``input/images/1.png``) a sandbox may mount.

    ``["input"]`` when all of it is visible; ``[]`` when nothing is.
    """
    if not input_dir.is_dir():
        return []
    if policy.expose:
        return ["input"]
    scan = _Scan(policy)
    scan.walk(input_dir, "input", False)
    entries, whole = _plan(scan, input_dir, "input")
    return ["input"] if whole and entries else entries
