"""Building a :class:`RunSpec` from a workspace, its ``meta.json`` and the API's overrides.

Inside every sandbox the workspace appears at ``/workspace``:

- ``input/`` read-only, **without** ``gt.*`` unless ``meta.expose_gt`` is true.
  The ground truth is hidden by mounting each *other* entry of ``input/``
  one by one (``input/data``, ``input/images.txt``, ...) under a read-only
  ``/workspace/input``; nothing is copied.
- ``output/`` and ``logs/`` read-write.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from autoscorer.errors import InvalidParameter, WorkspaceInvalid
from autoscorer.executors.base import SANDBOX_ROOT, Mount, RunSpec
from autoscorer.workspace import safeio
from autoscorer.workspace.layout import Workspace
from autoscorer.workspace.models import Meta, parse_memory

# keys of the API's ``config`` that change how inference runs
_META_KEYS = ("time_limit", "resources", "network_policy", "expose_gt")
NOBODY = "65534:65534"


def apply_overrides(meta: Meta, overrides: Mapping[str, Any] | None) -> Meta:
    """``meta`` with the request's ``config`` merged in, validated like ``meta.json``."""
    if not overrides:
        return meta
    data = meta.model_dump(mode="json", by_alias=True)
    for key in _META_KEYS:
        if key not in overrides or overrides[key] is None:
            continue
        value = overrides[key]
        if key == "resources":
            if not isinstance(value, Mapping):
                raise InvalidParameter("config.resources must be an object", field="resources")
            data["resources"] = {
                **data["resources"],
                **{k: v for k, v in value.items() if v is not None},
            }
        else:
            data[key] = value
    if overrides.get("env") and data.get("container"):
        data["container"]["env"] = {**data["container"]["env"], **dict(overrides["env"])}
    try:
        return Meta.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        raise InvalidParameter(f"config.{loc}: {first['msg']}", field=f"config.{loc}") from exc


def is_gt(name: str) -> bool:
    return name == "gt" or name.startswith("gt.")


def input_mounts(ws: Workspace, expose_gt: bool) -> list[Mount]:
    """One read-only mount per visible entry of ``input/`` (gt.* hidden unless exposed)."""
    if not ws.input_dir.is_dir():
        return []
    if expose_gt:
        return [Mount(ws.input_dir, f"{SANDBOX_ROOT}/input", read_only=True)]
    return [
        Mount(entry, f"{SANDBOX_ROOT}/input/{entry.name}", read_only=True)
        for entry in sorted(ws.input_dir.iterdir())
        if not is_gt(entry.name)
    ]


def sandbox_env(meta: Meta, job_id: str) -> dict[str, str]:
    """The submission's environment: fixed paths first, then ``container.env``."""
    env = {
        "HOME": "/tmp",
        "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "AUTOSCORER_JOB_ID": job_id,
        "AUTOSCORER_WORKSPACE": SANDBOX_ROOT,
        "AUTOSCORER_INPUT": f"{SANDBOX_ROOT}/input",
        "AUTOSCORER_OUTPUT": f"{SANDBOX_ROOT}/output",
        "AUTOSCORER_LOGS": f"{SANDBOX_ROOT}/logs",
    }
    assert meta.container is not None
    env.update({str(k): str(v) for k, v in meta.container.env.items()})
    return env


_JOB_ID_SAFE = re.compile(r"[^a-zA-Z0-9_.-]+")


def safe_job_id(job_id: str | None, ws: Workspace) -> str:
    """A job id usable in container names and labels."""
    raw = job_id or ws.root.name or "job"
    return _JOB_ID_SAFE.sub("-", raw).strip("-.")[:63] or "job"


