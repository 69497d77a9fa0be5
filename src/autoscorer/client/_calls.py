"""One :class:`Call` per API operation: method, path, query, body, how to parse.

The sync and async clients only differ in how they send a call, so every
request shape lives here once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar
from urllib.parse import quote

import httpx
from pydantic import TypeAdapter

from autoscorer.client import _errors as e
from autoscorer.client import _models as m

T = TypeVar("T")
API = "/api/v1"
IDEMPOTENCY_HEADER = "Idempotency-Key"
# A followed log stream may stay quiet while a job computes: wait longer for bytes.
FOLLOW_TIMEOUT = httpx.Timeout(30.0, read=300.0)
# A synchronous submit holds the connection while the job runs.
SYNC_SUBMIT_TIMEOUT = 3600.0


@dataclass(frozen=True)
class Call(Generic[T]):
    """A request to make and how to turn the envelope's ``data`` into ``T``."""

    method: str
    path: str
    parse: Callable[[Any], T]
    params: dict[str, Any] | None = None
    body: Any = None
    idempotent: bool = True
    timeout: float | httpx.Timeout | None = None
    headers: dict[str, str] | None = None

    @property
    def idempotency_key(self) -> str | None:
        """The ``Idempotency-Key`` this call sends (the same on every retry)."""
        return (self.headers or {}).get(IDEMPOTENCY_HEADER)


def clean(values: Mapping[str, Any]) -> dict[str, Any]:
    """Drop unset (None) entries so the server applies its defaults."""
    return {k: v for k, v in values.items() if v is not None}


def _query(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: (str(v).lower() if isinstance(v, bool) else v) for k, v in clean(values).items()}


def _seg(value: str) -> str:
    """One path segment, percent-encoded; text the server would refuse is refused here."""
    text = str(value)
    try:
        return quote(text, safe="")
    except UnicodeEncodeError as exc:
        raise e.InvalidParameter(
            f"not sent: path segment is not valid Unicode (a lone surrogate at {exc.start})",
            field="path",
        ) from exc


def _list_of(model: type[T]) -> Callable[[Any], list[T]]:
    adapter = TypeAdapter(list[model])  # type: ignore[valid-type]
    return adapter.validate_python


def job_payload(
    job: Mapping[str, Any] | None, fields: Mapping[str, Any], async_: bool | None
) -> dict[str, Any]:
    """Merge a positional job dict with keyword fields; ``async_`` becomes ``async``."""
    payload = {**dict(job or {}), **clean(fields)}
    if "async_" in payload:
        payload["async"] = payload.pop("async_")
    if async_ is not None:
        payload["async"] = async_
    return payload


# -- jobs ---------------------------------------------------------------------


def _key_header(idempotency_key: str | None) -> dict[str, str] | None:
    return None if idempotency_key is None else {IDEMPOTENCY_HEADER: idempotency_key}


def submit_job(
    payload: dict[str, Any], timeout: float | None, idempotency_key: str | None = None
) -> Call[m.Job]:
    """``POST /jobs``; without a ``timeout``, a synchronous submit waits up to an hour."""
    if timeout is None and not payload.get("async"):
        timeout = SYNC_SUBMIT_TIMEOUT
    # Retrying a submit is safe only when its job id or an Idempotency-Key makes the
    # server answer a repeat with the first job instead of creating another one.
    return Call(
        "POST",
        f"{API}/jobs",
        m.Job.model_validate,
        body=payload,
        idempotent=bool(payload.get("job_id") or idempotency_key),
        timeout=timeout,
        headers=_key_header(idempotency_key),
    )


def submit_batch(
    jobs: Iterable[Mapping[str, Any]],
    async_: bool | None,
    max_parallel: int | None,
    idempotency_key: str | None = None,
) -> Call[m.BatchSubmitted]:
    items = [job_payload(j, {}, None) for j in jobs]
    body = clean({"jobs": items, "async": async_, "max_parallel": max_parallel})
    every_id = bool(items) and all(j.get("job_id") for j in items)
    return Call(
        "POST",
        f"{API}/jobs/batch",
        m.BatchSubmitted.model_validate,
        body=body,
        idempotent=every_id or bool(idempotency_key),
        headers=_key_header(idempotency_key),
    )


def get_job_status(job_id: str) -> Call[m.JobStatus]:
    return Call("GET", f"{API}/jobs/{_seg(job_id)}/status", m.JobStatus.model_validate)


def get_job_result(
    job_id: str, include_artifacts: bool | None = None, include_logs: bool | None = None
) -> Call[m.JobResult]:
    params = _query({"include_artifacts": include_artifacts, "include_logs": include_logs})
    return Call("GET", f"{API}/jobs/{_seg(job_id)}/result", m.JobResult.model_validate, params)


