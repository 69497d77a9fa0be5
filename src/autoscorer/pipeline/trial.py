"""Try a scorer on a workspace without writing anything (``POST /api/v1/scorers/{name}/test``)."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterable
from typing import Any

import psutil

from autoscorer.errors import AutoScorerError, DataValidationError
from autoscorer.pipeline.scoring import DEFAULT_MAX_FILE_BYTES, score
from autoscorer.pipeline.validate import validate
from autoscorer.scorers.base import Scorer
from autoscorer.scorers.registry import get_scorer
from autoscorer.workspace.layout import Workspace
from autoscorer.workspace.validate import open_workspace


class PeakRss:
    """Peak resident memory above the starting level while the block runs (sampled)."""

    def __init__(self, interval: float = 0.005) -> None:
        self._proc = psutil.Process()
        self._interval = interval
        self._stop = threading.Event()
        self.base = self.peak = 0
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(self._interval):
            self.peak = max(self.peak, self._proc.memory_info().rss)

    def __enter__(self) -> PeakRss:
        self.base = self.peak = self._proc.memory_info().rss
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._proc.memory_info().rss)

    @property
    def used(self) -> int:
        return self.peak - self.base


def _params_check(
    cls: type[Scorer], ws: Workspace, params: dict[str, Any]
) -> AutoScorerError | None:
    try:
        base = ws.load_meta().scorer_params if ws.meta_path.is_file() else {}
    except AutoScorerError:
        base = {}
    try:
        cls({**base, **params})
    except AutoScorerError as exc:
        return exc
    return None


def _validation(cls: type[Scorer], ws: Workspace, params: dict[str, Any]) -> dict[str, Any]:
    report = validate(ws, scorer=cls.name, deep=False)
    checks = report["checks"]
    params_error = _params_check(cls, ws, params)
    errors = list(report["errors"])
    if params_error and not any(e.startswith("scorer_params:") for e in errors):
        errors.append(f"parameters: {params_error.message}")
    return {
        "workspace_valid": checks["structure"]["status"] == "valid"
        and checks["configuration"]["details"].get("meta_json_valid", False),
        "data_format_valid": checks["data_format"]["status"] == "valid"
        and checks["data_format"]["details"].get("pred_file_exists", False),
        "parameters_valid": params_error is None,
        "errors": errors,
        "error": params_error.to_dict() if params_error else None,
    }


def _run(
    cls: type[Scorer], ws: Workspace, params: dict[str, Any], max_bytes: int
) -> dict[str, Any]:
    cpu0 = time.process_time()
    with PeakRss() as mem:
        try:
            result = score(
                ws, cls.name, params, write=False, write_artifacts=False, max_file_bytes=max_bytes
            )
        except DataValidationError as exc:
            return {"error": exc.to_dict(), "bad_data": True}
        except AutoScorerError as exc:
            return {"error": exc.to_dict()}
        except Exception as exc:  # a custom scorer's bug is the test's finding, not a crash
            return {
                "error": {
                    "code": "EXECUTION_FAILED",
                    "message": f"{type(exc).__name__}: {exc}",
                    "field": None,
                    "details": {"fault": "host"},
                }
            }
    data = result.to_json_dict()
    return {
        "result": {"summary": data["summary"], "metrics": data["metrics"]},
        "performance": {
            "memory_usage": f"{mem.used / 1e6:.1f}MB",
            "cpu_time": round(time.process_time() - cpu0, 6),
        },
    }


def run_scorer_test(
    name: str,
    workspace: str | os.PathLike[str] | Workspace,
    *,
    params: dict[str, Any] | None = None,
    validate_only: bool = False,
    roots: Iterable[str | os.PathLike[str]] = (),
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
) -> dict[str, Any]:
    """Validate, then (unless ``validate_only``) score without writing ``result.json``.

    Raises only for an unknown scorer or a missing workspace folder; every
    other problem is reported with ``test_status`` ``"failed"``.
    """
    started = time.perf_counter()
    cls = get_scorer(name)
    ws = open_workspace(workspace, roots)
    params = dict(params or {})
    validation = _validation(cls, ws, params)
    errors = validation.pop("errors")
    params_error = validation.pop("error")
    out: dict[str, Any] = {
        "scorer": cls.name,
        "test_status": "failed",
        "execution_time": 0.0,
        "result": None,
        "validation": validation,
        "performance": None,
    }
    ok = all(validation.values())
    if ok and not validate_only:
        run = _run(cls, ws, params, max_file_bytes)
        if run.pop("bad_data", False):
            validation["data_format_valid"] = False
        out.update(run)
        ok = "error" not in run
    if params_error is not None:
        out["error"] = params_error
    out["test_status"] = "passed" if ok else "failed"
    if errors:
        out["errors"] = errors
    out["execution_time"] = round(time.perf_counter() - started, 6)
    return out
