"""A job's plan: what it runs, resolved once from ``meta.json`` and the request.

The job service resolves the plan when a job is submitted (to refuse a bad one at
once and to route it); the worker resolves it once when the job runs and hands
the same :class:`JobPlan` to the executor (the sandbox spec) and to the scorer,
so nothing below reads ``meta.json`` or looks the scorer up again.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from autoscorer.errors import MissingParameter
from autoscorer.executors.spec import apply_overrides
from autoscorer.scorers.base import Scorer
from autoscorer.scorers.registry import get_scorer
from autoscorer.workspace.layout import Workspace
from autoscorer.workspace.models import Meta


@dataclass(frozen=True)
class JobPlan:
    """The effective configuration of one run.

    ``meta`` is ``meta.json`` with the request's overrides applied, the job's id
    and the resolved scorer name and parameters written in, so it describes the
    run as it happens; ``scorer`` is the class that scores it and ``params`` its
    parameters (``meta.json`` < ``config.scorer_params`` < explicit ``params``).
    """

    workspace: Workspace
    meta: Meta
    scorer: type[Scorer]
    params: dict[str, Any]

    @property
    def job_id(self) -> str | None:
        return self.meta.job_id


def resolve_scorer(meta: Meta, scorer: str | None) -> type[Scorer]:
    """The scorer class named by the request, else by ``meta.json``."""
    name = scorer or meta.scorer
    if not name:
        raise MissingParameter(
            "no scorer given: pass --scorer or set 'scorer' in meta.json", field="scorer"
        )
    return get_scorer(name)


def plan_job(
    workspace: str | os.PathLike[str] | Workspace,
    *,
    scorer: str | None = None,
    params: Mapping[str, Any] | None = None,
    overrides: Mapping[str, Any] | None = None,
    job_id: str | None = None,
    meta: Meta | None = None,
) -> JobPlan:
    """Read ``meta.json`` once and resolve everything a run needs from it and the request.

    Raises :class:`~autoscorer.errors.WorkspaceInvalid` for a missing or bad ``meta.json``,
    :class:`~autoscorer.errors.InvalidParameter` for bad overrides and
    :class:`~autoscorer.errors.ScorerNotFound` / ``MissingParameter`` for the scorer.
    ``meta`` is ``meta.json`` when the caller has read it already (it is not read again).
    """
    ws = workspace if isinstance(workspace, Workspace) else Workspace.at(workspace)
    overrides = overrides or {}
    meta = apply_overrides(meta if meta is not None else ws.load_meta(), overrides)
    cls = resolve_scorer(meta, scorer)
    merged = {**meta.scorer_params, **(overrides.get("scorer_params") or {}), **(params or {})}
    update: dict[str, Any] = {"scorer": cls.name, "scorer_params": merged}
    if job_id:
        update["job_id"] = job_id
    return JobPlan(ws, meta.model_copy(update=update), cls, merged)
