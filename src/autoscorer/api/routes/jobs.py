"""Jobs: submit (sync with a bounded wait, or async), status, result, logs, cancel, list,
and the batch operations. Batch paths are declared before ``/{job_id}``."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from functools import partial
from typing import Annotated, Any, BinaryIO, Literal
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from starlette.responses import Response, StreamingResponse

from autoscorer.api.deps import Reader, RuntimeDep, SettingsDep, Submitter
from autoscorer.api.envelope import REQUEST_ID_HEADER, ok, request_id_of
from autoscorer.api.ops.idempotency import idempotent
from autoscorer.api.ops.job_json import batch_json, cancelled_json, job_json, log_json
from autoscorer.api.ops.jobs import (
    NOT_FOUND,
    JobServicePort,
    batch_summary,
    pagination,
    read,
    require,
    visible,
)
from autoscorer.api.schemas.common import Envelope
from autoscorer.api.schemas.jobs import (
    BatchCancelled,
    BatchStatusPublic,
    BatchSubmitted,
    JobBatchCancel,
    JobBatchCreate,
    JobCancelled,
    JobCreate,
    JobIds,
    JobLogsPublic,
    JobPublic,
    JobResultPublic,
    JobsPublic,
    JobState,
    JobStatusPublic,
)
from autoscorer.api.schemas.results import JobAccepted
from autoscorer.api.security import Principal, inside_roots
from autoscorer.errors import Conflict, ResourceNotFound
from autoscorer.inputs import JOB_ID_PATTERN, MAX_NAME, NAME_PATTERN
from autoscorer.jobs.records import JobStatusView, JobSubmission
from autoscorer.settings import Settings

router = APIRouter(prefix="/api/v1/jobs", tags=["jobs"])
JobIdPath = Annotated[str, PathParam(pattern=JOB_ID_PATTERN, description="The job's id")]
FOLLOW_POLL = 0.2  # seconds between looks at a followed job's new log lines
MAX_OFFSET = 2**31 - 1  # any store holds it (a larger one overflowed SQLite: a 500)


def _job_in(body: JobCreate, settings: Settings, request: Request, who: Principal) -> JobSubmission:
    config = body.config.model_dump(exclude_none=True) if body.config is not None else {}
    return JobSubmission(
        workspace_path=str(
            inside_roots(body.workspace_path, settings.workspace_roots, "workspace_path")
        ),
        job_id=body.job_id,
        task_type=body.task_type,
        scorer=body.scorer,
        executor=body.executor or settings.executor,
        config=config,
        callback_url=body.callback_url,
        request_id=request_id_of(request),
        owner=who.name if settings.auth_enabled else None,
    )


def _status_of(service: JobServicePort, job_id: str) -> JobStatusView:
    return service.get(job_id, result=False)


async def _status_for(service: JobServicePort, job_id: str, who: Principal) -> JobStatusView:
    """The job's status if ``who`` may see it (404 for another key's job otherwise)."""
    return visible(await read(_status_of, service, job_id), who)


def _status_url(job_id: str) -> str:
    return f"/api/v1/jobs/{job_id}/status"


@router.post(
    "",
    response_model=Envelope[JobPublic],
    responses={202: {"model": Envelope[JobAccepted], "description": "Accepted (async/running)"}},
    summary="Submit a job",
)
async def submit_job(
    request: Request, runtime: RuntimeDep, settings: SettingsDep, who: Submitter, body: JobCreate
) -> Response:
    """``async=false`` waits up to ``sync_wait_seconds``, then answers 202 with the status URL.
    An ``Idempotency-Key`` header makes a retry return the first answer."""
    service = require(runtime.service)

    async def run() -> tuple[int, dict[str, Any]]:
        job = await run_in_threadpool(
            partial(service.submit, privileged=who.allows("admin")),
            _job_in(body, settings, request, who),
        )
        seen: JobStatusView = job
        if not body.async_:
            seen = await run_in_threadpool(service.wait, job.job_id, settings.sync_wait_seconds)
        if seen.terminal:
            return 200, job_json(seen)
        message = "Job submitted for async processing" if body.async_ else "Job still running"
        return 202, {**job_json(seen), "message": message, "status_url": _status_url(job.job_id)}

    return await idempotent(request, service, f"{who.name}:jobs", body, run)


@router.post(
    "/batch", response_model=Envelope[BatchSubmitted], status_code=202, summary="Submit jobs"
)
async def submit_batch(
    request: Request,
    runtime: RuntimeDep,
    settings: SettingsDep,
    who: Submitter,
    body: JobBatchCreate,
) -> Response:
    service = require(runtime.service)

    async def run() -> tuple[int, dict[str, Any]]:
        jobs = [_job_in(item, settings, request, who) for item in body.jobs]
        batch = await run_in_threadpool(
            service.submit_batch,
            jobs,
            max_parallel=body.max_parallel,
            privileged=who.allows("admin"),
        )
        return 202, batch_json(batch)

    return await idempotent(request, service, f"{who.name}:jobs/batch", body, run)


@router.post("/batch/status", response_model=Envelope[BatchStatusPublic], summary="Statuses")
async def batch_status(
    request: Request, runtime: RuntimeDep, who: Reader, body: JobIds
) -> Response:
    """One entry per id, in order; an unknown (or unseen) id is an entry ``not_found``."""
    service = require(runtime.service)
    found = [await _status_or_missing(service, job_id, who) for job_id in body.job_ids]
    jobs = [_batch_entry(job_id, job, body.include_progress) for job_id, job in found]
    states = [None if isinstance(j, ResourceNotFound) else j.status for _, j in found]
    summary = batch_summary(states)
    return ok(request, {"jobs": jobs, "summary": summary})


async def _status_or_missing(
    service: JobServicePort, job_id: str, who: Principal
) -> tuple[str, JobStatusView | ResourceNotFound]:
    """The job, or the error saying why there is none."""
    try:
        return job_id, await _status_for(service, job_id, who)
    except ResourceNotFound as exc:
        return job_id, exc


def _batch_entry(
    job_id: str, job: JobStatusView | ResourceNotFound, progress: bool
) -> dict[str, Any]:
    if isinstance(job, ResourceNotFound):
        return {"job_id": job_id, "status": NOT_FOUND, "error": job.to_dict()}
    out = job_json(job)
    if not progress:
        del out["progress"]
    return out


@router.delete("/batch", response_model=Envelope[BatchCancelled], summary="Cancel jobs")
async def cancel_batch(
    request: Request, runtime: RuntimeDep, who: Submitter, body: JobBatchCancel
) -> Response:
    """Each id on its own: an unknown or finished job is listed in ``failed_cancellations``."""
    service = require(runtime.service)
    cancelled, failed = [], []
    for job_id in body.job_ids:
        try:
            await _status_for(service, job_id, who)  # another key's job: not found to a submitter
            cancelled.append(
                cancelled_json(await run_in_threadpool(service.cancel, job_id, body.reason))
            )
        except (Conflict, ResourceNotFound) as exc:
            failed.append({"job_id": job_id, "error": exc.to_dict()})
    data = {
        "cancelled_jobs": cancelled,
        "failed_cancellations": failed,
        "total_cancelled": len(cancelled),
    }
    return ok(request, data)


@router.get("", response_model=Envelope[JobsPublic], summary="List jobs")
async def list_jobs(
    request: Request,
    runtime: RuntimeDep,
    who: Reader,
    status: JobState | None = Query(None),
    task_type: str | None = Query(None, max_length=MAX_NAME, pattern=NAME_PATTERN),
    scorer: str | None = Query(None, max_length=MAX_NAME, pattern=NAME_PATTERN),
    limit: int = Query(50, ge=1, le=1000),
    offset: int = Query(0, ge=0, le=MAX_OFFSET),
    sort: Literal["created_at", "updated_at", "job_id"] = Query("created_at"),
    order: Literal["asc", "desc"] = Query("desc"),
) -> Response:
    service = require(runtime.service)
    filters = {"status": status, "task_type": task_type, "scorer": scorer}
    filters["owner"] = who.owner_scope  # a submitter lists its own jobs only
    jobs, total = await run_in_threadpool(
        service.list, **filters, sort=sort, order=order, limit=limit, offset=offset
    )
    data = {"jobs": [job_json(j) for j in jobs], "pagination": pagination(total, limit, offset)}
    return ok(request, data)


@router.get("/{job_id}/status", response_model=Envelope[JobStatusPublic], summary="Job status")
async def job_status(
    request: Request, runtime: RuntimeDep, who: Reader, job_id: JobIdPath
) -> Response:
    service = require(runtime.service)
    return ok(request, job_json(await _status_for(service, job_id, who)))


@router.get("/{job_id}/result", response_model=Envelope[JobResultPublic], summary="Job result")
async def job_result(
    request: Request,
    runtime: RuntimeDep,
    who: Reader,
    job_id: JobIdPath,
    include_artifacts: bool = Query(True, description="Keep the artifacts section"),
    include_logs: bool = Query(False, description="Add the job's log lines"),
) -> Response:
    """409 CONFLICT while the job has not finished."""
    service = require(runtime.service)
    job = visible(await run_in_threadpool(service.get, job_id), who)
    status = job.status.value
    if not job.terminal:
        raise Conflict(
            f"job {job_id} is {status}; its result exists once it has finished",
            field="job_id",
            details={"status": status, "status_url": _status_url(job_id)},
        )
    result = dict(job.result or {}) or None  # null: the job never scored
    if result is not None and not include_artifacts:
        result.pop("artifacts", None)
    data: dict[str, Any] = {"job_id": job_id, "status": status, "result": result}
    if include_logs:
        logs, _total = await run_in_threadpool(
            service.logs, job_id, level=None, since=None, tail=None
        )
        data["logs"] = [log_json(e) for e in logs]
    return ok(request, data)


@router.get(
    "/{job_id}/artifacts/{name}",
    response_class=Response,
    responses={
        200: {
            "content": {"application/octet-stream": {}, "image/png": {}, "text/csv": {}},
            "description": "The artifact's bytes, with its content type",
        }
    },
    summary="Download an artifact",
)
async def job_artifact(
    request: Request,
    runtime: RuntimeDep,
    who: Reader,
    job_id: JobIdPath,
    name: Annotated[str, PathParam(max_length=MAX_NAME * 2, pattern=NAME_PATTERN)],
) -> Response:
    """One artifact the job's result lists, by its name (``confusion_matrix``) or its file
    name (``confusion_matrix.png``). Links in ``output/`` are refused, never followed; the
    job's visibility is the status's (another key's job is not found to a submitter)."""
    service = require(runtime.service)
    await _status_for(service, job_id, who)
    art = await run_in_threadpool(service.artifact, job_id, name)
    headers = {
        REQUEST_ID_HEADER: request_id_of(request),
        "Content-Length": str(art.size),
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(art.filename)}",
    }
    return StreamingResponse(_chunks(art.file), media_type=art.media_type, headers=headers)


