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


def matches(rel: str, patterns: tuple[str, ...]) -> bool:
    """True when ``rel`` itself (not a folder above it) matches a pattern."""
    parts = tuple(rel.split("/"))
    return any(_match(parts, tuple(p.split("/"))) for p in patterns)


@dataclass
class _Scan:
    """Pass one over ``input/``: the hidden nodes' real paths, and the identities of hidden
    files that have other hard links. Folders no pattern can reach are not walked."""

    policy: InputPolicy
    real: list[Path] = field(default_factory=list)
    inodes: set[tuple[int, int]] = field(default_factory=set)

    def walk(self, directory: Path, rel: str) -> None:
        for entry in os.scandir(directory):
            sub = f"{rel}/{entry.name}"
            is_dir = entry.is_dir(follow_symlinks=False)
            if matches(sub, self.policy.hidden):
                self.real.append(Path(entry.path).resolve())
                if is_dir:
                    self._linked_files(Path(entry.path))
                else:
                    self._note(entry)
            elif is_dir and may_contain(sub, self.policy.hidden):
                self.walk(Path(entry.path), sub)

    def _linked_files(self, directory: Path) -> None:
        for entry in os.scandir(directory):
            if entry.is_dir(follow_symlinks=False):
                self._linked_files(Path(entry.path))
            else:
                self._note(entry)

    def _note(self, entry: os.DirEntry[str]) -> None:
        if entry.is_file(follow_symlinks=False):
            st = entry.stat(follow_symlinks=False)
            if st.st_nlink > 1:
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
        if self.inodes and entry.is_file(follow_symlinks=False):
            st = entry.stat(follow_symlinks=False)
            return (st.st_dev, st.st_ino) in self.inodes
        return False

    def must_look_inside(self, rel: str, public: bool) -> bool:
        """Whether a folder's entries need checking one by one (else it is all or nothing)."""
        pol = self.policy
        return bool(
            self.inodes
            or may_contain(rel, pol.hidden)
            or (not public and pol.public is not None and may_contain(rel, pol.public))
        )


def _plan(scan: _Scan, directory: Path, rel: str, public: bool) -> tuple[list[str], bool]:
    """(entries to mount, whether all of ``directory`` is visible); ``public``: a folder
    above matched ``public_inputs`` (or there are none)."""
    out: list[str] = []
    whole = True
    for entry in sorted(os.scandir(directory), key=lambda e: e.name):
        sub = f"{rel}/{entry.name}"
        if matches(sub, scan.policy.hidden) or scan.leaks(entry, sub):
            whole = False
            continue
        shown = public or matches(sub, scan.policy.public or ())
        if entry.is_dir(follow_symlinks=False) and scan.must_look_inside(sub, shown):
            inner, all_visible = _plan(scan, Path(entry.path), sub, shown)
            if all_visible and (shown or inner):
                out.append(sub)
            else:
                out.extend(inner)
                whole = False
        elif shown:
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
    if matches("input", policy.hidden):
        return []
    scan = _Scan(policy)
    scan.walk(input_dir, "input")
    public = policy.public is None or matches("input", policy.public)
    entries, whole = _plan(scan, input_dir, "input", public)
    return ["input"] if whole and entries else entries
