"""Pure helpers for waiting on jobs and following logs (no I/O here)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from autoscorer.client._models import ErrorDetail, JobResult, JobStatus, LogEntry, Response


@dataclass
class PollSchedule:
    """Polling intervals that grow by ``factor`` up to ``max_interval`` and never
    run past the deadline (``timeout`` None waits forever)."""

    interval: float = 0.5
    max_interval: float = 5.0
    factor: float = 1.5
    timeout: float | None = None
    started: float = field(default_factory=time.monotonic)

    def remaining(self) -> float | None:
        if self.timeout is None:
            return None
        return self.timeout - (time.monotonic() - self.started)

    def expired(self) -> bool:
        left = self.remaining()
        return left is not None and left <= 0

    def next_sleep(self) -> float:
        """Seconds to sleep now; the following call returns a longer interval."""
        sleep = self.interval
        self.interval = min(self.max_interval, self.interval * self.factor)
        left = self.remaining()
        return sleep if left is None else max(0.0, min(sleep, left))


def outcome(status: JobStatus, answer: Response[JobResult]) -> Response[JobResult]:
    """The final envelope of a job: ``success`` only when it completed."""
    if status.status == "completed" and answer.success:
        return answer
    errors = list(answer.errors)
    data = answer.data
    if not errors:
        failure = (data.result.error if data and data.result else None) or status.error
        errors = [failure or ErrorDetail(code=_code_for(status.status), message=_why(status))]
    return Response[JobResult](success=False, data=data, meta=answer.meta, errors=errors)


def _code_for(state: str) -> str:
    return "CANCELLED" if state == "cancelled" else "EXECUTION_FAILED"


def _why(status: JobStatus) -> str:
    return f"job {status.job_id} ended {status.status}"


def parse_stream_line(line: str) -> LogEntry | None:
    """One log entry from an NDJSON line or an SSE ``data:`` line; None for the rest."""
    text = line.strip()
    if text.startswith("data:"):
        text = text[5:].strip()
    if not text.startswith("{"):
        return None
    try:
        obj: Any = json.loads(text)
    except json.JSONDecodeError:
        return None
    if not isinstance(obj, dict) or "message" not in obj:
        return None
    return LogEntry.model_validate(obj)


def is_stream(content_type: str) -> bool:
    kind = content_type.split(";")[0].strip().lower()
    return kind in {"application/x-ndjson", "application/jsonl", "text/event-stream"}


class LogCursor:
    """Remembers what was already yielded while polling ``GET .../logs?since=``.

    ``since`` may be inclusive or exclusive on the server; entries stamped with the
    last seen timestamp are de-duplicated either way.
    """

    def __init__(self) -> None:
        self.since: str | None = None
        self._seen_at_since: set[tuple[Any, ...]] = set()

    def fresh(self, entries: list[LogEntry]) -> list[LogEntry]:
        out: list[LogEntry] = []
        for entry in entries:
            key = (entry.timestamp, entry.level, entry.component, entry.message)
            if entry.timestamp == self.since and key in self._seen_at_since:
                continue
            if entry.timestamp != self.since:
                self.since, self._seen_at_since = entry.timestamp, set()
            self._seen_at_since.add(key)
            out.append(entry)
        return out
