"""The workspace's own part of validation: the folder and its layout.

The whole check (``POST /api/v1/workspaces/validate``), which also needs the scorers,
is :func:`autoscorer.pipeline.validate.validate`; it builds on these functions.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from autoscorer.errors import WorkspaceNotFound
from autoscorer.workspace.layout import Workspace, resolve_inside
from autoscorer.workspace.report import Report


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
    """input/, output/, logs/ and meta.json are where they belong."""
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
