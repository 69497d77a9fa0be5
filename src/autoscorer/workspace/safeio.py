"""File operations that stay inside a workspace: no link is ever followed out of it.

The workspace is untrusted (a participant can plant symbolic links in ``output/``
and ``logs/``, a submitter may craft the whole folder), and the server acts as
root. So every file the server opens, creates, replaces or chowns under a
workspace goes through here:

- the top entries (``meta.json``, ``input``, ``output``, ``logs``) must not be
  links (:func:`check_top_level`, a :class:`WorkspaceInvalid`);
- a file is first resolved and proven to lie inside its own top folder
  (``input/...`` inside ``input/``, ``output/...`` inside ``output/``), then
  opened by walking that real path from the workspace root one component at a
  time with ``O_NOFOLLOW`` (:func:`open_file`), so a link swapped in after the
  check makes the open fail instead of leaving the workspace;
- writes happen relative to a directory descriptor opened the same way
  (:func:`open_dir`, :func:`write_atomic`, :func:`chown_entries`).

Errors name the path inside the workspace and never quote a byte of the file.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import stat
import uuid
from collections.abc import Iterator
from contextvars import ContextVar
from pathlib import Path
from typing import IO, Any

from autoscorer.errors import NoPredictions, WorkspaceInvalid

TOP_ENTRIES = ("meta.json", "input", "output", "logs")
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_DIR = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | _NOFOLLOW | os.O_CLOEXEC
_ACTIVE: ContextVar[Path | None] = ContextVar("autoscorer_workspace_boundary", default=None)


class OutsideWorkspace(WorkspaceInvalid):
    """A workspace path that is a link out of the workspace (or out of its top folder)."""


@contextlib.contextmanager
def boundary(root: str | os.PathLike[str]) -> Iterator[Path]:
    """Within the block, :func:`open_file` confines every path to the workspace ``root``."""
    real = Path(os.path.realpath(root))
    token = _ACTIVE.set(real)
    try:
        yield real
    finally:
        _ACTIVE.reset(token)


def active_root() -> Path | None:
    return _ACTIVE.get()


def check_top_level(root: str | os.PathLike[str]) -> None:
    """Refuse a workspace whose ``meta.json``, ``input``, ``output`` or ``logs`` is a link."""
    for name in TOP_ENTRIES:
        if os.path.islink(os.path.join(root, name)):
            raise WorkspaceInvalid(
                f"{name} in the workspace is a symbolic link; the workspace's top-level "
                "entries (meta.json, input/, output/, logs/) must be real files and folders",
                field=name,
                details={"entry": name, "reason": "symlink"},
            )


def _outside(rel: str) -> OutsideWorkspace:
    return OutsideWorkspace(
        f"{rel} leads outside the workspace (a symbolic link); files the server reads "
        "must lie inside their workspace folder",
        field=rel,
        details={"file": rel, "reason": "outside_workspace"},
    )


def relative_name(path: str | os.PathLike[str], root: Path) -> str:
    """``output/pred.csv`` for messages; the bare name when ``path`` is not under ``root``."""
    absolute = Path(os.path.abspath(path))
    return absolute.relative_to(root).as_posix() if absolute.is_relative_to(root) else absolute.name


def confine(path: str | os.PathLike[str], root: Path) -> tuple[str, ...]:
    """The real location of ``path`` as parts relative to ``root``, proven inside its top folder."""
    rel = relative_name(path, root)
    absolute = Path(os.path.abspath(path))
    if not absolute.is_relative_to(root) or absolute == root:
        raise _outside(rel)
    top = absolute.relative_to(root).parts[0]
    check_top_level(root)
    real = Path(os.path.realpath(absolute))
    if not real.is_relative_to(root / top):
        raise _outside(rel)
    return real.relative_to(root).parts


def _walk(root: Path, parts: tuple[str, ...]) -> int:
    """A descriptor of the directory ``root/parts``, no component followed if a link."""
    fd = os.open(root, _DIR)
    try:
        for part in parts:
            child = os.open(part, _DIR, dir_fd=fd)
            os.close(fd)
            fd = child
    except BaseException:
        os.close(fd)
        raise
    return fd


def _open_at(parent: int, name: str, flags: int, mode: int = 0o644) -> int:
    return os.open(name, flags | _NOFOLLOW | os.O_CLOEXEC, mode, dir_fd=parent)


def open_fd(path: str | os.PathLike[str], root: Path | None = None) -> int:
    """A read-only descriptor of the regular file ``path`` (see the module doc).

    Under an active :func:`boundary` (or with ``root``) the path must stay inside
    the workspace; otherwise only its last component must not be a link.
    """
    root = root or active_root()
    flags = os.O_RDONLY | os.O_NONBLOCK
    try:
        fd = _open_plain(path, flags) if root is None else _open_confined(path, root, flags)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise _outside(relative_name(path, root) if root else Path(path).name) from exc
        raise
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise IsADirectoryError(errno.EISDIR, "not a regular file", Path(path).name)
    return fd


def _open_plain(path: str | os.PathLike[str], flags: int) -> int:
    return os.open(path, flags | _NOFOLLOW | os.O_CLOEXEC)


def _open_confined(path: str | os.PathLike[str], root: Path, flags: int) -> int:
    parts = confine(path, root)
    fd = open_checked(root, parts, flags)
    st = os.fstat(fd)  # a folder has several links of its own: open_fd refuses it as a folder
    if parts[0] == "output" and stat.S_ISREG(st.st_mode) and st.st_nlink > 1:
        os.close(fd)  # a hard link in output/ may be the ground truth under another name
        rel = "/".join(parts)
        raise OutsideWorkspace(
            f"{rel} is a hard link; the submission must write a file of its own",
            field=rel,
            details={"file": rel, "reason": "hard_link"},
        )
    return fd


def open_checked(root: Path, parts: tuple[str, ...], flags: int = os.O_RDONLY) -> int:
    """Open ``root/parts`` (a path :func:`confine` proved) with no component followed.

    Were any component swapped for a link since the check, the open fails (ELOOP
    or ENOTDIR) instead of leaving the workspace.
    """
    parent = _walk(root, parts[:-1])
    try:
        return _open_at(parent, parts[-1], flags)
    finally:
        os.close(parent)


def open_file(path: str | os.PathLike[str], mode: str = "rb", **kw: Any) -> IO[Any]:
    """:func:`open_fd` as a file object (``"rb"``, or ``"r"`` with ``encoding`` etc.).

    The descriptor is closed exactly once when something fails: ``open(fd, "r",
    encoding="unknown")`` closes it itself, and a second close could hit a
    descriptor another thread has been given the same number since.
    """
    if mode not in ("rb", "r"):
        raise ValueError("open_file opens for reading only")
    fd = open_fd(path)
    try:
        os.set_blocking(fd, True)
        raw = io.FileIO(fd)  # reads, and owns fd from here on
    except BaseException:
        os.close(fd)
        raise
    try:
        buffered = io.BufferedReader(raw)
        return io.TextIOWrapper(buffered, **kw) if mode == "r" else buffered
    except BaseException:
        raw.close()
        raise


def is_regular(path: str | os.PathLike[str]) -> bool:
    """``path`` is a regular file that :func:`open_file` may open (links out are not)."""
    try:
        os.close(open_fd(path))
    except (OSError, WorkspaceInvalid):
        return False
    return True


@contextlib.contextmanager
def open_dir(root: Path, *parts: str, create: bool = False) -> Iterator[int]:
    """A descriptor of the folder ``root/parts`` (each created if asked); no link followed.

    ``parts[0]`` is a top folder (``output``, ``logs``); a link anywhere on the way
    fails with :class:`OutsideWorkspace` instead of being followed.
    """
    check_top_level(root)
    fd = _walk(root, ())
    try:
        for i, part in enumerate(parts):
            if create:
                with contextlib.suppress(FileExistsError):
                    os.mkdir(part, 0o755, dir_fd=fd)
            child = _open_subdir(fd, part, "/".join(parts[: i + 1]))
            os.close(fd)
            fd = child
        yield fd
    finally:
        os.close(fd)


def _open_subdir(fd: int, part: str, rel: str) -> int:
    """``part`` of the folder ``fd`` (``rel`` names it in errors), never through a link."""
    try:
        return os.open(part, _DIR, dir_fd=fd)
    except OSError as exc:
        if exc.errno not in (errno.ELOOP, errno.ENOTDIR):
            raise
        if stat.S_ISLNK(os.stat(part, dir_fd=fd, follow_symlinks=False).st_mode):
            raise _outside(rel) from exc
        raise WorkspaceInvalid(
            f"{rel} in the workspace is not a folder", field=rel, details={"entry": rel}
        ) from exc


def write_atomic(dir_fd: int, name: str, data: bytes, mode: int = 0o644) -> None:
    """Replace ``name`` in the folder ``dir_fd`` at once; a link there is replaced, not followed."""
    tmp = f".{name}-{uuid.uuid4().hex[:12]}"
    fd = _open_at(dir_fd, tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with open(fd, "wb", closefd=True) as fh:
            fh.write(data)
            os.fchmod(fh.fileno(), mode)
        os.replace(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp, dir_fd=dir_fd)
        raise


def create_new(dir_fd: int, name: str, mode: int = 0o644) -> int:
    """Create ``name`` in ``dir_fd``; FileExistsError if anything (a link too) is there."""
    return _open_at(dir_fd, name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)


def create_fresh(dir_fd: int, name: str, mode: int = 0o644) -> int:
    """A new, empty ``name`` in ``dir_fd`` for writing; whatever was there (a link too) goes."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(name, dir_fd=dir_fd)
    return _open_at(dir_fd, name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)


