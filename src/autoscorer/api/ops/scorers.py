"""Scorer listing and details over the registry and the job store's usage stats."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from autoscorer.errors import ScorerNotFound
from autoscorer.scorers.registry import Registry

TABLE_COLUMNS = ["name", "version", "task_type", "supported_formats", "usage_count", "last_used"]


def _usage(stats: Mapping[str, Any] | None) -> dict[str, Any]:
    stats = stats or {}
    return {
        "last_used": stats.get("last_used"),
        "usage_count": int(stats.get("usage_count", 0)),
        "success_rate": stats.get("success_rate"),
    }


def describe(
    registry: Registry,
    name: str,
    stats: Mapping[str, Any] | None,
    *,
    details: bool = True,
    examples: bool = True,
) -> dict[str, Any]:
    """One scorer as the API shows it: metadata, registration time, usage from the store."""
    cls = registry.get(name)
    info = registry.info(name)
    full = cls.describe(include_examples=examples)
    out = {k: full[k] for k in ("name", "version", "description", "task_type")}
    out["supported_formats"] = full["supported_formats"]
    out["parameters"] = full["parameters"]
    out["created_at"] = info["registered_at"]
    usage = _usage(stats)
    out["last_used"], out["usage_count"] = usage["last_used"], usage["usage_count"]
    if details:
        out.update({k: v for k, v in full.items() if k not in out})
        out["updated_at"] = info.get("updated_at", info["registered_at"])
        out["success_rate"] = usage["success_rate"]
        out["source"] = info.get("source")
    return out


def list_scorers(
    registry: Registry,
    stats: Mapping[str, Mapping[str, Any]],
    *,
    task_type: str | None = None,
    include_details: bool = False,
) -> list[dict[str, Any]]:
    """Every registered scorer (optionally of one task type), sorted by name."""
    out = []
    for name in registry.names():
        if task_type and registry.get(name).task_type != task_type:
            continue
        out.append(describe(registry, name, stats.get(name), details=include_details))
    return out


def as_table(items: list[dict[str, Any]]) -> dict[str, Any]:
    """``format=table``: column names and one row per scorer."""
    rows = [[_cell(item.get(col)) for col in TABLE_COLUMNS] for item in items]
    return {"format": "table", "columns": TABLE_COLUMNS, "rows": rows}


def _cell(value: Any) -> Any:
    return ", ".join(map(str, value)) if isinstance(value, list) else value


def get_scorer(
    registry: Registry,
    name: str,
    stats: Mapping[str, Any] | None,
    *,
    version: str | None = None,
    include_examples: bool = True,
) -> dict[str, Any]:
    """Details of one scorer; ``version`` must match the loaded version when given."""
    cls = registry.get(name)
    if version is not None and version != cls.version:
        raise ScorerNotFound(
            f"scorer '{name}' is loaded at version {cls.version}, not {version}",
            field="version",
            details={"provided": version, "available": [cls.version]},
        )
    return describe(registry, name, stats, details=True, examples=include_examples)
