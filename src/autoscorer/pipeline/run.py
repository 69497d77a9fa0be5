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

from autoscorer.errors import AutoScorerError, Cancelled, ExecutionFailed, WorkspaceInvalid
from autoscorer.executors import Executor, RunOutcome, RunSpec, apply_overrides, build_spec
from autoscorer.executors.base import Sample
from autoscorer.pipeline.plan import JobPlan, plan_job
from autoscorer.pipeline.scoring import (
    DEFAULT_MAX_FILE_BYTES,
    failure_result,
    score_plan,
    write_result,
)
from autoscorer.scorers.base import Scorer
from autoscorer.scorers.registry import get_scorer
from autoscorer.settings import Settings
from autoscorer.workspace.layout import Workspace
from autoscorer.workspace.models import Provenance, ResourceUsage, Result, format_bytes

# (stage, progress in 0..1) -- stages: validating, inference, scoring, finalizing, done
ProgressFn = Callable[[str, float], None]
# (level, component, message)
LogFn = Callable[[str, str, str], None]
# the sandbox's live resource use, about once a tick while inference runs
UsageFn = Callable[[ResourceUsage], None]

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
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    # the path was resolved when the job was accepted: a link appearing on it since is refused
    pinned: bool = False


def _noop_progress(stage: str, value: float) -> None:
    return None


def _noop_log(level: str, component: str, message: str) -> None:
    return None


def _expected_outputs(cls: type[Scorer] | None) -> tuple[str, ...]:
    """The scorer's prediction file, relative to ``output/``."""
    if cls is not None and cls.pred_file.startswith("output/"):
        return (cls.pred_file.removeprefix("output/"),)
    return ("pred.csv", "pred.json")


def inference_spec(request: PipelineRequest, plan: JobPlan | None = None) -> RunSpec:
    """The sandbox spec of ``request``'s workspace (overrides applied), from ``plan``
    when the caller has resolved it already."""
    if plan is None:
        ws = Workspace.at(request.workspace)
        meta = apply_overrides(ws.load_meta(), request.overrides)
        scorer = get_scorer(request.scorer) if request.scorer else None
        return build_spec(
            ws,
            meta,
            job_id=request.job_id,
            expected_outputs=_expected_outputs(scorer),
            keep=_keep(request),
            scorer=scorer,
        )
    return build_spec(
        plan.workspace,
        plan.meta,
        job_id=plan.job_id,
        expected_outputs=_expected_outputs(plan.scorer),
        keep=_keep(request),
        scorer=plan.scorer,
    )


def _keep(request: PipelineRequest) -> bool:
    return bool(request.overrides.get("keep_container", False))


def _open_executor(
    request: PipelineRequest, executor: Executor | None, settings: Settings | None = None
) -> tuple[Executor, bool]:
    """The executor to use, and whether this call owns (and must close) it."""
    if executor is not None:
        return executor, False
    from autoscorer.executors.factory import make_executor

    return make_executor(request.executor, settings), True


def live_usage(sample: Sample | None, gpus: int) -> ResourceUsage:
    """A resource reading as the job status shows it (``gpus``: the GPUs assigned)."""
    cpu = None if sample is None or sample.cpu is None else round(sample.cpu, 3)
    memory = None if sample is None or sample.memory is None else format_bytes(sample.memory)
    return ResourceUsage(cpu_usage=cpu, memory_usage=memory, gpu_usage=gpus)


def run_inference(
    request: PipelineRequest,
    *,
    spec: RunSpec | None = None,
    on_progress: ProgressFn | None = None,
    on_log: LogFn | None = None,
    cancel: CancelToken | None = None,
    executor: Executor | None = None,
    on_usage: UsageFn | None = None,
    settings: Settings | None = None,
) -> RunOutcome:
    """Run only the inference step; failures are in ``outcome.error`` (bad config raises)."""
    progress = on_progress or _noop_progress
    spec = spec or inference_spec(request)
    ex, owned = _open_executor(request, executor, settings)
    last = [0.0]

    def tick(elapsed: float) -> None:
        share = min(elapsed / spec.time_limit, 1.0)
        value = _INFERENCE_START + (_INFERENCE_END - _INFERENCE_START) * share
        if value - last[0] >= 0.01:
            last[0] = value
            progress("inference", value)

    try:
        progress("inference", _INFERENCE_START)
        usage = None if on_usage is None else _usage_fn(on_usage, spec.gpus)
        return ex.run(spec, cancel=cancel, on_log=on_log, on_tick=tick, on_usage=usage)
    finally:
        if owned:
            ex.close()


def _usage_fn(on_usage: UsageFn, gpus: int) -> Callable[[Sample], None]:
    return lambda sample: on_usage(live_usage(sample, gpus))


