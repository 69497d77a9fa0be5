"""Handing a run's writable mounts to the pods' group before the Job is created.

Most ReadWriteMany storage ignores ``fsGroup``; the worker (a member of the group)
changes the group and mode itself, never following a link.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from pathlib import Path

from autoscorer.errors import ExecutorUnavailable, WorkspaceInvalid
from autoscorer.executors.base import RunSpec


def grant_group_writable(spec: RunSpec, gid: int) -> None:
    """Hand the writable mounts (and what is already in them) to group ``gid``, mode g+rwX.

    Directories get the set-group-id bit, so files the pod creates stay readable by the
    worker (a member of the group). Everything is opened with ``O_NOFOLLOW`` and changed
    through its descriptor: a link is never followed, a link at a mount is refused.
    """
    for mount in spec.mounts:
        if mount.read_only:
            continue
        try:
            _grant(mount.source, gid, top=True)
        except PermissionError as exc:
            raise ExecutorUnavailable(
                f"cannot hand {mount.source} to group {gid} ({exc.strerror}); run the worker "
                f"with group {gid} in its supplementalGroups (see docs/deployment.md)",
                details={"executor": "kubernetes", "fs_group": gid},
            ) from exc
        for entry in os.scandir(mount.source):
            with contextlib.suppress(OSError):  # a link, a pipe, an unreadable leftover
                _grant(Path(entry.path), gid, top=False)


def _grant(path: Path, gid: int, *, top: bool) -> None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        if exc.errno == errno.ELOOP and top:
            raise WorkspaceInvalid(
                f"{path} is a symbolic link; refused", field="workspace_path"
            ) from exc
        raise
    try:
        info = os.fstat(fd)
        if not (stat.S_ISDIR(info.st_mode) or stat.S_ISREG(info.st_mode)):
            return
        mode = 0o2770 if stat.S_ISDIR(info.st_mode) else 0o660
        if info.st_gid == gid and info.st_mode & mode == mode:
            return  # already handed over (e.g. by whoever prepared the workspace)
        os.fchown(fd, -1, gid)
        os.fchmod(fd, (info.st_mode & 0o7777) | mode)
    finally:
        os.close(fd)
