"""What a run produced, and the failure taxonomy that names it.

Order of precedence when several things happened at once: cancelled, then
time-out, then OOM, then the disk quota, then non-zero exit, then missing predictions. Each error
carries its ``fault`` (participant / host / system) from ``autoscorer.errors``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from autoscorer.errors import (
    AutoScorerError,
    Cancelled,
    DiskQuotaExceeded,
    ExitNonZero,
    JobTimeout,
    NoPredictions,
    OOMKilled,
    WorkspaceInvalid,
)
from autoscorer.workspace import safeio
from autoscorer.workspace.models import format_bytes

if TYPE_CHECKING:
    from autoscorer.executors.base import Run, RunSpec, Sample

# a stale pred file written this long before the start still counts as stale
_MTIME_SLACK_NS = 50_000_000
# messages a process prints when an address-space rlimit stops an allocation
_ERROR_LINE = re.compile(r"^\w*(Error|Exception|Exit)\b|\b(error|fatal|panic)\b", re.I)
_ALLOC_FAILURES = ("MemoryError", "Cannot allocate memory", "std::bad_alloc", "out of memory")


@dataclass
class RunOutcome:
    """The end of one sandboxed run; ``error`` is None only on success."""

    executor: str
    job_id: str
    image: str
    exit_code: int | None
    duration: float
    started_at: str | None = None
    finished_at: str | None = None
    oom_killed: bool = False
    timed_out: bool = False
    cancelled: bool = False
    peak_cpu: float | None = None
    peak_memory: int | None = None
    last_sample: Sample | None = None  # the sandbox's last resource reading
    disk_io: int | None = None  # bytes read + written to disk by the sandbox
    image_digest: str | None = None
    sandbox_id: str | None = None
    log_tail: str = ""
    prediction: str | None = None
    error: AutoScorerError | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_run_info(self) -> dict[str, Any]:
        """The content of ``logs/run_info.json``."""
        return {
            "job_id": self.job_id,
            "executor": self.executor,
            "sandbox_id": self.sandbox_id,
            "image": self.image,
            "image_digest": self.image_digest,
            "exit_code": self.exit_code,
            "oom_killed": self.oom_killed,
            "timed_out": self.timed_out,
            "cancelled": self.cancelled,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "duration": round(self.duration, 3),
            "peak_cpu": self.peak_cpu,
            "peak_memory_bytes": self.peak_memory,
            "peak_memory": None if self.peak_memory is None else format_bytes(self.peak_memory),
            "prediction": self.prediction,
            "status": "succeeded" if self.ok else "failed",
            "error": None if self.error is None else self.error.to_dict(),
            **self.extra,
        }


def _looks_like_alloc_failure(exit_code: int | None, tail: str) -> bool:
    return exit_code not in (None, 0) and any(s in tail for s in _ALLOC_FAILURES)


def _limit_error(run: Run, code: int | None, oom: bool) -> AutoScorerError | None:
    spec = run.spec
    if run.stop_reason == "cancelled" or (run.cancel_token and run.cancel_token.cancelled):
        return Cancelled(f"run of {spec.job_id} was cancelled", details={"exit_code": code})
    if run.stop_reason == "timeout" or (run.state and run.state.deadline_exceeded):
        return JobTimeout(
            f"inference ran past its time limit of {spec.time_limit:g} s and was killed; "
            "speed it up or raise time_limit",
            field="time_limit",
            details={"time_limit": spec.time_limit, "log_tail": run.log_tail},
        )
    if oom:
        limit = format_bytes(spec.memory_bytes)
        return OOMKilled(
            f"inference used more than its memory limit of {limit} and was killed; "
            "use less memory or raise resources.memory",
            field="resources.memory",
            details={"memory_limit": limit, "exit_code": code, "log_tail": run.log_tail},
        )
    if run.disk_full:
        quota = format_bytes(spec.disk_bytes or 0)
        return DiskQuotaExceeded(
            f"inference wrote more than its disk quota of {quota} into output/ and logs/; "
            "writes past it failed; write less or raise resources.disk",
            field="resources.disk",
            details={"disk_limit": quota, "exit_code": code, "log_tail": run.log_tail},
        )
    return None


def summary_line(tail: str) -> str:
    """The line that best says why a run failed: the last error-looking line, else the last.

    stdout and stderr are separate streams whose lines can interleave in either order in
    the captured log, so "the last line" alone is not reliable.
    """
    lines = [line.strip() for line in tail.splitlines() if line.strip()]
    for line in reversed(lines):
        if _ERROR_LINE.search(line):
            return line[:300]
    return lines[-1][:300] if lines else "(no output)"


def _exit_error(run: Run, code: int | None) -> AutoScorerError | None:
    if code in (None, 0):
        return None
    return ExitNonZero(
        f"inference exited with code {code}: {summary_line(run.log_tail)}",
        details={"exit_code": code, "log_tail": run.log_tail},
    )


def remove_planted_links(spec: RunSpec) -> list[str]:
    """Delete symlinks the submission left where AutoScorer writes as the host user.

    ``output/artifacts`` as a link would make the scorer publish files wherever
    it points; ``result.json`` is replaced atomically so a link there is harmless
    but still removed for clarity. The folder is opened without following links.
    """
    removed = []
    try:
        with safeio.open_dir(spec.workspace.root, "output") as fd:
            for name in ("artifacts", "result.json"):
                if safeio.unlink_if_link(fd, name):
                    removed.append(f"output/{name}")
    except (OSError, WorkspaceInvalid):
        return removed  # no output/ (or a linked one): nothing is written there
    return removed


def find_prediction(
    spec: RunSpec, since: float, not_copied: frozenset[str] = frozenset()
) -> tuple[str | None, AutoScorerError | None]:
    """The pred file the run wrote (relative name), or a NO_PREDICTIONS error.

    A file older than the run start is a leftover, not this run's output; a
    prediction that is a symbolic link is refused by the rule score-only mode
    applies too (:func:`safeio.refuse_linked_prediction`), and so is one the disk
    quota's copy left out (``not_copied``: links and other non-regular files).
    """
    root = spec.workspace.root
    for name in spec.expected_outputs:
        if f"output/{name}" in not_copied:
            return None, NoPredictions(
                f"output/{name} is a symbolic link (or not a regular file); write a regular file",
                field=f"output/{name}",
                details={"file": f"output/{name}"},
            )
        try:
            safeio.refuse_linked_prediction(root, f"output/{name}")
        except AutoScorerError as exc:
            return None, exc
        path = root / "output" / name
        if path.is_file() and os.stat(path).st_mtime_ns >= int(since * 1e9) - _MTIME_SLACK_NS:
            return f"output/{name}", None
    wanted = " or ".join(f"output/{n}" for n in spec.expected_outputs)
    return None, NoPredictions(
        f"inference exited 0 but wrote no {wanted}",
        field="output",
        details={"expected": [f"output/{n}" for n in spec.expected_outputs]},
    )


def classify(executor: str, run: Run) -> RunOutcome:
    """Turn a finished :class:`Run` into a :class:`RunOutcome` with its error, if any."""
    state = run.state
    code = state.exit_code if state else None
    oom = bool(state and state.oom_killed) or _looks_like_alloc_failure(code, run.log_tail)
    error = state.error if state and state.error else None
    error = error or _limit_error(run, code, oom) or _exit_error(run, code)
    prediction = None
    if error is None:
        skipped = frozenset(run.scratch.get("not_copied", ()))
        prediction, error = find_prediction(run.spec, run.started_wall, skipped)
    sandbox = run.sandbox
    return RunOutcome(
        executor=executor,
        job_id=run.spec.job_id,
        image=run.spec.image,
        exit_code=code,
        duration=run.elapsed if sandbox else 0.0,
        started_at=state.started_at if state else None,
        finished_at=state.finished_at if state else None,
        oom_killed=oom and error is not None and error.code == OOMKilled.code,
        timed_out=isinstance(error, JobTimeout),
        cancelled=isinstance(error, Cancelled),
        peak_cpu=run.peak_cpu,
        peak_memory=run.peak_memory,
        last_sample=run.last_sample,
        disk_io=run.disk_io,
        image_digest=sandbox.image_digest if sandbox else None,
        sandbox_id=sandbox.id if sandbox else None,
        log_tail=run.log_tail,
        prediction=prediction,
        error=error,
        extra=dict(run.extra),
    )
