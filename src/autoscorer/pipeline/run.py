"""The whole pipeline: validate -> inference (executor) -> score -> result.

This is the one entry point the job system calls. It never raises for a
failure of the submission or the data: it returns a :class:`Result` whose
``error`` is set (with the failure taxonomy's code and fault), and writes that
result to ``output/result.json``.

Inference runs only when ``meta.json`` has a ``container`` section; the
request's ``overrides`` (the API's ``config``: ``time_limit``, ``resources``,
``scorer_params``, ``env``, ``keep_container``) are merged over ``meta.json``.
Progress stages: validating, inference, scoring, finalizing, done.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from autoscorer.errors import (
    AutoScorerError,
    Cancelled,
    ExecutionFailed,
    MissingParameter,
    WorkspaceInvalid,
)
from autoscorer.executors import Executor, RunOutcome, RunSpec, apply_overrides, build_spec
from autoscorer.pipeline.scoring import failure_result, score, write_result
from autoscorer.scorers.base import Scorer
from autoscorer.scorers.registry import get_scorer
from autoscorer.workspace.layout import Workspace
from autoscorer.workspace.models import Meta, Provenance, ResourceUsage, Result, format_bytes

# (stage, progress in 0..1) -- stages: validating, inference, scoring, finalizing, done
ProgressFn = Callable[[str, float], None]
# (level, component, message)
LogFn = Callable[[str, str, str], None]

# share of the progress bar each stage starts at
_INFERENCE_START, _INFERENCE_END, _SCORING = 0.1, 0.7, 0.75


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
    # the path was resolved when the job was accepted: a link appearing on it since is refused
    pinned: bool = False


def _noop_progress(stage: str, value: float) -> None:
    return None


def _noop_log(level: str, component: str, message: str) -> None:
    return None


def _scorer_class(meta: Meta, scorer: str | None) -> type[Scorer]:
    name = scorer or meta.scorer
    if not name:
        raise MissingParameter(
            "no scorer given: pass --scorer or set 'scorer' in meta.json", field="scorer"
        )
    return get_scorer(name)


def _expected_outputs(cls: type[Scorer] | None) -> tuple[str, ...]:
    """The scorer's prediction file, relative to ``output/``."""
    if cls is not None and cls.pred_file.startswith("output/"):
        return (cls.pred_file.removeprefix("output/"),)
    return ("pred.csv", "pred.json")


def inference_spec(
    request: PipelineRequest, meta: Meta | None = None, scorer: type[Scorer] | None = None
) -> RunSpec:
    """The sandbox spec of ``request``'s workspace (overrides applied)."""
    ws = Workspace.at(request.workspace)
    meta = meta or apply_overrides(ws.load_meta(), request.overrides)
    if scorer is None and request.scorer:
        scorer = get_scorer(request.scorer)
    return build_spec(
        ws,
        meta,
        job_id=request.job_id,
        expected_outputs=_expected_outputs(scorer),
        keep=bool(request.overrides.get("keep_container", False)),
        scorer=scorer,
    )


def _open_executor(request: PipelineRequest, executor: Executor | None) -> tuple[Executor, bool]:
    """The executor to use, and whether this call owns (and must close) it."""
    if executor is not None:
        return executor, False
    from autoscorer.executors import get_executor

    return get_executor(request.executor), True


def run_inference(
    request: PipelineRequest,
    *,
    spec: RunSpec | None = None,
    on_progress: ProgressFn | None = None,
    on_log: LogFn | None = None,
    cancel: CancelToken | None = None,
    executor: Executor | None = None,
) -> RunOutcome:
    """Run only the inference step; failures are in ``outcome.error`` (bad config raises)."""
    progress = on_progress or _noop_progress
    spec = spec or inference_spec(request)
    ex, owned = _open_executor(request, executor)
    last = [0.0]

    def tick(elapsed: float) -> None:
        share = min(elapsed / spec.time_limit, 1.0)
        value = _INFERENCE_START + (_INFERENCE_END - _INFERENCE_START) * share
        if value - last[0] >= 0.01:
            last[0] = value
            progress("inference", value)

    try:
        progress("inference", _INFERENCE_START)
        return ex.run(spec, cancel=cancel, on_log=on_log, on_tick=tick)
    finally:
        if owned:
            ex.close()


def _merged_params(meta: Meta, request: PipelineRequest) -> dict[str, Any]:
    return {
        **meta.scorer_params,
        **request.overrides.get("scorer_params", {}),
        **request.params,
    }


