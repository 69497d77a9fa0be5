"""Opening one published artifact (``output/artifacts/<file>``) for download.

The sandboxed run may write ``output/``, so every step of the path is opened
relative to the one before with ``O_NOFOLLOW``: a symbolic link anywhere below
the workspace root (``output``, ``artifacts`` or the file) is refused, never
followed, and only a regular file with no other name (no hard link) is served.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from typing import BinaryIO

from autoscorer.errors import ResourceNotFound
from autoscorer.workspace.layout import Workspace

_MIME = {".png": "image/png", ".json": "application/json", ".csv": "text/csv"}
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0) | os.O_NONBLOCK


def media_type(filename: str) -> str:
    """The content type of an artifact file, by its extension."""
    return _MIME.get(os.path.splitext(filename)[1].lower(), "application/octet-stream")


@dataclass
class OpenArtifact:
    """An artifact opened for reading; the caller closes ``file``."""

    name: str
    filename: str
    file: BinaryIO
    size: int
    media_type: str


def _missing(name: str, why: str) -> ResourceNotFound:
    return ResourceNotFound(
        f"artifact {name!r} is not available: {why}",
        field="name",
        details={"artifact": name},
    )


def _open_at(name: str, part: str, flags: int, dir_fd: int | None) -> int:
    try:
        return os.open(part, flags, dir_fd=dir_fd)
    except OSError as exc:  # ELOOP/ENOTDIR: a link or a file where a directory should be
        raise _missing(name, f"{part} cannot be opened ({exc.strerror})") from exc


def open_artifact(ws: Workspace, name: str, filename: str) -> OpenArtifact:
    """Open ``output/artifacts/<filename>`` of ``ws`` without following any link."""
    if not filename or filename in (".", "..") or "/" in filename or "\0" in filename:
        raise _missing(name, "not a plain file name")
    fds = [_open_at(name, str(ws.root), _DIR_FLAGS, None)]  # resolved by Workspace.at
    try:
        for part in ("output", "artifacts"):
            fds.append(_open_at(name, part, _DIR_FLAGS, fds[-1]))
        fd = _open_at(name, filename, _FILE_FLAGS, fds[-1])
    finally:
        for d in fds:
            os.close(d)
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode) or info.st_nlink != 1:  # a hard link is another name
        os.close(fd)  # of some other file (the ground truth?): never what the scorer wrote
        raise _missing(name, "not a regular file of its own")
    os.set_blocking(fd, True)
    return OpenArtifact(name, filename, os.fdopen(fd, "rb"), info.st_size, media_type(filename))
