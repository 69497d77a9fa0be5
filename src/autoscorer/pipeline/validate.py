"""Check a workspace (``POST /api/v1/workspaces/validate``).

``validate`` never raises for a broken workspace: every problem becomes an
entry of ``errors`` (or ``warnings``) under one of three checks -- structure,
configuration, data_format. Only a workspace folder that does not exist (or
lies outside the allowed roots) raises. The folder, layout, meta.json and file
checks are the workspace's (:mod:`autoscorer.workspace.validate` and siblings);
what needs a scorer is here, in the pipeline layer, since it runs one.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

from autoscorer.pipeline.scoring import DEFAULT_MAX_FILE_BYTES
from autoscorer.pipeline.validate_config import check_configuration, scorer_task
from autoscorer.pipeline.validate_data import check_data
from autoscorer.workspace import safeio
from autoscorer.workspace.layout import Workspace
from autoscorer.workspace.repair import fix_layout, fix_meta
from autoscorer.workspace.report import Report
from autoscorer.workspace.validate import check_structure, open_workspace


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
        rep.fixed += fix_layout(ws)
        rep.fixed += fix_meta(ws, task_type=task_type, scorer=scorer, scorer_task=scorer_task)
    check_structure(ws, rep)
    config = check_configuration(ws, rep, task_type, scorer)
    check_data(ws, rep, config, task_type, deep=deep, max_bytes=max_file_bytes)
    return rep.finish(strict=strict, auto_fix=auto_fix)
