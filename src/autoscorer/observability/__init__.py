"""Logs and metrics: structured logging with request/job context, Prometheus metrics.

See ``docs/metrics.md`` for every metric and ``docs/deployment.md`` for set-up.
"""

from __future__ import annotations

from autoscorer.observability.context import bind_context, current_context
from autoscorer.observability.jobstore import JobStoreCollector
from autoscorer.observability.logs import JsonFormatter, TextFormatter, configure_logging
from autoscorer.observability.metrics import (
    build_registry,
    count_webhook_failure,
    multiprocess_enabled,
    observe_container_start,
    observe_http_request,
    render,
    start_worker_exporter,
)

__all__ = [
    "JobStoreCollector",
    "JsonFormatter",
    "TextFormatter",
    "bind_context",
    "build_registry",
    "configure_logging",
    "count_webhook_failure",
    "current_context",
    "multiprocess_enabled",
    "observe_container_start",
    "observe_http_request",
    "render",
    "start_worker_exporter",
]