def unlink_if_link(dir_fd: int, name: str) -> bool:
    """Remove ``name`` from ``dir_fd`` if it is a symbolic link; True if one was removed."""
    try:
        if not stat.S_ISLNK(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode):
            return False
    except FileNotFoundError:
        return False
    os.unlink(name, dir_fd=dir_fd)
    return True


def chown_entries(root: Path, *parts: str, uid: int, gid: int) -> None:
    """Give the folder ``root/parts`` and its direct entries to ``uid:gid``; no link followed."""
    with open_dir(root, *parts) as fd:
        os.fchown(fd, uid, gid)
        for entry in os.scandir(fd):
            os.chown(entry.name, uid, gid, dir_fd=fd, follow_symlinks=False)


def linked_part(root: Path, relative: str) -> str | None:
    """The first component of ``root/relative`` (below its top folder) that is a link."""
    parts = Path(relative).parts
    for i in range(1, len(parts)):
        sub = "/".join(parts[: i + 1])
        if os.path.islink(root / sub):
            return sub
    return None


def _hard_linked(path: Path) -> bool:
    try:
        st = os.lstat(path)
    except OSError:
        return False
    return stat.S_ISREG(st.st_mode) and st.st_nlink > 1


def refuse_linked_prediction(root: Path, relative: str) -> None:
    """One rule for predictions, after inference and in score-only mode alike.

    A prediction file that is a symbolic link (or lies under one), or a hard link
    (another name of a file, maybe the ground truth), is refused with
    NO_PREDICTIONS wherever it points, ``input/`` included: the host-side scorer
    would otherwise read what the link names.
    """
    check_top_level(root)
    link, kind = linked_part(root, relative), "symbolic"
    if link is None and _hard_linked(root / relative):
        link, kind = relative, "hard"
    if link is not None:
        raise NoPredictions(
            f"{link} is a {kind} link; write a regular file",
            field=link,
            details={"file": link, "reason": f"{kind}_link"},
        )
