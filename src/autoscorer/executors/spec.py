"""Building a :class:`RunSpec` from a workspace, its ``meta.json`` and the API's overrides.

Inside every sandbox the workspace appears at ``/workspace``:

- ``input/`` read-only, **without** the ground truth unless ``meta.expose_gt``
  is true. What is ground truth is declared by the scorer and ``meta.json``
  (``workspace.ground_truth``); it is hidden by mounting only the *other*
  entries of ``input/`` (whole folders when nothing below them is hidden)
  under a read-only ``/workspace/input``; nothing is copied.
- ``output/`` and ``logs/`` read-write.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from autoscorer.errors import AutoScorerError, InvalidParameter, WorkspaceInvalid
from autoscorer.executors.base import SANDBOX_ROOT, Mount, RunSpec
from autoscorer.scorers.base import Scorer
from autoscorer.scorers.registry import get_scorer
from autoscorer.workspace import safeio
from autoscorer.workspace.ground_truth import ALWAYS_HIDDEN, InputPolicy, visible_entries
from autoscorer.workspace.layout import Workspace
from autoscorer.workspace.models import Meta, parse_memory

# keys of the API's ``config`` that change how inference runs
_META_KEYS = ("time_limit", "resources", "network_policy", "expose_gt")
NOBODY = "65534:65534"
# visible entries of input/ mounted one by one, at most (a container's mount table)
MAX_INPUT_MOUNTS = 1000


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


def input_policy(ws: Workspace, meta: Meta, scorer: type[Scorer] | None) -> InputPolicy:
    """The scorer's declaration; without a scorer nothing of ``input/`` is visible."""
    if scorer is None and meta.scorer:
        try:
            scorer = get_scorer(meta.scorer)
        except AutoScorerError:
            scorer = None
    if scorer is None:
        return InputPolicy(ALWAYS_HIDDEN + tuple(meta.ground_truth), (), meta.expose_gt)
    return scorer.input_policy(ws, meta)


def input_mounts(ws: Workspace, policy: InputPolicy) -> list[Mount]:
    """One read-only mount per visible entry of ``input/`` (the ground truth left out)."""
    visible = visible_entries(ws.input_dir, policy)
    if len(visible) > MAX_INPUT_MOUNTS:
        raise WorkspaceInvalid(
            f"the ground truth is scattered among the other files of input/: {len(visible)} "
            f"entries would be mounted one by one (at most {MAX_INPUT_MOUNTS}); keep the "
            "ground-truth files in folders of their own",
            field="ground_truth",
            details={"entries": len(visible), "limit": MAX_INPUT_MOUNTS},
        )
    return [Mount(ws.root / rel, f"{SANDBOX_ROOT}/{rel}", read_only=True) for rel in visible]


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
    scorer: type[Scorer] | None = None,
) -> RunSpec:
    """The :class:`RunSpec` for ``meta.container``; creates ``output/`` and ``logs/``.

    ``scorer`` declares the ground truth (default: ``meta.scorer`` from the registry).
    """
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
            *input_mounts(ws, input_policy(ws, meta, scorer)),
            Mount(ws.output_dir, f"{SANDBOX_ROOT}/output", read_only=False),
            Mount(ws.logs_dir, f"{SANDBOX_ROOT}/logs", read_only=False),
        ],
        time_limit=float(meta.time_limit),
        cpu=float(meta.resources.cpu),
        memory_bytes=meta.resources.memory_bytes,
        gpus=meta.resources.gpus,
        pids=meta.resources.pids,
        network=meta.network_policy,
        user=check_user(c.user, "container.user") if c.user else None,
        pull_policy=c.pull_policy,
        expected_outputs=expected_outputs,
        disk_bytes=parse_memory(meta.resources.disk or default_disk()),
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


@functools.cache
def default_disk() -> str:
    """The disk quota of a run without ``resources.disk`` (setting ``default_disk``)."""
    from autoscorer.settings import Settings

    return Settings().default_disk


def check_user(user: str, field: str) -> str:
    """``user`` as numeric ``uid:gid``, neither of them 0 (a bare uid is also the gid).

    A name is refused: it is resolved inside the submitted image, whose
    ``/etc/passwd`` could map it to root; so is a missing group, which Docker
    fills with 0 for a uid the image does not list.
    """
    uid, sep, gid = str(user).strip().partition(":")
    if not uid.isdigit() or (sep and not gid.isdigit()):
        raise InvalidParameter(
            f"{field} {user!r} must be numeric 'uid:gid' (e.g. '1000:1000'): a name is "
            "resolved inside the submitted image, which could map it to root",
            field=field,
            details={"provided": user},
        )
    if int(uid) == 0 or int(gid or uid) == 0:
        raise InvalidParameter(
            f"{field} {user!r} has uid or gid 0 (root user or root group); submissions run "
            "as a non-root user and group, e.g. '65534:65534'",
            field=field,
            details={"provided": user},
        )
    return f"{int(uid)}:{int(gid or uid)}"


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
        if mount.read_only:
            continue
        if source.is_relative_to(root):
            parts = source.relative_to(root).parts
            safeio.chown_entries(root, *parts, uid=ids[0], gid=ids[1])
        else:  # AutoScorer's own folder (the disk quota's filesystem): nothing in it yet
            os.chown(source, ids[0], ids[1], follow_symlinks=False)
