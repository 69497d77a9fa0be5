"""``validate``'s configuration check: meta.json, scorer, task type, params, resources."""

from __future__ import annotations

import os

import psutil

from autoscorer.errors import AutoScorerError, WorkspaceInvalid
from autoscorer.scorers.base import Scorer
from autoscorer.scorers.registry import ensure_builtins
from autoscorer.workspace.layout import Workspace
from autoscorer.workspace.models import Meta, parse_memory
from autoscorer.workspace.report import Report
from autoscorer.workspace.templates import TEMPLATES


def _load_meta(ws: Workspace, rep: Report) -> Meta | None:
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


def _resolve_scorer(meta: Meta | None, name: str | None, rep: Report) -> type[Scorer] | None:
    d = rep.details["configuration"]
    name = name or (meta.scorer if meta else None)
    if not name:
        if meta is not None:
            rep.error("configuration", "no scorer: set 'scorer' in meta.json")
            _suggest_scorer(meta.task_type, rep)
        return None
    registry = ensure_builtins()
    if name not in registry:
        available = ", ".join(registry.names())
        rep.error("configuration", f"no scorer named '{name}'; available: {available}")
        return None
    d["scorer_exists"] = True
    return registry.get(name)


def _suggest_scorer(task_type: str | None, rep: Report) -> None:
    tpl = TEMPLATES.get(task_type or "")
    if tpl is not None:
        rep.suggest(f"Use scorer '{tpl.scorer}' for {tpl.task_type} tasks")


def check_task_type(
    meta: Meta, cls: type[Scorer] | None, expected: str | None, rep: Report
) -> None:
    actual = meta.task_type
    if expected and actual and expected != actual:
        rep.error("configuration", f"task_type is '{actual}' in meta.json, expected '{expected}'")
    task = expected or actual
    if cls is not None and task and cls.task_type not in ("custom", task):
        rep.warn(
            "configuration",
            f"scorer '{cls.name}' is for {cls.task_type} tasks but the task type is '{task}'",
        )


def check_params(meta: Meta, cls: type[Scorer], rep: Report) -> bool:
    try:
        cls(meta.scorer_params)
    except AutoScorerError as exc:
        rep.details["configuration"]["parameters_valid"] = False
        rep.error("configuration", f"scorer_params: {exc.message}")
        return False
    rep.details["configuration"]["parameters_valid"] = True
    return True


def check_configuration(
    ws: Workspace, rep: Report, task_type: str | None, scorer: str | None
) -> tuple[Meta | None, type[Scorer] | None, bool]:
    """meta.json, scorer, task type, params, resources; returns what the data check needs."""
    meta = _load_meta(ws, rep)
    cls = _resolve_scorer(meta, scorer, rep)
    if meta is None:
        return None, cls, False
    check_resources(meta, rep)
    check_task_type(meta, cls, task_type, rep)
    params_ok = cls is not None and check_params(meta, cls, rep)
    if not meta.job_id:
        rep.suggest("Set 'job_id' in meta.json so results and logs can be traced")
    return meta, cls, params_ok