def _decorate(result: Result, outcome: RunOutcome | None, started: float, gpus: int = 0) -> Result:
    """Add the inference figures (timing, resources, image digest) to ``result``."""
    result.timing.total_time = round(time.perf_counter() - started, 6)
    if outcome is None:
        return result
    result.timing.inference_time = round(outcome.duration, 6)
    result.resources = live_usage(outcome.last_sample, gpus).model_copy(
        update={
            "peak_cpu": outcome.peak_cpu,
            "peak_memory": _size(outcome.peak_memory),
            "total_disk_io": _size(outcome.disk_io),
        }
    )
    if result.provenance is None:
        result.provenance = Provenance()
    result.provenance.image_digest = outcome.image_digest
    return result


def _size(value: int | None) -> str | None:
    return None if value is None else format_bytes(value)


class _Pipeline:
    """One call of :func:`run_pipeline`; holds what the failure result needs."""

    def __init__(
        self,
        request: PipelineRequest,
        progress: ProgressFn,
        log: LogFn,
        usage: UsageFn | None = None,
        settings: Settings | None = None,
    ) -> None:
        self.request, self.progress, self.log, self.usage = request, progress, log, usage
        self.settings = settings
        self.ws = Workspace.at(request.workspace)
        self.plan: JobPlan | None = None
        self.outcome: RunOutcome | None = None
        self.started = time.perf_counter()

    def run(self, cancel: CancelToken | None, executor: Executor | None) -> Result:
        self.progress("validating", 0.05)
        if self.request.pinned and str(self.ws.root) != os.path.abspath(self.request.workspace):
            raise WorkspaceInvalid(
                "the workspace path now leads through a symbolic link; it was resolved "
                "when the job was accepted and may not change",
                field="workspace_path",
            )
        plan = self.plan = plan_job(
            self.ws,
            scorer=self.request.scorer,
            params=self.request.params,
            overrides=self.request.overrides,
            job_id=self.request.job_id,
        )
        if plan.meta.container is not None:
            self._inference(plan, cancel, executor)
        if cancel is not None and cancel.cancelled:
            raise Cancelled(cancel.reason or "cancelled before scoring")
        self.progress("scoring", _SCORING)
        self.log("INFO", "scorer", f"scoring with {plan.scorer.name}")
        result = score_plan(
            plan,
            write=False,
            publish=True,
            write_artifacts=self.request.write_artifacts,
            max_file_bytes=self.request.max_file_bytes,
        )
        self.progress("finalizing", 0.95)
        write_result(self.ws, _decorate(result, self.outcome, self.started, self._gpus()))
        self.progress("done", 1.0)
        self.log("INFO", "scorer", f"score {result.summary.score}")
        return result

    def _inference(
        self, plan: JobPlan, cancel: CancelToken | None, executor: Executor | None
    ) -> None:
        spec = inference_spec(self.request, plan)
        self.log("INFO", "executor", f"running {spec.image} (time limit {spec.time_limit:g} s)")
        self.outcome = run_inference(
            self.request,
            spec=spec,
            on_progress=self.progress,
            on_log=self.log,
            cancel=cancel,
            executor=executor,
            on_usage=self.usage,
            settings=self.settings,
        )
        if self.outcome.error is not None:
            raise self.outcome.error
        self.log("INFO", "executor", f"inference finished in {self.outcome.duration:.2f} s")

    def _gpus(self) -> int:
        return self.plan.meta.resources.gpus if self.plan is not None else 0

    def fail(self, exc: AutoScorerError) -> Result:
        self.log("ERROR", "pipeline", f"[{exc.code}] {exc.message}")
        meta = self.plan.meta if self.plan is not None else None
        result = failure_result(exc, meta=meta, scorer=self.request.scorer)
        if result.metadata is not None and self.request.job_id:
            result.metadata.job_id = self.request.job_id
        _decorate(result, self.outcome, self.started, self._gpus())
        if self.ws.root.is_dir():
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
    on_usage: UsageFn | None = None,
    settings: Settings | None = None,
) -> Result:
    """Run ``request`` to a terminal :class:`Result` (success or ``error`` set).

    ``executor`` lets the caller share one configured executor between jobs;
    by default ``request.executor`` is built for this call from ``settings`` (default:
    the environment) and closed after it.
    """
    pipeline = _Pipeline(
        request, on_progress or _noop_progress, on_log or _noop_log, on_usage, settings
    )
    try:
        return pipeline.run(cancel, executor)
    except AutoScorerError as exc:
        return pipeline.fail(exc)
    except Exception as exc:  # a bug must still end the job with a reason
        return pipeline.fail(ExecutionFailed(f"internal error: {type(exc).__name__}: {exc}"))
