"""The workspace's part of ``validate``'s configuration check: meta.json and resources.

The scorer, task type and parameter checks are in :mod:`autoscorer.pipeline.validate_config`.
"""

from __future__ import annotations

import os

import psutil

from autoscorer.errors import WorkspaceInvalid
from autoscorer.workspace.layout import Workspace
from autoscorer.workspace.models import Meta, parse_memory
from autoscorer.workspace.report import Report
from autoscorer.workspace.templates import TEMPLATES


def load_meta(ws: Workspace, rep: Report) -> Meta | None:
    """meta.json parsed, or None (missing, or reported as invalid)."""
    d = rep.details["configuration"]
    d.update(
        meta_json_valid=False, scorer_exists=False, resources_valid=False, parameters_valid=False
    )
    if not ws.meta_path.is_file():
        return None
    try:
        meta = ws.load_meta()
    except WorkspaceInvalid as exc:
        errs = exc.details.get("errors") or []
        d["resources_valid"] = not any(e["loc"] and e["loc"][0] == "resources" for e in errs)
        rep.error("configuration", exc.message)
        return None
    d["meta_json_valid"] = True
    d["resources_valid"] = True
    return meta


def check_resources(meta: Meta, rep: Report) -> None:
    """Limits the machine cannot satisfy are warnings (a cluster may be bigger)."""
    cores = os.cpu_count() or 1
    if meta.resources.cpu > cores:
        rep.warn(
            "configuration", f"resources.cpu is {meta.resources.cpu} but this host has {cores}"
        )
    total = psutil.virtual_memory().total
    if parse_memory(meta.resources.memory) > total:
        rep.warn(
            "configuration",
            f"resources.memory {meta.resources.memory} is more than this host's {total:,} bytes",
        )
    if meta.network_policy == "bridge":
        rep.warn("configuration", "network_policy 'bridge' gives the submission network access")


def suggest_scorer(task_type: str | None, rep: Report) -> None:
    """Name the template's scorer for ``task_type``, when there is a template."""
    tpl = TEMPLATES.get(task_type or "")
    if tpl is not None:
        rep.suggest(f"Use scorer '{tpl.scorer}' for {tpl.task_type} tasks")
