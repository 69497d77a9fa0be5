"""The executor interface (style: dramatiq brokers, httpx transports).

An :class:`Executor` runs a :class:`RunSpec` in a sandbox and returns a
:class:`RunOutcome`; it can cancel a run, report its health and be closed.
Each backend only knows how to *start* a :class:`Sandbox` (a container, a
process, a Kubernetes Job); the loop around it — waiting, cancelling, time-out,
log capture, resource sampling, ``run_info.json`` — is shared here, and the
cross-cutting parts are :class:`Middleware` hooks, not flags.
"""

from __future__ import annotations

import abc
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol

from autoscorer.errors import AutoScorerError, ExecutionFailed
from autoscorer.executors import events
from autoscorer.executors.outcome import RunOutcome, classify, remove_planted_links
from autoscorer.workspace.layout import Workspace

logger = logging.getLogger("autoscorer.executors")

# (level, component, message), the same shape as the pipeline's log callback
LogFn = Callable[[str, str, str], None]
# elapsed seconds of the running sandbox
TickFn = Callable[[float], None]
UsageFn = Callable[["Sample"], None]  # the sandbox's latest resource reading, on each tick

SANDBOX_ROOT = "/workspace"


class Cancellable(Protocol):
    """Anything with a ``cancelled`` flag (the pipeline's ``CancelToken``)."""

    @property
    def cancelled(self) -> bool: ...


@dataclass(frozen=True)
class Mount:
    """A host path made visible inside the sandbox."""

    source: Path
    target: str
    read_only: bool = True


@dataclass
class RunSpec:
    """Everything an executor needs to run one submission (see ``executors.spec``)."""

    workspace: Workspace
    job_id: str
    image: str
    cmd: list[str]
    env: dict[str, str]
    working_dir: str
    mounts: list[Mount]
    time_limit: float
    cpu: float
    memory_bytes: int
    gpus: int = 0
    pids: int = 256
    network: str = "none"
    user: str | None = None
    pull_policy: str = "if-missing"
    expected_outputs: tuple[str, ...] = ("pred.csv", "pred.json")
    disk_bytes: int | None = None
    keep: bool = False
    labels: dict[str, str] = field(default_factory=dict)


@dataclass
class Sample:
    """One resource reading: CPU in cores, memory in bytes, and the bytes read and written
    to disk since the sandbox started (a running total)."""

    cpu: float | None = None
    memory: int | None = None
    disk_io: int | None = None


@dataclass
class SandboxState:
    """How a sandbox ended, as the backend saw it."""

    exit_code: int | None
    oom_killed: bool = False
    started_at: str | None = None
    finished_at: str | None = None
    deadline_exceeded: bool = False
    error: AutoScorerError | None = None


class Sandbox(abc.ABC):
    """One running container/process/Job. Backends implement these few methods."""

    id: str = ""
    image_digest: str | None = None

    @abc.abstractmethod
    def wait(self, timeout: float) -> int | None:
        """Exit code once finished, else None after ``timeout`` seconds."""

    @abc.abstractmethod
    def kill(self) -> None:
        """Stop it now (SIGKILL or equivalent); safe to call twice."""

    @abc.abstractmethod
    def logs(self) -> Iterator[bytes]:
        """Output chunks as they come, ending when the sandbox ends."""

    def stats(self) -> Iterator[Sample]:
        """Resource samples while it runs (none by default)."""
        return iter(())

    @abc.abstractmethod
    def finish(self) -> SandboxState:
        """The final state, read after :meth:`wait` returned a code."""

    @abc.abstractmethod
    def remove(self) -> None:
        """Delete every trace of the sandbox (container, Job, staging dirs)."""


