"""Queued jobs no worker took: their broker message was lost (a Redis without persistence
restarted, a purged queue, an in-process queue of a process that died). The reaper
publishes them again (:meth:`autoscorer.jobs.reaper.Reaper.republish`).

A re-published job can never run twice: a run starts with :meth:`JobStore.claim`, one
conditional UPDATE (``status IN ('submitted', 'queued')``) that only one delivery wins;
the other message finds the job running or finished and is dropped.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update

from autoscorer.jobs.db import affected
from autoscorer.jobs.joblogs import write_logs
from autoscorer.jobs.models import JobRow
from autoscorer.jobs.records import WAITING, JobStatusView, job_view
from autoscorer.jobs.store import JobStore

BATCH = 100  # jobs re-published per pass at most; the next pass takes the rest


def stale_queued(store: JobStore, before: datetime, at: datetime) -> list[JobStatusView]:
    """Jobs waiting since before ``before``, each stamped ``updated_at = at`` with a log line.
    The stamp is conditional, so of several reapers only one re-publishes a given job,
    and the job waits another full period before the next re-publish."""
    stale = [JobRow.status.in_(WAITING), JobRow.updated_at < before]
    with store.reader() as s:
        ids = list(s.scalars(select(JobRow.job_id).where(*stale).order_by(JobRow.created_at)
                             .limit(BATCH)))  # fmt: skip
    taken = []
    for job_id in ids:
        with store.session.begin() as s:
            stamp = update(JobRow).where(JobRow.job_id == job_id, *stale).values(updated_at=at)
            if not affected(s.execute(stamp)):
                continue  # claimed, cancelled or re-published by another reaper meanwhile
            row = s.get(JobRow, job_id, populate_existing=True)
            assert row is not None
            message = f"no worker took this job from queue {row.queue}; published it again"
            write_logs(s, job_id, [("WARNING", "reaper", message)])
            taken.append(job_view(row))
    return taken
