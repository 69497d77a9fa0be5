"""Aggregate reads of the job store (jobs per state, per-scorer usage, recent durations),
and the cache of per-scorer usage figures.

The usage figures are one aggregate over every job, too costly to run per scorer listing. Past
their age the last figures are served while one background thread re-reads them
(stale-while-revalidate), so no request waits for the aggregate once figures exist.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import sessionmaker

from autoscorer.jobs.models import JobRow
from autoscorer.jobs.records import FINISHED, STATES, JobStatus, iso

log = logging.getLogger("autoscorer.jobs")
STATS_TTL = 2.0  # seconds scorer usage figures may be old before a refresh starts
Figures = dict[str, dict[str, Any]]


class CachedStats:
    def __init__(self, load: Callable[[], Figures], ttl: float = STATS_TTL) -> None:
        self.load, self.ttl = load, ttl
        self._cached: tuple[float, Figures] | None = None
        self._lock = threading.Lock()
        self._refreshing = False

    def get(self, max_age: float | None = None) -> Figures:
        """Figures at most ``max_age`` (default ``ttl``) seconds old, else the last ones while
        a refresh runs; with none yet, or ``max_age=0``, read now."""
        cached, age = self._cached, self.ttl if max_age is None else max_age
        if cached is not None and time.monotonic() - cached[0] <= age:
            return cached[1]
        if cached is None or age <= 0:
            return self._read()
        self._refresh_soon()
        return cached[1]

    def _read(self) -> Figures:
        figures = self.load()
        self._cached = (time.monotonic(), figures)
        return figures

    def _refresh_soon(self) -> None:
        with self._lock:
            if self._refreshing:
                return
            self._refreshing = True
        threading.Thread(target=self._refresh, name="scorer-stats", daemon=True).start()

    def _refresh(self) -> None:
        try:
            self._read()
        except Exception as exc:  # the store closing or away: keep serving the last figures
            log.warning("scorer usage figures not refreshed: %s", exc)
        finally:
            self._refreshing = False


class StatsMixin:
    """Statistics methods of :class:`~autoscorer.jobs.store.JobStore`."""

    reader: sessionmaker[Any]

    def counts(self) -> dict[str, int]:
        """Jobs per state, every state present."""
        with self.reader() as s:
            rows = s.execute(select(JobRow.status, func.count()).group_by(JobRow.status)).all()
        by = {s.value: 0 for s in STATES}
        by.update({status: int(n) for status, n in rows})
        return by

    def scorer_stats(self) -> dict[str, dict[str, Any]]:
        """Per scorer: jobs run, last used, success rate (finished jobs only)."""
        ok = func.sum(func.cast(JobRow.status == JobStatus.COMPLETED, JobRow.attempts.type))
        finished = func.sum(func.cast(JobRow.status.in_(FINISHED), JobRow.attempts.type))
        stmt = select(JobRow.scorer, func.count(), func.max(JobRow.created_at), ok, finished)
        with self.reader() as s:
            rows = s.execute(stmt.where(JobRow.scorer.is_not(None)).group_by(JobRow.scorer)).all()
        return {
            name: {
                "usage_count": n,
                "last_used": iso(last),
                "success_rate": round((good or 0) / fin, 4) if fin else None,
            }
            for name, n, last, good, fin in rows
        }

    def recent_durations(self, scorer: str | None, limit: int = 20) -> Sequence[float]:
        where: Any = [JobRow.status == JobStatus.COMPLETED, JobRow.execution_time.is_not(None)]
        if scorer is not None:
            where.append(JobRow.scorer == scorer)
        stmt = select(JobRow.execution_time).where(*where)
        with self.reader() as s:
            values = s.scalars(stmt.order_by(JobRow.completed_at.desc()).limit(limit))
            return [float(v) for v in values]