def _chunks(file: BinaryIO, size: int = 1 << 16) -> Iterator[bytes]:
    with file:
        while block := file.read(size):
            yield block


@router.get(
    "/{job_id}/logs",
    response_model=Envelope[JobLogsPublic],
    responses={
        200: {
            "content": {"application/x-ndjson": {}, "text/event-stream": {}},
            "description": "follow=true: one JSON log entry per line (or SSE event)",
        }
    },
    summary="Job logs",
)
async def job_logs(
    request: Request,
    runtime: RuntimeDep,
    who: Reader,
    job_id: JobIdPath,
    level: Literal["debug", "info", "warning", "error"] | None = Query(None),
    since: str | None = Query(
        None, max_length=64, pattern=NAME_PATTERN, description="ISO 8601; entries after this time"
    ),
    tail: int | None = Query(None, ge=1, le=100_000),
    follow: bool = Query(False, description="Stream new lines until the job ends"),
) -> Response:
    service = require(runtime.service)
    await _status_for(service, job_id, who)
    entries, total = await run_in_threadpool(
        service.logs, job_id, level=level, since=since, tail=tail
    )
    logs = [log_json(e) for e in entries]
    if not follow:
        data = {"job_id": job_id, "logs": logs, "total_lines": total, "has_more": len(logs) < total}
        return ok(request, data)
    sse = "text/event-stream" in request.headers.get("accept", "")
    stream = _follow(service, job_id, level, logs, sse)
    media = "text/event-stream" if sse else "application/x-ndjson"
    headers = {REQUEST_ID_HEADER: request_id_of(request), "Cache-Control": "no-cache"}
    return StreamingResponse(stream, media_type=media, headers=headers)


