"""The whole pipeline: validate -> inference (executor) -> score -> result.

This is the one entry point the job system calls. It never raises for a
failure of the submission or the data: it returns a :class:`Result` whose
``error`` is set, and writes that result to ``output/result.json``.

(Inference through executors is added by the executors issue; until then a
workspace with a ``container`` section is refused with EXECUTOR_UNAVAILABLE.)
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from autoscorer.errors import AutoScorerError, ExecutionFailed, ExecutorUnavailable
from autoscorer.pipeline.scoring import failure_result, score, write_result
from autoscorer.workspace.layout import Workspace
from autoscorer.workspace.models import Meta, Result

# (stage, progress in 0..1) -- stages: validating, inference, scoring, finalizing, done
ProgressFn = Callable[[str, float], None]
# (level, component, message)
LogFn = Callable[[str, str, str], None]


class CancelToken:
    """Set by whoever cancels; executors poll it and stop their sandbox."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.reason: str | None = None

    def cancel(self, reason: str = "User requested cancellation") -> None:
        self.reason = reason
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def wait(self, timeout: float) -> bool:
        return self._event.wait(timeout)


@dataclass
class PipelineRequest:
    """What to run. ``overrides`` is the API's ``config`` (time_limit, resources, ...)."""

    workspace: str
    scorer: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    executor: str = "auto"
    overrides: dict[str, Any] = field(default_factory=dict)
    job_id: str | None = None
    write_artifacts: bool = True


def _noop_progress(stage: str, value: float) -> None:
    return None


def _noop_log(level: str, component: str, message: str) -> None:
    return None


def run_pipeline(
    request: PipelineRequest,
    *,
    on_progress: ProgressFn | None = None,
    on_log: LogFn | None = None,
    cancel: CancelToken | None = None,
) -> Result:
    """Run ``request`` to a terminal :class:`Result` (success or ``error`` set)."""
    progress = on_progress or _noop_progress
    log = on_log or _noop_log
    ws = Workspace.at(request.workspace)
    meta: Meta | None = None
    try:
        progress("validating", 0.05)
        meta = ws.load_meta()
        if meta.container is not None:
            raise ExecutorUnavailable("inference executors are not available in this build")
        progress("scoring", 0.6)
        log("INFO", "scorer", f"scoring with {request.scorer or meta.scorer}")
        params = {
            **meta.scorer_params,
            **request.overrides.get("scorer_params", {}),
            **request.params,
        }
        result = score(ws, request.scorer, params, write_artifacts=request.write_artifacts)
        progress("done", 1.0)
        log("INFO", "scorer", f"score {result.summary.score}")
        return result
    except AutoScorerError as exc:
        return _fail(ws, exc, meta, request, log)
    except Exception as exc:  # a bug must still end the job with a reason
        err = ExecutionFailed(f"internal error: {type(exc).__name__}: {exc}")
        return _fail(ws, err, meta, request, log)


def _fail(
    ws: Workspace, exc: AutoScorerError, meta: Meta | None, request: PipelineRequest, log: LogFn
) -> Result:
    log("ERROR", "pipeline", f"[{exc.code}] {exc.message}")
    result = failure_result(exc, meta=meta, scorer=request.scorer)
    if ws.root.is_dir():
        write_result(ws, result)
    return result