class Run:
    """The state of one run, shared by the loop and the middleware."""

    def __init__(
        self, spec: RunSpec, cancel: Cancellable | None, on_log: LogFn | None, executor: str = ""
    ) -> None:
        self.spec = spec
        self.executor = executor
        self.cancel_token = cancel
        self.sandbox: Sandbox | None = None
        self.started = time.monotonic()  # reset once the sandbox runs (elapsed, time limit)
        self.started_wall = time.time()  # outputs older than this are leftovers
        self.ended: float | None = None
        self.stop_reason: str | None = None
        self.state: SandboxState | None = None
        self.log_tail = ""
        self.peak_cpu: float | None = None
        self.peak_memory: int | None = None
        self.last_sample: Sample | None = None  # the latest reading (live usage)
        self.disk_io: int | None = None  # bytes read + written to disk so far
        self.disk_full = False  # the writes filled the disk quota
        self.extra: dict[str, Any] = {}  # added to run_info.json
        self.scratch: dict[str, Any] = {}  # per-run state of middleware
        self._on_log = on_log
        self._start_reported = False

    @property
    def elapsed(self) -> float:
        """Seconds since the sandbox started, frozen once it ended."""
        return (self.ended or time.monotonic()) - self.started

    def stop(self, reason: str) -> None:
        """Kill the sandbox; the first reason (timeout, cancelled) wins."""
        if self.stop_reason is None:
            self.stop_reason = reason
            self.log("WARNING", f"stopping the sandbox: {reason}")
        if self.sandbox is not None:
            self.sandbox.kill()

    def log(self, level: str, message: str) -> None:
        logger.log(logging.getLevelName(level), "[%s] %s", self.spec.job_id, message)
        if self._on_log is not None:
            self._on_log(level, "executor", message)

    def report_start(self, seconds: float) -> None:
        """Publish :class:`~autoscorer.executors.events.SandboxStarted` (once per run)."""
        if not self._start_reported:
            self._start_reported = True
            started = events.SandboxStarted(self.executor, self.spec.job_id, max(seconds, 0.0))
            events.topic.publish(started)

    def output(self, line: str) -> None:
        """One line the sandbox printed, for the job's log (component ``container``)."""
        if self._on_log is not None:
            self._on_log("INFO", "container", line)


class Middleware:
    """No-op hooks around a run; subclasses override the ones they need."""

    def before_run(self, run: Run) -> None:
        """Before the sandbox is created."""

    def after_start(self, run: Run) -> None:
        """The sandbox is running (``run.sandbox`` is set)."""

    def on_tick(self, run: Run) -> None:
        """About every ``Executor.tick`` seconds while it runs."""

    def after_stop(self, run: Run) -> None:
        """The sandbox ended (or never started); drain streams here."""

    def after_run(self, run: Run, outcome: RunOutcome) -> None:
        """The outcome is classified; the sandbox may already be removed."""


