"""Job metrics read from the shared job store at scrape time.

Every API process, worker and machine writes its jobs to the same database,
so counting rows there gives one right answer however the work was spread.
A scrape runs two aggregate queries in one transaction: the counts grouped by
(status, scorer, error_code, queue), and every histogram bucket as a
``SUM(CASE WHEN x <= le THEN 1 ELSE 0 END)``, so no row leaves the database.

The ``*_total`` series count the rows in the store: they only go down if old
jobs are deleted, which Prometheus reads as a counter reset.
"""

from __future__ import annotations

import logging
import time
from collections import Counter as Tally
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
)
from prometheus_client.metrics_core import Metric
from prometheus_client.utils import floatToGoString
from sqlalchemy import Engine, SQLColumnExpression, case, extract, func, select

from autoscorer.jobs.db import read_engine
from autoscorer.jobs.models import JobRow
from autoscorer.jobs.records import WAITING, JobStatus

log = logging.getLogger("autoscorer.observability")

EngineSource = Engine | Callable[[], Engine | None]
DURATION_BUCKETS: tuple[float, ...] = (
    0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 7200.0,
)  # fmt: skip
UNKNOWN_SCORER = "unknown"
UNKNOWN_ERROR = "UNKNOWN"
DEFAULT_QUEUE = "default"


@dataclass(frozen=True)
class Series:
    """One histogram's source: a name for its SQL columns and the value expression."""

    key: str
    value: SQLColumnExpression[Any]


def queue_wait(dialect: str) -> SQLColumnExpression[Any] | None:
    """Seconds from ``created_at`` to ``started_at`` in this SQL dialect (None: unsupported)."""
    if dialect == "sqlite":
        days = func.julianday(JobRow.started_at) - func.julianday(JobRow.created_at)
        return func.round(days * 86400.0, 3)
    if dialect == "postgresql":
        return extract("epoch", JobRow.started_at - JobRow.created_at)
    return None


def histogram_series(dialect: str) -> dict[str, Series]:
    """Histogram name (``job`` or a stage) -> its value expression."""
    out = {
        "job": Series("job", JobRow.execution_time),
        "inference": Series("inference", JobRow.inference_time),
        "scoring": Series("scoring", JobRow.scoring_time),
    }
    wait = queue_wait(dialect)
    if wait is not None:
        out["queue_wait"] = Series("queue_wait", wait)
    return out


def _bucket_columns(series: Series) -> list[SQLColumnExpression[Any]]:
    value = series.value
    columns: list[SQLColumnExpression[Any]] = [
        func.sum(case((value <= le, 1), else_=0)).label(f"{series.key}_le_{i}")
        for i, le in enumerate(DURATION_BUCKETS)
    ]
    columns.append(func.count(value).label(f"{series.key}_count"))
    columns.append(func.sum(value).label(f"{series.key}_sum"))
    return columns


def _histogram_values(row: dict[str, Any], key: str) -> tuple[list[tuple[str, float]], float]:
    """Cumulative ``(le, count)`` buckets ending with ``+Inf``, and the sum."""
    buckets = [
        (floatToGoString(le), float(row[f"{key}_le_{i}"] or 0))
        for i, le in enumerate(DURATION_BUCKETS)
    ]
    buckets.append(("+Inf", float(row[f"{key}_count"] or 0)))
    return buckets, float(row[f"{key}_sum"] or 0.0)


@dataclass
class Snapshot:
    """What one scrape read: grouped counts and the histogram row."""

    groups: Sequence[tuple[str, str | None, str | None, str | None, int]]
    histograms: dict[str, Any]
    series: dict[str, Series]


def read_snapshot(engine: Engine) -> Snapshot:
    """Run the two aggregate queries in one transaction."""
    series = histogram_series(engine.dialect.name)
    grouped = select(
        JobRow.status, JobRow.scorer, JobRow.error_code, JobRow.queue, func.count()
    ).group_by(JobRow.status, JobRow.scorer, JobRow.error_code, JobRow.queue)
    columns = [col for s in series.values() for col in _bucket_columns(s)]
    with read_engine(engine).connect() as conn:  # a read transaction: no SQLite write lock
        groups = [tuple(r) for r in conn.execute(grouped).all()]
        hist = dict(conn.execute(select(*columns).select_from(JobRow)).one()._mapping)
    return Snapshot(groups, hist, series)  # type: ignore[arg-type]


