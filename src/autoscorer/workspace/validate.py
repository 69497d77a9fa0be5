"""Check a workspace (``POST /api/v1/workspaces/validate``).

``validate`` never raises for a broken workspace: every problem becomes an
entry of ``errors`` (or ``warnings``) under one of three checks -- structure,
configuration, data_format. Only a workspace folder that does not exist (or
lies outside the allowed roots) raises.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

from autoscorer.errors import WorkspaceNotFound
from autoscorer.pipeline.scoring import DEFAULT_MAX_FILE_BYTES
from autoscorer.workspace import safeio
from autoscorer.workspace.layout import Workspace, resolve_inside
from autoscorer.workspace.repair import fix_layout, fix_meta
from autoscorer.workspace.report import Report
from autoscorer.workspace.validate_config import check_configuration
from autoscorer.workspace.validate_data import check_data


def open_workspace(
    workspace: str | os.PathLike[str] | Workspace, roots: Iterable[str | os.PathLike[str]] = ()
) -> Workspace:
    """The workspace at ``workspace``, inside ``roots``; it must be an existing folder."""
    path = workspace.root if isinstance(workspace, Workspace) else workspace
    ws = Workspace(resolve_inside(path, roots))
    if not ws.root.is_dir():
        raise WorkspaceNotFound(
            f"workspace {ws.root} does not exist or is not a directory; "
            "create one with 'autoscorer init-workspace'",
            field="workspace_path",
            details={"workspace_path": str(ws.root)},
        )
    ws.check_links()
    return ws


def check_structure(ws: Workspace, rep: Report) -> None:
    d = rep.details["structure"]
    d["has_input_dir"] = ws.input_dir.is_dir()
    d["has_output_dir"] = ws.output_dir.is_dir()
    d["has_meta_json"] = ws.meta_path.is_file()
    d["has_logs_dir"] = ws.logs_dir.is_dir()
    if not d["has_meta_json"]:
        rep.error("structure", "meta.json is missing")
        rep.suggest("Create meta.json with 'autoscorer init-workspace' or run with auto_fix")
    if not d["has_input_dir"]:
        rep.error("structure", "input/ is missing: the ground truth belongs in input/")
    for name in ("output", "logs"):
        if not d[f"has_{name}_dir"]:
            rep.warn("structure", f"{name}/ is missing; it is created when the job runs")
    if not (d["has_input_dir"] and d["has_output_dir"] and d["has_logs_dir"]):
        rep.suggest("Run validate with auto_fix (--auto-fix) to create the missing folders")


def validate(
    workspace: str | os.PathLike[str] | Workspace,
    *,
    task_type: str | None = None,
    scorer: str | None = None,
    strict: bool = False,
    auto_fix: bool = False,
    deep: bool = True,
    roots: Iterable[str | os.PathLike[str]] = (),
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
) -> dict[str, Any]:
    """Validate ``workspace``; returns the ``POST /api/v1/workspaces/validate`` data.

    ``strict`` turns warnings into errors. ``auto_fix`` creates missing folders
    and fills missing ``meta.json`` defaults, listing them under ``fixed``.
    ``deep`` runs the scorer (writing nothing) when both data files pass the
    light checks. Raises only when the folder itself does not exist or has a
    top-level entry that is a link (:class:`WorkspaceInvalid`), or is outside
    ``roots`` (:class:`Forbidden`). Every file is read through ``safeio``.
    """
    ws = open_workspace(workspace, roots)
    with safeio.boundary(ws.root):
        return _validate(ws, task_type, scorer, strict, auto_fix, deep, max_file_bytes)


def _validate(
    ws: Workspace,
    task_type: str | None,
    scorer: str | None,
    strict: bool,
    auto_fix: bool,
    deep: bool,
    max_file_bytes: int,
) -> dict[str, Any]:
    rep = Report(ws.root)
    if auto_fix:
        rep.fixed += fix_layout(ws) + fix_meta(ws, task_type=task_type, scorer=scorer)
    check_structure(ws, rep)
    config = check_configuration(ws, rep, task_type, scorer)
    check_data(ws, rep, config, task_type, deep=deep, max_bytes=max_file_bytes)
    return rep.finish(strict=strict, auto_fix=auto_fix)
