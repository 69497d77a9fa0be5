"""The asynchronous client.

``scripts/gen-sync-client`` generates ``_client.py`` (``AutoScorerClient``) from this file:
every change made here, then that script run, reaches both faces.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar, overload

import httpx

from autoscorer.client import _calls as calls
from autoscorer.client import _models as m
from autoscorer.client._async_resources import Config, Scorers, Workspaces
from autoscorer.client._base import (
    DEFAULT_TIMEOUT,
    ClientSettings,
    StrPath,
    atomic_file,
    build_request,
    download_target,
    handle,
    key_in_progress,
    raise_for_download,
    result_envelope,
    retry_after,
    transport_error,
)
from autoscorer.client._errors import WaitTimeout
from autoscorer.client._retry import RetryPolicy
from autoscorer.client._wait import LogCursor, PollSchedule, is_stream, outcome, parse_stream_line

T = TypeVar("T")


class AsyncAutoScorerClient:
    """Asynchronous client for the AutoScorer REST API; one pooled connection set, reused
    by every call.

    ``base_url`` defaults to ``$AUTOSCORER_SERVER`` then ``http://localhost:8000``;
    ``api_key`` to ``$AUTOSCORER_API_KEY``. ``retries`` is a count or a
    :class:`RetryPolicy`; ``transport`` any ``httpx.AsyncBaseTransport``.
    ``auto_idempotency=True`` gives every ``submit_job``/``submit_batch`` call without
    an ``idempotency_key`` a fresh uuid4 one, so every submit is safe to retry.
    """

    def __init__(
        self,
        base_url: str | None = None,
        *,
        api_key: str | None = None,
        timeout: float | httpx.Timeout | None = DEFAULT_TIMEOUT,
        retries: RetryPolicy | int | None = None,
        headers: dict[str, str] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        auto_idempotency: bool = False,
    ) -> None:
        self._settings = ClientSettings(
            base_url, api_key, timeout, retries, headers, auto_idempotency
        )
        self._http = httpx.AsyncClient(
            base_url=self._settings.base_url,
            headers=self._settings.headers,
            timeout=timeout,
            transport=transport,
        )
        self.scorers = Scorers(self)
        self.workspaces = Workspaces(self)
        self.config = Config(self)

    @property
    def base_url(self) -> str:
        return self._settings.base_url

    @property
    def retry_policy(self) -> RetryPolicy:
        return self._settings.retry

    async def aclose(self) -> None:
        """Close the pooled connections."""
        await self._http.aclose()

    async def __aenter__(self) -> AsyncAutoScorerClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # -- sending ------------------------------------------------------------------

    async def _send(self, call: calls.Call[Any], *, stream: bool = False) -> httpx.Response:
        policy, attempt = self._settings.retry, 0
        while True:
            try:
                response = await self._http.send(build_request(self._http, call), stream=stream)
            except httpx.TransportError as exc:
                delay = policy.delay_for_error(attempt, exc, call.idempotent)
                if delay is None:
                    raise transport_error(exc) from exc
            else:
                status, wait = response.status_code, retry_after(response)
                busy = key_in_progress(call, response)
                delay = policy.delay_for_status(attempt, status, call.idempotent, wait, busy)
                if delay is None:
                    return response
                await response.aclose()
            await asyncio.sleep(delay)
            attempt += 1

    async def request(self, call: calls.Call[T]) -> T:
        """Send one prepared call (with retries) and parse its ``data``."""
        response = await self._send(call)
        return handle(call, response)

    # -- jobs ---------------------------------------------------------------------

    async def submit_job(
        self,
        job: Mapping[str, Any] | None = None,
        /,
        *,
        job_id: str | None = None,
        task_type: str | None = None,
        scorer: str | None = None,
        workspace_path: str | None = None,
        executor: str | None = None,
        config: Mapping[str, Any] | None = None,
        async_: bool | None = None,
        timeout: float | None = None,
        idempotency_key: str | None = None,
        **extra: Any,
    ) -> m.Job:
        """Submit a job. ``async_=True`` returns at once (normally status ``queued``);
        otherwise the server runs it and the answer carries the result.

        ``idempotency_key`` is sent as the ``Idempotency-Key`` header: a repeat with
        the same key and body gets the first answer again instead of a second job,
        so a submit with a key (or a ``job_id``) is retried on 5xx answers and lost
        connections. With ``auto_idempotency=True`` on the client every submit gets
        a fresh uuid4 key when none is given.
        """
        fields = dict(
            job_id=job_id,
            task_type=task_type,
            scorer=scorer,
            workspace_path=workspace_path,
            executor=executor,
            config=config,
            **extra,
        )
        payload = calls.job_payload(job, fields, async_)
        key = self._settings.submit_key(idempotency_key)
        return await self.request(calls.submit_job(payload, timeout, key))

    async def submit_batch(
        self,
        jobs: Iterable[Mapping[str, Any]],
        *,
        async_: bool | None = None,
        max_parallel: int | None = None,
        idempotency_key: str | None = None,
    ) -> m.BatchSubmitted:
        """Submit several jobs at once (all or nothing); ``.job_ids`` lists them.
        ``idempotency_key`` works as in :meth:`submit_job`."""
        key = self._settings.submit_key(idempotency_key)
        return await self.request(calls.submit_batch(jobs, async_, max_parallel, key))

    async def get_job_status(self, job_id: str) -> m.JobStatus:
        """State, progress (0..1) and timestamps of a job."""
        return await self.request(calls.get_job_status(job_id))

    async def get_job_result(
        self,
        job_id: str,
        *,
        include_artifacts: bool | None = None,
        include_logs: bool | None = None,
    ) -> m.JobResult:
        """The result of a finished job."""
        return await self.request(calls.get_job_result(job_id, include_artifacts, include_logs))

    async def get_job_logs(
        self,
        job_id: str,
        *,
        level: str | None = None,
        since: str | None = None,
        tail: int | None = None,
    ) -> m.JobLogs:
        """One page of a job's structured logs."""
        return await self.request(calls.get_job_logs(job_id, level, since, tail))

    async def stream_logs(
        self,
        job_id: str,
        *,
        level: str | None = None,
        poll_interval: float = 0.5,
        timeout: float | None = None,
    ) -> AsyncIterator[m.LogEntry]:
        """Yield log entries as they are written, until the job ends."""
        call = calls.get_job_logs(job_id, level, follow=True)
        async with self._stream(call) as response:
            if is_stream(response.headers.get("content-type", "")):
                async for line in response.aiter_lines():
                    entry = parse_stream_line(line)
                    if entry is not None:
                        yield entry
                return
            await response.aread()
            first = handle(call, response)
        schedule = PollSchedule(poll_interval, timeout=timeout)
        async for polled in self._poll_logs(job_id, level, first, schedule):
            yield polled

    @asynccontextmanager
    async def _stream(self, call: calls.Call[Any]) -> AsyncIterator[httpx.Response]:
        response = await self._send(call, stream=True)
        try:
            yield response
        finally:
            await response.aclose()

    async def _poll_logs(
        self, job_id: str, level: str | None, first: m.JobLogs, schedule: PollSchedule
    ) -> AsyncIterator[m.LogEntry]:
        cursor = LogCursor()
        for earlier in cursor.fresh(first.logs):
            yield earlier
        while True:
            status = await self.get_job_status(job_id)
            page = await self.get_job_logs(job_id, level=level, since=cursor.since)
            for later in cursor.fresh(page.logs):
                yield later
            if status.done:
                return
            if schedule.expired():
                raise WaitTimeout(f"job {job_id} still running", job_id=job_id, last_status=None)
            await asyncio.sleep(schedule.next_sleep())

    async def wait_for_completion(
        self,
        job_id: str,
        *,
        timeout: float | None = 300.0,
        poll_interval: float = 0.5,
        max_interval: float = 5.0,
        on_status: Callable[[m.JobStatus], None] | None = None,
    ) -> m.Response[m.JobResult]:
        """Poll until the job ends (intervals grow from ``poll_interval`` to ``max_interval``).

        Returns the result envelope: ``.success`` is True only for a completed job,
        ``.data.result.summary.score`` its score, ``.errors`` why it failed.
        ``on_status`` is called with every status polled (e.g. to draw progress).
        Raises :class:`WaitTimeout` after ``timeout`` seconds.
        """
        schedule = PollSchedule(poll_interval, max_interval, timeout=timeout)
        while True:
            status = await self.get_job_status(job_id)
            if on_status is not None:
                on_status(status)
            if status.done:
                break
            if schedule.expired():
                raise WaitTimeout(
                    f"job {job_id} not finished after {timeout}s (status {status.status})",
                    job_id=job_id,
                    last_status=status.status,
                )
            await asyncio.sleep(schedule.next_sleep())
        answer = result_envelope(await self._send(calls.get_job_result(job_id)))
        return outcome(status, answer)

    @overload
    async def download_artifact(self, job_id: str, name: str, dest: None = None) -> bytes: ...

    @overload
    async def download_artifact(self, job_id: str, name: str, dest: StrPath) -> Path: ...

    async def download_artifact(self, job_id: str, name: str, dest: StrPath | None = None) -> Any:
        """One artifact of a finished job, by its name (``confusion_matrix``) or file name.

        Without ``dest`` its bytes are returned. With ``dest`` they are streamed to that
        file (or, when ``dest`` is a directory, to the server's file name inside it) and
        its path is returned; the file appears only once complete.
        """
        async with self._stream(calls.get_artifact(job_id, name)) as response:
            if response.is_error or dest is None:
                await response.aread()
                raise_for_download(response)
                return response.content
            target = download_target(dest, response, name)
            with atomic_file(target) as fh:
                async for chunk in response.aiter_bytes():
                    fh.write(chunk)
        return target

    async def cancel_job(self, job_id: str) -> m.CancelledJob:
        """Cancel a queued or running job."""
        return await self.request(calls.cancel_job(job_id))

    async def cancel_batch(
        self, job_ids: Iterable[str], *, reason: str | None = None
    ) -> m.BatchCancelled:
        """Cancel several jobs."""
        return await self.request(calls.cancel_batch(job_ids, reason))

    async def batch_status(
        self, job_ids: Iterable[str], *, include_progress: bool | None = None
    ) -> m.BatchStatus:
        """States of several jobs in one call."""
        return await self.request(calls.batch_status(job_ids, include_progress))

    async def list_jobs(
        self,
        *,
        status: str | None = None,
        task_type: str | None = None,
        scorer: str | None = None,
        limit: int | None = None,
        offset: int | None = None,
        sort: str | None = None,
        order: str | None = None,
    ) -> m.JobList:
        """One page of jobs with ``.pagination``."""
        filters = dict(
            status=status,
            task_type=task_type,
            scorer=scorer,
            limit=limit,
            offset=offset,
            sort=sort,
            order=order,
        )
        return await self.request(calls.list_jobs(filters))

    async def iter_jobs(
        self, *, page_size: int = 50, **filters: Any
    ) -> AsyncIterator[m.JobSummary]:
        """Every job matching ``filters`` (as :meth:`list_jobs`), fetching page after page."""
        offset = filters.pop("offset", None) or 0
        while True:
            page = await self.list_jobs(limit=page_size, offset=offset, **filters)
            for job in page.jobs:
                yield job
            if not page.pagination.has_next or not page.jobs:
                return
            offset += len(page.jobs)

    # -- system -------------------------------------------------------------------

    async def health(self) -> m.Health:
        """``GET /health``."""
        return await self.request(calls.health())

    async def status(self) -> m.SystemStatus:
        """``GET /api/v1/status``: metrics, resources, executors."""
        return await self.request(calls.system_status())