def build_spec(
    ws: Workspace,
    meta: Meta,
    *,
    job_id: str | None = None,
    expected_outputs: tuple[str, ...] = ("pred.csv", "pred.json"),
    keep: bool = False,
    labels: Mapping[str, str] | None = None,
) -> RunSpec:
    """The :class:`RunSpec` for ``meta.container``; creates ``output/`` and ``logs/``."""
    if meta.container is None:
        raise WorkspaceInvalid(
            "meta.json has no 'container' section, so there is nothing to run; "
            "add container.image and container.cmd, or use 'autoscorer score'",
            field="meta.container",
        )
    ws.check_links()
    for name in ("output", "logs"):
        with safeio.open_dir(ws.root, name, create=True):
            pass
    jid = safe_job_id(job_id or meta.job_id, ws)
    c = meta.container
    spec = RunSpec(
        workspace=ws,
        job_id=jid,
        image=c.image,
        cmd=list(c.cmd),
        env=sandbox_env(meta, jid),
        working_dir=c.working_dir or SANDBOX_ROOT,
        mounts=[
            *input_mounts(ws, meta.expose_gt),
            Mount(ws.output_dir, f"{SANDBOX_ROOT}/output", read_only=False),
            Mount(ws.logs_dir, f"{SANDBOX_ROOT}/logs", read_only=False),
        ],
        time_limit=float(meta.time_limit),
        cpu=float(meta.resources.cpu),
        memory_bytes=meta.resources.memory_bytes,
        gpus=meta.resources.gpus,
        pids=meta.resources.pids,
        network=meta.network_policy,
        user=c.user,
        pull_policy=c.pull_policy,
        expected_outputs=expected_outputs,
        disk_bytes=parse_memory(meta.resources.disk) if meta.resources.disk else None,
        keep=keep,
        labels=dict(labels or {}),
    )
    check_mounts(spec)
    return spec


def check_mounts(spec: RunSpec) -> None:
    """Every mount source is a real path inside the workspace, no link on the way.

    Docker and bwrap resolve a bind mount's source on the host, so a linked
    ``input/data`` (or ``output``) would mount whatever it names into the sandbox.
    """
    root = spec.workspace.root
    safeio.check_top_level(root)
    for mount in spec.mounts:
        source = Path(os.path.abspath(mount.source))
        if not source.is_relative_to(root):
            continue  # chosen by AutoScorer itself, not workspace content
        rel = source.relative_to(root).as_posix()
        link = safeio.linked_part(root, rel) or (rel if os.path.islink(mount.source) else None)
        if link is not None:
            raise WorkspaceInvalid(
                f"{link} is a symbolic link; a folder or file mounted into the sandbox "
                "must be a real entry of the workspace",
                field=link,
                details={"entry": link, "reason": "symlink"},
            )


def parse_user(user: str) -> tuple[int, int] | None:
    """``"1000:1000"`` or ``"1000"`` -> (uid, gid); None for names (resolved by the engine)."""
    uid, _, gid = user.partition(":")
    if uid.isdigit() and (not gid or gid.isdigit()):
        return int(uid), int(gid or uid)
    return None


def default_user() -> str:
    """``nobody`` when AutoScorer runs as root, else the caller's own ids (never root)."""
    if os.geteuid() == 0:
        return NOBODY
    return f"{os.geteuid()}:{os.getegid()}"


def grant_writable(spec: RunSpec, user: str) -> None:
    """Let the sandbox user write ``output/`` and ``logs/`` (and files already in them).

    Only needed, and only possible, when AutoScorer runs as root; a non-root
    caller runs the sandbox under its own ids.
    """
    check_mounts(spec)  # again: this is the last moment before the sandbox starts
    ids = parse_user(user)
    if ids is None or os.geteuid() != 0 or ids[0] == 0:
        return
    root = spec.workspace.root
    for mount in spec.mounts:
        source = Path(os.path.abspath(mount.source))
        if not mount.read_only and source.is_relative_to(root):
            parts = source.relative_to(root).parts
            safeio.chown_entries(root, *parts, uid=ids[0], gid=ids[1])