class Executor(abc.ABC):
    """Runs specs in sandboxes; backends implement ``start``, ``health`` and ``describe``."""

    name: ClassVar[str] = "base"
    tick: float = 0.1
    # mount output/ and logs/ from a filesystem of spec.disk_bytes (executors.quota)
    stages_disk: ClassVar[bool] = False
    # the backend calls run.report_start itself (it knows better when its sandbox runs);
    # else the time start() took is reported
    reports_start: ClassVar[bool] = False

    def __init__(self, middleware: Sequence[Middleware] | None = None) -> None:
        from autoscorer.executors.middleware import default_middleware

        self.middleware: list[Middleware] = list(
            default_middleware() if middleware is None else middleware
        )
        self._active: dict[str, Run] = {}
        self._lock = threading.Lock()

    @abc.abstractmethod
    def start(self, spec: RunSpec, run: Run) -> Sandbox:
        """Create and start the sandbox; raise ImageNotFound/ExecutorUnavailable on failure."""

    @abc.abstractmethod
    def health(self) -> dict[str, Any]:
        """``{"status": "healthy"|"unavailable", ...}``; never raises."""

    @abc.abstractmethod
    def describe(self, spec: RunSpec) -> dict[str, Any]:
        """What would be created for ``spec`` (``--dry-run``), without running anything."""

    def close(self) -> None:  # noqa: B027  (optional hook, most backends hold nothing)
        """Release clients and connections."""

    def cancel(self, job_id: str, reason: str = "cancelled") -> bool:
        """Stop the active run of ``job_id``; False when there is none."""
        with self._lock:
            run = self._active.get(job_id)
        if run is None:
            return False
        run.stop(reason)
        return True

    def run(
        self,
        spec: RunSpec,
        *,
        cancel: Cancellable | None = None,
        on_log: LogFn | None = None,
        on_tick: TickFn | None = None,
        on_usage: UsageFn | None = None,
    ) -> RunOutcome:
        """Run ``spec`` to the end. Failures come back in ``outcome.error``, never raised.

        ``on_tick`` gets the seconds elapsed and ``on_usage`` the latest resource sample
        (when there is one) about every ``tick`` while the sandbox runs."""
        run = Run(spec, cancel, on_log, self.name)
        with self._lock:
            self._active[spec.job_id] = run
        try:
            self._execute(run, on_tick, on_usage)
        finally:
            with self._lock:
                self._active.pop(spec.job_id, None)
            self._cleanup(run)
            self._collect_disk(run)
        for link in remove_planted_links(spec):
            run.log("WARNING", f"removed the symbolic link {link} left by the submission")
        outcome = classify(self.name, run)
        self._hook("after_run", run, outcome)
        result = "ok" if outcome.error is None else outcome.error.code
        events.topic.publish(
            events.SandboxFinished(self.name, spec.job_id, result, outcome.duration)
        )
        return outcome

    def _execute(self, run: Run, on_tick: TickFn | None, on_usage: UsageFn | None) -> None:
        try:
            self._hook("before_run", run)
            if run.cancel_token is not None and run.cancel_token.cancelled:
                run.stop("cancelled")
            if run.stop_reason is not None:
                return  # cancelled before anything started: nothing to run
            run.log("INFO", f"starting {self.name} sandbox for image {run.spec.image}")
            # a prediction is fresh if written after this instant: a fast command can finish
            # before start() returns, so the wall clock is read before, not after
            run.started_wall = time.time()
            self._stage_disk(run)
            asked = time.perf_counter()
            run.sandbox = self.start(run.spec, run)
            run.started = time.monotonic()
            if not self.reports_start:
                run.report_start(time.perf_counter() - asked)
            if run.stop_reason is not None:
                # cancel() arrived while start() ran: it set the reason but had no sandbox
                # to kill (setting .sandbox before this check closes the window)
                run.sandbox.kill()
            self._hook("after_start", run)
            self._wait(run, run.sandbox, on_tick, on_usage)
            run.ended = time.monotonic()
            run.state = run.sandbox.finish()
        except AutoScorerError as exc:
            run.state = SandboxState(exit_code=None, error=exc)
        except Exception as exc:  # a backend bug must end the run with a reason
            logger.exception("executor %s failed", self.name)
            err = ExecutionFailed(f"{self.name} executor failed: {type(exc).__name__}: {exc}")
            run.state = SandboxState(exit_code=None, error=err)
        finally:
            if run.sandbox is not None and run.state is None:
                run.sandbox.kill()  # interrupted (KeyboardInterrupt, SystemExit)
            run.ended = run.ended or time.monotonic()
            self._hook("after_stop", run)

    def _wait(
        self, run: Run, sandbox: Sandbox, on_tick: TickFn | None, on_usage: UsageFn | None
    ) -> None:
        while sandbox.wait(self.tick) is None:
            if run.cancel_token is not None and run.cancel_token.cancelled:
                run.stop("cancelled")
            self._hook("on_tick", run)
            if on_tick is not None:
                on_tick(run.elapsed)
            if on_usage is not None and run.last_sample is not None:
                on_usage(run.last_sample)

    def _stage_disk(self, run: Run) -> None:
        """Give the run a size-limited output/ and logs/ (see ``executors.quota``)."""
        if self.stages_disk and run.spec.disk_bytes:
            from autoscorer.executors.quota import stage_disk

            stage_disk(run)

    def _collect_disk(self, run: Run) -> None:
        """Copy the sandbox's writes into the workspace and remove its filesystem."""
        if "disk" in run.scratch:
            from autoscorer.executors.quota import collect_disk

            collect_disk(run)

    def _cleanup(self, run: Run) -> None:
        if run.sandbox is None:
            return
        if run.spec.keep:
            run.log("INFO", f"keeping sandbox {run.sandbox.id} (--keep-container)")
            return
        try:
            run.sandbox.remove()
        except Exception:  # removal is retried by the orphan reaper; never mask the outcome
            logger.exception("could not remove sandbox %s", run.sandbox.id)

    def _hook(self, hook: str, run: Run, *args: Any) -> None:
        for mw in self.middleware:
            getattr(mw, hook)(run, *args)

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