def get_job_logs(
    job_id: str,
    level: str | None = None,
    since: str | None = None,
    tail: int | None = None,
    follow: bool | None = None,
) -> Call[m.JobLogs]:
    params = _query({"level": level, "since": since, "tail": tail, "follow": follow})
    path = f"{API}/jobs/{_seg(job_id)}/logs"
    return Call(
        "GET", path, m.JobLogs.model_validate, params, timeout=FOLLOW_TIMEOUT if follow else None
    )


def get_artifact(job_id: str, name: str) -> Call[Any]:
    """``GET /jobs/{id}/artifacts/{name}``: the answer is the file's bytes, not an envelope."""
    path = f"{API}/jobs/{_seg(job_id)}/artifacts/{_seg(name)}"
    return Call("GET", path, lambda data: data, timeout=FOLLOW_TIMEOUT)


def cancel_job(job_id: str) -> Call[m.CancelledJob]:
    return Call("DELETE", f"{API}/jobs/{_seg(job_id)}", m.CancelledJob.model_validate)


def cancel_batch(job_ids: Iterable[str], reason: str | None) -> Call[m.BatchCancelled]:
    body = clean({"job_ids": list(job_ids), "reason": reason})
    return Call("DELETE", f"{API}/jobs/batch", m.BatchCancelled.model_validate, body=body)


def batch_status(job_ids: Iterable[str], include_progress: bool | None) -> Call[m.BatchStatus]:
    body = clean({"job_ids": list(job_ids), "include_progress": include_progress})
    return Call("POST", f"{API}/jobs/batch/status", m.BatchStatus.model_validate, body=body)


def list_jobs(filters: Mapping[str, Any]) -> Call[m.JobList]:
    return Call("GET", f"{API}/jobs", m.JobList.model_validate, _query(filters))


# -- scorers ------------------------------------------------------------------


def list_scorers(task_type: str | None, include_details: bool | None) -> Call[list[m.ScorerInfo]]:
    params = _query({"task_type": task_type, "include_details": include_details})
    return Call("GET", f"{API}/scorers", _list_of(m.ScorerInfo), params)


def get_scorer(name: str, version: str | None, include_examples: bool | None) -> Call[m.ScorerInfo]:
    params = _query({"version": version, "include_examples": include_examples})
    return Call("GET", f"{API}/scorers/{_seg(name)}", m.ScorerInfo.model_validate, params)


def test_scorer(name: str, body: Mapping[str, Any], timeout: float | None) -> Call[m.ScorerTest]:
    path = f"{API}/scorers/{_seg(name)}/test"
    return Call("POST", path, m.ScorerTest.model_validate, body=clean(body), timeout=timeout)


def load_scorers(body: Mapping[str, Any]) -> Call[m.ScorersLoaded]:
    return Call("POST", f"{API}/scorers/load", m.ScorersLoaded.model_validate, body=clean(body))


def reload_scorers(file_path: str, scorer_name: str | None) -> Call[m.ScorersReloaded]:
    body = clean({"file_path": file_path, "scorer_name": scorer_name})
    return Call("POST", f"{API}/scorers/reload", m.ScorersReloaded.model_validate, body=body)


def watch_scorer(file_path: str, check_interval: float | None) -> Call[m.WatchStarted]:
    body = clean({"file_path": file_path, "check_interval": check_interval})
    return Call("POST", f"{API}/scorers/watch", m.WatchStarted.model_validate, body=body)


def unwatch_scorer(file_path: str) -> Call[m.WatchStopped]:
    params = {"file_path": file_path}
    return Call("DELETE", f"{API}/scorers/watch", m.WatchStopped.model_validate, params)


def watch_status() -> Call[m.WatchStatus]:
    return Call("GET", f"{API}/scorers/watch", m.WatchStatus.model_validate)


# -- workspaces, config, system -------------------------------------------------


def validate_workspace(body: Mapping[str, Any]) -> Call[m.WorkspaceValidation]:
    path = f"{API}/workspaces/validate"
    return Call("POST", path, m.WorkspaceValidation.model_validate, body=clean(body))


def init_workspace(body: Mapping[str, Any]) -> Call[m.WorkspaceCreated]:
    path = f"{API}/workspaces/init"
    return Call("POST", path, m.WorkspaceCreated.model_validate, body=clean(body), idempotent=False)


def get_config(section: str | None, include_defaults: bool | None) -> Call[m.SystemConfig]:
    params = _query({"section": section, "include_defaults": include_defaults})
    return Call("GET", f"{API}/config", m.SystemConfig.model_validate, params)


def update_config(
    section: str, config: Mapping[str, Any], restart_required: bool | None
) -> Call[m.ConfigUpdate]:
    body = clean({"section": section, "config": dict(config), "restart_required": restart_required})
    return Call("PUT", f"{API}/config", m.ConfigUpdate.model_validate, body=body)


def health() -> Call[m.Health]:
    return Call("GET", "/health", m.Health.model_validate)


def system_status() -> Call[m.SystemStatus]:
    return Call("GET", f"{API}/status", m.SystemStatus.model_validate)