def _decorate(result: Result, outcome: RunOutcome | None, started: float) -> Result:
    """Add the inference figures (timing, resources, image digest) to ``result``."""
    result.timing.total_time = round(time.perf_counter() - started, 6)
    if outcome is None:
        return result
    result.timing.inference_time = round(outcome.duration, 6)
    result.resources = ResourceUsage(
        peak_cpu=outcome.peak_cpu,
        peak_memory=None if outcome.peak_memory is None else format_bytes(outcome.peak_memory),
    )
    if result.provenance is None:
        result.provenance = Provenance()
    result.provenance.image_digest = outcome.image_digest
    return result


class _Pipeline:
    """One call of :func:`run_pipeline`; holds what the failure result needs."""

    def __init__(self, request: PipelineRequest, progress: ProgressFn, log: LogFn) -> None:
        self.request, self.progress, self.log = request, progress, log
        self.ws = Workspace.at(request.workspace)
        # a pinned path resolving elsewhere now: refused, and nothing is written there
        self.moved = request.pinned and str(self.ws.root) != os.path.abspath(request.workspace)
        self.meta: Meta | None = None
        self.outcome: RunOutcome | None = None
        self.started = time.perf_counter()

    def run(self, cancel: CancelToken | None, executor: Executor | None) -> Result:
        self.progress("validating", 0.05)
        if self.moved:
            raise WorkspaceInvalid(
                "the workspace path now leads through a symbolic link; it was resolved "
                "when the job was accepted and may not change",
                field="workspace_path",
            )
        self.meta = apply_overrides(self.ws.load_meta(), self.request.overrides)
        cls = _scorer_class(self.meta, self.request.scorer)
        if self.meta.container is not None:
            self._inference(cls, cancel, executor)
        if cancel is not None and cancel.cancelled:
            raise Cancelled(cancel.reason or "cancelled before scoring")
        self.progress("scoring", _SCORING)
        self.log("INFO", "scorer", f"scoring with {cls.name}")
        params = _merged_params(self.meta, self.request)
        result = score(
            self.ws, cls.name, params, write=False, write_artifacts=self.request.write_artifacts
        )
        self.progress("finalizing", 0.95)
        write_result(self.ws, _decorate(result, self.outcome, self.started))
        self.progress("done", 1.0)
        self.log("INFO", "scorer", f"score {result.summary.score}")
        return result

    def _inference(
        self, cls: type[Scorer], cancel: CancelToken | None, executor: Executor | None
    ) -> None:
        assert self.meta is not None
        spec = inference_spec(self.request, self.meta, cls)
        self.log("INFO", "executor", f"running {spec.image} (time limit {spec.time_limit:g} s)")
        self.outcome = run_inference(
            self.request,
            spec=spec,
            on_progress=self.progress,
            on_log=self.log,
            cancel=cancel,
            executor=executor,
        )
        if self.outcome.error is not None:
            raise self.outcome.error
        self.log("INFO", "executor", f"inference finished in {self.outcome.duration:.2f} s")

    def fail(self, exc: AutoScorerError) -> Result:
        self.log("ERROR", "pipeline", f"[{exc.code}] {exc.message}")
        result = failure_result(exc, meta=self.meta, scorer=self.request.scorer)
        _decorate(result, self.outcome, self.started)
        if self.ws.root.is_dir() and not self.moved:
            try:
                write_result(self.ws, result)
            except (OSError, AutoScorerError) as exc:  # e.g. a linked output/: never written
                self.log("WARNING", "pipeline", f"result.json not written: {exc}")
        return result


def run_pipeline(
    request: PipelineRequest,
    *,
    on_progress: ProgressFn | None = None,
    on_log: LogFn | None = None,
    cancel: CancelToken | None = None,
    executor: Executor | None = None,
) -> Result:
    """Run ``request`` to a terminal :class:`Result` (success or ``error`` set).

    ``executor`` lets the caller share one configured executor between jobs;
    by default ``request.executor`` is built for this call and closed after it.
    """
    pipeline = _Pipeline(request, on_progress or _noop_progress, on_log or _noop_log)
    try:
        return pipeline.run(cancel, executor)
    except AutoScorerError as exc:
        return pipeline.fail(exc)
    except Exception as exc:  # a bug must still end the job with a reason
        return pipeline.fail(ExecutionFailed(f"internal error: {type(exc).__name__}: {exc}"))