def _line(entry: dict[str, Any], sse: bool, event: str = "log") -> bytes:
    text = json.dumps(entry, ensure_ascii=False, default=str)
    return f"event: {event}\ndata: {text}\n\n".encode() if sse else (text + "\n").encode()


async def _follow(
    service: Any, job_id: str, level: str | None, first: list[dict[str, Any]], sse: bool
) -> AsyncIterator[bytes]:
    """Yield lines already there, then new ones, until the job is terminal."""
    last = None
    for entry in first:
        yield _line(entry, sse)
        last = entry["timestamp"]
    while True:
        job: JobStatusView = await read(_status_of, service, job_id)
        fresh, _total = await run_in_threadpool(
            service.logs, job_id, level=level, since=last, tail=None
        )
        for line in map(log_json, fresh):
            yield _line(line, sse)
            last = line["timestamp"]
        if job.terminal:
            yield _line({"job_id": job_id, "status": job.status.value}, sse, "end")
            return
        await asyncio.sleep(FOLLOW_POLL)


@router.delete("/{job_id}", response_model=Envelope[JobCancelled], summary="Cancel a job")
async def cancel_job(
    request: Request, runtime: RuntimeDep, who: Submitter, job_id: JobIdPath
) -> Response:
    """A finished job gives 409 CONFLICT."""
    service = require(runtime.service)
    await _status_for(service, job_id, who)
    job = await run_in_threadpool(service.cancel, job_id, "User requested cancellation")
    return ok(request, cancelled_json(job))
