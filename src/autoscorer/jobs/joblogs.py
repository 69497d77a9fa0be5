"""Per-job structured log lines: written by every stage, read with level/since/tail."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session, sessionmaker

from autoscorer.errors import InvalidParameter, JobNotFound
from autoscorer.jobs.db import Writers
from autoscorer.jobs.models import JOB_LOGS, JobLogRow, JobRow
from autoscorer.jobs.records import LogEntry, now, parse_iso

LEVELS = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40}
MAX_MESSAGE = 8000  # characters kept of one line (a container can print anything)


# (level, component, message), optionally followed by the time it was said (else: now)
Entry = tuple[str, str, str] | tuple[str, str, str, datetime]


def write_logs(session: Session, job_id: str, entries: Sequence[Entry]) -> None:
    """Insert log lines inside the caller's transaction (one round trip)."""
    write_many_logs(session, [(job_id, entries)])


def write_many_logs(session: Session, per_job: Sequence[tuple[str, Sequence[Entry]]]) -> None:
    """Log lines of several jobs in one statement (a table insert: the ORM's bulk path
    cost more than the statement)."""
    stamp = now()
    rows = [
        {
            "job_id": job_id,
            "timestamp": entry[3] if len(entry) > 3 else stamp,
            "level": _level_name(entry[0]),
            "component": entry[1][:32],
            "message": entry[2][:MAX_MESSAGE],
        }
        for job_id, entries in per_job
        for entry in entries
    ]
    if rows:
        session.execute(insert(JOB_LOGS), rows)


def _level_name(level: str) -> str:
    name = level.upper()
    if name == "WARN":
        return "WARNING"
    return name if name in LEVELS else "INFO"


class LogMixin:
    """Log methods of :class:`~autoscorer.jobs.store.JobStore`."""

    session: Writers
    reader: sessionmaker[Any]

    def add_log(self, job_id: str, level: str, component: str, message: str) -> None:
        self.add_logs(job_id, [(level, component, message)])

    def add_logs(self, job_id: str, entries: Sequence[Entry]) -> None:
        if entries:
            with self.session.begin() as s:
                write_logs(s, job_id, entries)

    def logs(
        self,
        job_id: str,
        *,
        level: str | None = None,
        since: str | None = None,
        tail: int | None = None,
    ) -> tuple[list[LogEntry], int]:
        """Lines at ``level`` or above, after ``since`` (ISO 8601), the last ``tail`` of them.

        Returns (lines, total matching before ``tail``)."""
        where = [JobLogRow.job_id == job_id]
        if level is not None:
            wanted = [n for n, v in LEVELS.items() if v >= LEVELS[_level_name(level)]]
            where.append(JobLogRow.level.in_(wanted))
        if since is not None:
            where.append(JobLogRow.timestamp > _since(since))
        with self.reader() as s:
            if s.get(JobRow, job_id) is None:
                raise JobNotFound(f"job {job_id} not found", field="job_id")
            total = s.scalar(select(func.count()).select_from(JobLogRow).where(*where)) or 0
            stmt = select(JobLogRow).where(*where).order_by(JobLogRow.id.desc())
            if tail is not None:
                stmt = stmt.limit(tail)
            rows = list(s.scalars(stmt))
        return [LogEntry.of(r) for r in reversed(rows)], int(total)


def _since(text: str) -> Any:
    try:
        return parse_iso(text)
    except ValueError:
        raise InvalidParameter(
            f"since={text!r} is not an ISO 8601 time; use e.g. 2024-08-24T10:00:00Z",
            field="since",
        ) from None
