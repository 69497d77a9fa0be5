"""``validate``'s configuration check: meta.json, scorer, task type, params, resources.

meta.json and the resources are checked by :mod:`autoscorer.workspace.validate_config`;
the scorer's existence, task type and parameters here, against the registry.
"""

from __future__ import annotations

from autoscorer.errors import AutoScorerError
from autoscorer.scorers.base import Scorer
from autoscorer.scorers.registry import ensure_builtins
from autoscorer.workspace.layout import Workspace
from autoscorer.workspace.models import Meta
from autoscorer.workspace.report import Report
from autoscorer.workspace.validate_config import check_resources, load_meta, suggest_scorer


def scorer_task(name: str) -> str | None:
    """The task type of the registered scorer ``name`` (None: no such scorer)."""
    registry = ensure_builtins()
    return registry.get(name).task_type if name in registry else None


def _resolve_scorer(meta: Meta | None, name: str | None, rep: Report) -> type[Scorer] | None:
    d = rep.details["configuration"]
    name = name or (meta.scorer if meta else None)
    if not name:
        if meta is not None:
            rep.error("configuration", "no scorer: set 'scorer' in meta.json")
            suggest_scorer(meta.task_type, rep)
        return None
    registry = ensure_builtins()
    if name not in registry:
        available = ", ".join(registry.names())
        rep.error("configuration", f"no scorer named '{name}'; available: {available}")
        return None
    d["scorer_exists"] = True
    return registry.get(name)


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
    meta = load_meta(ws, rep)
    cls = _resolve_scorer(meta, scorer, rep)
    if meta is None:
        return None, cls, False
    check_resources(meta, rep)
    check_task_type(meta, cls, task_type, rep)
    params_ok = cls is not None and check_params(meta, cls, rep)
    if not meta.job_id:
        rep.suggest("Set 'job_id' in meta.json so results and logs can be traced")
    return meta, cls, params_ok
