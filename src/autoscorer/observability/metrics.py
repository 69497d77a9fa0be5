"""Process-local metrics, the registry ``/metrics`` serves, and the worker exporter.

Metrics that only the process doing the work can see (HTTP latency, webhook
delivery failures, sandbox starts and runs) are prometheus-client metrics of
this module; :mod:`.feeds` records the executors' and webhooks' events here. With
``PROMETHEUS_MULTIPROC_DIR`` set in the environment *before the process starts*,
prometheus-client keeps their values in files in that directory, one per process,
and :func:`build_registry` sums them; this is how several uvicorn/gunicorn workers
or a Celery pool report one set of numbers.

Job metrics come from the shared job store instead (:mod:`.jobstore`), so
they are right whichever process or machine ran the jobs.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING
from wsgiref.simple_server import WSGIServer

from prometheus_client import (
    CONTENT_TYPE_PLAIN_0_0_4,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
    start_http_server,
)
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from autoscorer.observability.jobstore import EngineSource

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
CONTAINER_START_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
_LABEL_SAFE = re.compile(r"[^a-zA-Z0-9_.:-]+")

HTTP_REQUEST_DURATION = Histogram(
    "autoscorer_http_request_duration_seconds",
    "Time from a request's arrival to its response headers, by route template.",
    ["method", "route", "status"],
    buckets=HTTP_BUCKETS,
)
WEBHOOK_FAILURES = Counter(
    "autoscorer_webhook_delivery_failures",
    "Failed webhook delivery attempts, by reason.",
    ["reason"],
)
CONTAINER_START = Histogram(
    "autoscorer_container_start_seconds",
    "Overhead from asking the executor to start a sandbox until it runs.",
    ["executor"],
    buckets=CONTAINER_START_BUCKETS,
)
SANDBOX_RUNS = Counter(
    "autoscorer_sandbox_runs",
    "Sandboxed runs that ended, by executor and result (ok or the error code).",
    ["executor", "result"],
)


def multiprocess_enabled() -> bool:
    """Is prometheus-client in multiprocess mode (``PROMETHEUS_MULTIPROC_DIR`` set)?"""
    return bool(os.environ.get(MULTIPROC_ENV) or os.environ.get(MULTIPROC_ENV.lower()))


def _label(value: str, default: str) -> str:
    """A bounded, printable label value."""
    cleaned = _LABEL_SAFE.sub("_", value.strip())[:64]
    return cleaned or default


def observe_http_request(method: str, route: str, status: int, seconds: float) -> None:
    """Record one HTTP request; ``route`` must be the route template, not the raw path."""
    HTTP_REQUEST_DURATION.labels(method.upper(), route, str(status)).observe(max(seconds, 0.0))


def count_webhook_failure(reason: str) -> None:
    """Count one failed webhook delivery attempt.

    ``reason`` should come from a small fixed set (``timeout``, ``connection``,
    ``http_4xx``, ``http_5xx``, ``refused_url``, ``gave_up``): it is a label.
    """
    WEBHOOK_FAILURES.labels(_label(reason, "unknown")).inc()


def observe_container_start(seconds: float, executor: str = "docker") -> None:
    """Record how long a sandbox took to start (create + start, or Job to pod running)."""
    CONTAINER_START.labels(_label(executor, "unknown")).observe(max(seconds, 0.0))


def count_sandbox_run(executor: str, result: str) -> None:
    """Count one sandboxed run that ended (``result``: ``ok`` or an error code)."""
    SANDBOX_RUNS.labels(_label(executor, "unknown"), _label(result, "unknown")).inc()


class _RegistryView:
    """Exposes another registry's metrics through a registry of our own."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._registry = registry

    def collect(self) -> Iterable[Metric]:
        return self._registry.collect()

    def describe(self) -> Iterable[Metric]:
        return []


def _local_collector() -> Collector:
    """This process's metrics, or every process's when in multiprocess mode."""
    if multiprocess_enabled():
        merged = CollectorRegistry()
        multiprocess.MultiProcessCollector(merged)
        return _RegistryView(merged)
    return _RegistryView(REGISTRY)


def build_registry(engine: EngineSource | None = None) -> CollectorRegistry:
    """A registry with the process-local metrics and, given an engine (or a callable
    returning one), the job metrics read from the job store at each collection.

    Build one per scrape or keep it; never register :class:`JobStoreCollector`
    in the global ``REGISTRY`` as well, or job metrics would appear twice.
    """
    from autoscorer.observability.jobstore import JobStoreCollector  # needs SQLAlchemy

    registry = CollectorRegistry(auto_describe=False)
    registry.register(_local_collector())
    if engine is not None:
        registry.register(JobStoreCollector(engine))
    return registry


def render(registry: CollectorRegistry) -> tuple[bytes, str]:
    """The registry in the Prometheus text format (0.0.4) and its content type."""
    return generate_latest(registry), CONTENT_TYPE


def start_worker_exporter(port: int, addr: str = "0.0.0.0") -> tuple[WSGIServer, threading.Thread]:
    """Serve this worker's process-local metrics (no job metrics) on ``addr:port``.

    For Celery workers and other processes without the API. With a prefork pool,
    set ``PROMETHEUS_MULTIPROC_DIR`` so the children's numbers are included.
    Returns the server and its daemon thread (``server.shutdown()`` stops it).
    """
    return start_http_server(port, addr, registry=build_registry(None))
