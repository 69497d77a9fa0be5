"""The job operations the API needs, as a Protocol over the job service.

The routes only call these methods; the service returns the job system's typed records
(:mod:`autoscorer.jobs.records`), which :mod:`autoscorer.api.ops.job_json` turns into
the contract's JSON. The service is built by the job system's composition
root (:mod:`autoscorer.jobs.factory`); when it cannot be (its store is unreachable at
start-up) the job endpoints answer 503 SERVICE_UNAVAILABLE and ``/health`` says why.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal, Protocol, TypeVar, overload

from fastapi.concurrency import run_in_threadpool

from autoscorer.api.security import Principal
from autoscorer.errors import JobNotFound, ServiceUnavailable
from autoscorer.jobs.records import (
    STATES,
    BatchSubmission,
    JobRecord,
    JobStatus,
    JobStatusView,
    JobSubmission,
    LogEntry,
)
from autoscorer.settings import Settings
from autoscorer.workspace.artifacts import OpenArtifact

T = TypeVar("T")
NOT_FOUND = "not_found"  # a batch entry whose id names no job


class JobServicePort(Protocol):
    """What the API calls on the job service."""

    # True when point reads are in-process and never wait (SQLite in WAL mode): the API
    # then makes them on the event loop instead of paying a thread hop per status poll
    inline_reads: bool

    def submit(self, job: JobSubmission, *, privileged: bool = True) -> JobRecord: ...

    def submit_batch(
        self, jobs: Sequence[JobSubmission], *, max_parallel: int | None, privileged: bool = True
    ) -> BatchSubmission: ...

    @overload
    def get(self, job_id: str, *, result: Literal[True] = True) -> JobRecord: ...

    @overload
    def get(self, job_id: str, *, result: bool) -> JobStatusView: ...

    def wait(self, job_id: str, timeout: float) -> JobStatusView: ...

    def logs(
        self, job_id: str, *, level: str | None, since: str | None, tail: int | None
    ) -> tuple[list[LogEntry], int]: ...

    def cancel(self, job_id: str, reason: str) -> JobRecord: ...

    def artifact(self, job_id: str, name: str) -> OpenArtifact: ...

    def list(self, **filters: Any) -> tuple[list[JobStatusView], int]: ...

    def counts(self) -> dict[str, int]: ...

    def scorer_stats(self, max_age: float | None = None) -> dict[str, dict[str, Any]]: ...

    def idempotency_reserve(
        self, scope: str, key: str, digest: str
    ) -> tuple[int, dict[str, Any]] | None: ...

    def idempotency_complete(
        self, scope: str, key: str, status: int, data: dict[str, Any]
    ) -> None: ...

    def idempotency_release(self, scope: str, key: str) -> None: ...

    def close(self) -> None: ...


def load_service(settings: Settings) -> JobServicePort:
    """The started job service built from ``settings`` (raises when its store is down)."""
    from autoscorer.jobs.factory import build_service

    return build_service(settings)


async def read(fn: Callable[..., T], service: JobServicePort, *args: Any) -> T:
    """Call a quick read of the service inline or in the thread pool (see ``inline_reads``)."""
    if getattr(service, "inline_reads", False):
        return fn(service, *args)
    return await run_in_threadpool(fn, service, *args)


def require(service: JobServicePort | None) -> JobServicePort:
    if service is None:
        raise ServiceUnavailable(
            "the job service is not available: its store could not be opened when the "
            "server started (see /health and the server log); restart once it is reachable",
            details={"component": "jobs"},
        )
    return service


V = TypeVar("V", bound=JobStatusView)


def visible(job: V, who: Principal) -> V:
    """``job`` if ``who`` may see it; another key's job is "not found" to a submitter,
    with the same answer as an unknown id, so its existence does not leak."""
    scope = who.owner_scope
    if scope is not None and job.owner != scope:
        raise JobNotFound(f"job {job.job_id} not found", field="job_id")
    return job


def pagination(total: int, limit: int, offset: int) -> dict[str, Any]:
    return {
        "total": total,
        "limit": limit,
        "offset": offset,
        "has_next": offset + limit < total,
        "has_prev": offset > 0,
    }


def batch_summary(states: Sequence[JobStatus | None]) -> dict[str, int]:
    """``total`` and a count for every state (zero included), and ``not_found`` (None)."""
    summary = {"total": len(states), **{s.value: 0 for s in STATES}, NOT_FOUND: 0}
    for state in states:
        summary[NOT_FOUND if state is None else state.value] += 1
    return summary