def count_families(snap: Snapshot) -> list[Metric]:
    """The counters and gauges of job counts."""
    submitted, completed, failed = Tally[str](), Tally[str](), Tally[tuple[str, str]]()
    depth: Tally[str] = Tally({DEFAULT_QUEUE: 0})
    cancelled = running = 0
    for status, scorer_, error_code, queue, n in snap.groups:
        scorer, queue = scorer_ or UNKNOWN_SCORER, queue or DEFAULT_QUEUE
        submitted[scorer] += n
        depth[queue] += n if status in WAITING else 0
        completed[scorer] += n if status == JobStatus.COMPLETED else 0
        if status == JobStatus.FAILED:
            failed[(scorer, error_code or UNKNOWN_ERROR)] += n
        cancelled += n if status == JobStatus.CANCELLED else 0
        running += n if status == JobStatus.RUNNING else 0
    return [
        _labelled(CounterMetricFamily, "autoscorer_jobs_submitted",
                  "Jobs submitted (rows in the job store), by scorer.", ["scorer"], submitted),
        _labelled(CounterMetricFamily, "autoscorer_jobs_completed",
                  "Jobs that completed, by scorer.", ["scorer"], completed),
        _labelled(CounterMetricFamily, "autoscorer_jobs_failed",
                  "Jobs that failed, by scorer and error code.", ["scorer", "error_code"], failed),
        CounterMetricFamily("autoscorer_jobs_cancelled", "Jobs cancelled.", value=cancelled),
        _labelled(GaugeMetricFamily, "autoscorer_queue_depth",
                  "Jobs waiting to run (submitted or queued), by queue.", ["queue"], depth),
        GaugeMetricFamily("autoscorer_jobs_running", "Jobs running now.", value=running),
    ]  # fmt: skip


def _labelled(
    kind: Callable[..., Any], name: str, doc: str, labels: list[str], values: Tally[Any]
) -> Metric:
    family = kind(name, doc, labels=labels)
    for key in sorted(values):
        family.add_metric(list(key) if isinstance(key, tuple) else [key], values[key])
    metric: Metric = family
    return metric


def histogram_families(snap: Snapshot) -> list[Metric]:
    """Job duration and the per-stage durations."""
    job = HistogramMetricFamily(
        "autoscorer_job_duration_seconds", "Execution time of finished jobs (execution_time)."
    )
    buckets, total = _histogram_values(snap.histograms, "job")
    job.add_metric([], buckets, total)
    stages = HistogramMetricFamily(
        "autoscorer_job_stage_duration_seconds",
        "Time per stage: inference, scoring, queue_wait (created to started).",
        labels=["stage"],
    )
    for key in snap.series:
        if key != "job":
            buckets, total = _histogram_values(snap.histograms, key)
            stages.add_metric([key], buckets, total)
    return [job, stages]


class JobStoreCollector:
    """A prometheus-client collector over the job store's ``jobs`` table.

    ``engine`` is an SQLAlchemy Engine or a callable returning one (or None when
    the store is not available). A failed read is logged and reported as
    ``autoscorer_job_store_up 0``; it never fails the rest of the scrape.
    """

    def __init__(self, engine: EngineSource) -> None:
        self._engine = engine

    def _resolve(self) -> Engine | None:
        return self._engine if isinstance(self._engine, Engine) else self._engine()

    def describe(self) -> Iterable[Metric]:
        return []

    def collect(self) -> Iterable[Metric]:
        started = time.perf_counter()
        families: list[Metric] = []
        try:
            engine = self._resolve()
            if engine is not None:
                snap = read_snapshot(engine)
                families = count_families(snap) + histogram_families(snap)
        except Exception:  # a broken store must not take the process metrics down
            log.warning("reading job metrics from the job store failed", exc_info=True)
            families = []
        yield from families
        yield GaugeMetricFamily(
            "autoscorer_job_store_up", "1 when the job metrics were read.", value=bool(families)
        )
        yield GaugeMetricFamily(
            "autoscorer_job_store_scrape_duration_seconds",
            "Time spent reading the job metrics.",
            value=time.perf_counter() - started,
        )
