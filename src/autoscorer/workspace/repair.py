"""``validate(auto_fix=True)``: create missing folders and fill missing meta.json defaults.

Repairs only add what is absent; a value the host wrote is never changed, and a
``meta.json`` that does not parse is left for the host to fix. The task type of a
named scorer comes from the caller (``scorer_task``): the scorers sit above the
workspace layer.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from autoscorer.errors import AutoScorerError
from autoscorer.workspace import safeio
from autoscorer.workspace.layout import Workspace
from autoscorer.workspace.models import Meta
from autoscorer.workspace.templates import (
    LAYOUT_DIRS,
    TEMPLATES,
    build_meta,
    check_meta,
    default_job_id,
    get_template,
    write_json_atomic,
)


def fix_layout(ws: Workspace) -> list[str]:
    """Create missing ``input/``, ``output/`` and ``logs/``; returns what was done."""
    fixed = []
    for name in LAYOUT_DIRS:
        path = ws.root / name
        if not path.is_dir() and not path.exists():
            path.mkdir()
            fixed.append(f"created {name}/")
    return fixed


# a scorer's name -> its task type (None: unknown scorer)
ScorerTask = Callable[[str], str | None]


def _no_scorers(name: str) -> str | None:
    return None


def _scorer_of(task_type: str | None) -> str | None:
    tpl = TEMPLATES.get(task_type or "")
    return tpl.scorer if tpl else None


def _identity_defaults(
    ws: Workspace,
    raw: dict[str, Any],
    task_type: str | None,
    scorer: str | None,
    scorer_task: ScorerTask,
) -> dict[str, Any]:
    """job_id, scorer and task_type to add, derived from each other where possible."""
    named = raw.get("scorer") or scorer
    task = raw.get("task_type") or task_type or (scorer_task(named) if named else None)
    name = raw.get("scorer") or scorer or _scorer_of(task)
    out = {"job_id": default_job_id(ws.root), "task_type": task, "scorer": name}
    return {k: v for k, v in out.items() if v}


def _fill(raw: dict[str, Any], defaults: dict[str, Any], prefix: str = "") -> list[str]:
    """Add absent keys of ``defaults`` to ``raw`` (recursing into objects)."""
    added = []
    for key, value in defaults.items():
        if key not in raw:
            raw[key] = value
            added.append(f"{prefix}{key}")
        elif isinstance(value, dict) and isinstance(raw[key], dict):
            added += _fill(raw[key], value, f"{prefix}{key}.")
    return added


def _new_meta(
    ws: Workspace, task_type: str | None, scorer: str | None, scorer_task: ScorerTask
) -> dict[str, Any]:
    ids = _identity_defaults(ws, {}, task_type, scorer, scorer_task)
    if ids.get("task_type") in TEMPLATES:
        tpl = get_template(ids["task_type"])
        return build_meta(tpl, job_id=ids["job_id"], scorer=ids.get("scorer"))
    return {**ids, **Meta().model_dump(mode="json", exclude_none=True)}


def fix_meta(
    ws: Workspace,
    *,
    task_type: str | None = None,
    scorer: str | None = None,
    scorer_task: ScorerTask = _no_scorers,
) -> list[str]:
    """Write a default ``meta.json`` if absent, else add its missing fields."""
    if not ws.meta_path.exists():
        write_json_atomic(ws.meta_path, _new_meta(ws, task_type, scorer, scorer_task))
        return ["created meta.json with default settings"]
    try:
        with safeio.open_file(ws.meta_path, "r", encoding="utf-8-sig") as fh:
            raw = json.load(fh)
        if not isinstance(raw, dict):
            return []
        check_meta(raw, field_prefix="meta")
    except (ValueError, OSError, AutoScorerError):
        return []  # unparsable or invalid: reported by the checks, not guessed at
    defaults = {
        **_identity_defaults(ws, raw, task_type, scorer, scorer_task),
        **Meta().model_dump(mode="json", exclude_none=True),
    }
    added = _fill(raw, defaults)
    if added:
        write_json_atomic(ws.meta_path, raw)
    return [f"meta.json: added default {key}" for key in added]
