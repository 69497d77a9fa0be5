"""Scorer listing, details and test runs over the registry and the job store's stats."""

from __future__ import annotations

import threading
import time
import tracemalloc
from collections.abc import Mapping
from typing import Any

from autoscorer.errors import (
    AutoScorerError,
    DataValidationError,
    InvalidParameter,
    ScorerNotFound,
    WorkspaceInvalid,
)
from autoscorer.pipeline.scoring import score
from autoscorer.scorers.base import Scorer
from autoscorer.scorers.registry import Registry
from autoscorer.workspace.layout import Workspace
from autoscorer.workspace.models import format_bytes

TABLE_COLUMNS = ["name", "version", "task_type", "supported_formats", "usage_count", "last_used"]
# tracemalloc is process-wide: scorer test runs are measured one at a time
_measure_lock = threading.Lock()


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


def test_scorer(
    registry: Registry,
    name: str,
    *,
    workspace: str,
    parameters: dict[str, Any],
    validate_only: bool,
    max_file_bytes: int,
) -> dict[str, Any]:
    """Run (or only check) scorer ``name`` on a workspace without writing anything."""
    cls = registry.get(name)
    validation = {"workspace_valid": False, "data_format_valid": False, "parameters_valid": False}
    started = time.perf_counter()
    try:
        _validate(cls, workspace, parameters, validation)
        if validate_only:
            return _test_answer(name, "validated", started, validation, None, {}, None)
        result, performance = _measured(cls.name, workspace, parameters, max_file_bytes)
        validation["data_format_valid"] = True
        return _test_answer(name, "passed", started, validation, result, performance, None)
    except (DataValidationError, WorkspaceInvalid, InvalidParameter) as exc:
        return _test_answer(name, "failed", started, validation, None, {}, exc)


def _validate(
    cls: type[Scorer], workspace: str, parameters: dict[str, Any], validation: dict[str, bool]
) -> None:
    meta = Workspace.at(workspace).load_meta()
    validation["workspace_valid"] = True
    cls({**meta.scorer_params, **parameters})
    validation["parameters_valid"] = True


def _measured(
    name: str, workspace: str, parameters: dict[str, Any], max_file_bytes: int
) -> tuple[dict[str, Any], dict[str, Any]]:
    with _measure_lock:
        tracemalloc.start()
        cpu0 = time.thread_time()
        try:
            result = score(
                workspace,
                name,
                parameters,
                write=False,
                write_artifacts=False,
                max_file_bytes=max_file_bytes,
            )
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        cpu = time.thread_time() - cpu0
    performance = {"memory_usage": format_bytes(peak), "cpu_time": round(cpu, 6)}
    return result.to_json_dict(), performance


def _test_answer(
    name: str,
    status: str,
    started: float,
    validation: dict[str, bool],
    result: dict[str, Any] | None,
    performance: dict[str, Any],
    error: AutoScorerError | None,
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "scorer": name,
        "test_status": status,
        "execution_time": round(time.perf_counter() - started, 6),
        "result": result,
        "validation": validation,
        "performance": performance,
    }
    if error is not None:
        out["error"] = error.to_dict()
    return out
