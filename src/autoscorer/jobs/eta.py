"""Estimated completion: the recent duration of jobs with the same scorer, capped by
the job's time limit; with no history, the time limit itself (an upper bound)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from autoscorer.jobs.records import JobStatusView, now
from autoscorer.workspace.layout import Workspace

DEFAULT_TIME_LIMIT = 1800.0  # meta.json's default
SCORE_ONLY_GUESS = 30.0  # seconds, a score-only job with no history


class DurationSource(Protocol):
    def recent_durations(self, scorer: str | None, limit: int = 20) -> Sequence[float]: ...


@dataclass
class Expected:
    """How long a job should take, and when, given its start."""

    seconds: float
    started: datetime

    def eta(self, progress: float) -> datetime:
        """Start + expected; once overdue, projected from progress so far."""
        moment = now()
        end = self.started + timedelta(seconds=self.seconds)
        if end <= moment and progress > 0.05:
            elapsed = (moment - self.started).total_seconds()
            end = moment + timedelta(seconds=elapsed * (1 - progress) / progress)
        return max(end, moment)


def _limits(job: JobStatusView) -> tuple[float, bool]:
    """(time limit, runs a container) from the job's config over its meta.json."""
    try:
        meta = Workspace.at(job.workspace_path).load_meta()
        limit, container = meta.time_limit, meta.container is not None
    except Exception:  # the pipeline reports a bad workspace; a guess is enough here
        limit, container = DEFAULT_TIME_LIMIT, True
    override = job.config.get("time_limit")
    return float(override or limit), container


def expected_seconds(store: DurationSource, job: JobStatusView) -> float:
    limit, container = _limits(job)
    return expected(limit, container, store.recent_durations(job.scorer))


def expected(limit: float, container: bool, recent: Sequence[float]) -> float:
    """Median of the recent durations, capped by the limit; no history: the limit, or a
    short guess for a score-only job."""
    if recent:
        return min(statistics.median(recent), limit)
    return limit if container else min(SCORE_ONLY_GUESS, limit)


def estimate(store: DurationSource, job: JobStatusView, start: datetime | None = None) -> Expected:
    return Expected(expected_seconds(store, job), start or now())


class CachedDurations:
    """Recent durations per scorer, re-read at most every ``ttl`` seconds (submit is hot)."""

    def __init__(self, store: DurationSource, ttl: float = 10.0) -> None:
        self.store, self.ttl = store, ttl
        self._seen: dict[str | None, tuple[float, Sequence[float]]] = {}

    def recent_durations(self, scorer: str | None, limit: int = 20) -> Sequence[float]:
        hit = self._seen.get(scorer)
        if hit is not None and time.monotonic() - hit[0] < self.ttl:
            return hit[1]
        values = self.store.recent_durations(scorer, limit)
        self._seen[scorer] = (time.monotonic(), values)
        return values
