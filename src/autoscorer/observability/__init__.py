"""Logs and metrics: structured logging with request/job context, Prometheus metrics.

See ``docs/metrics.md`` for every metric and ``docs/deployment.md`` for set-up.
Names are loaded on first use, so an executor that only counts container starts
does not import the job store's SQL machinery (CLI start-up time).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

_WHERE = {
    "bind_context": "context",
    "current_context": "context",
    "JobStoreCollector": "jobstore",
    "JsonFormatter": "logs",
    "TextFormatter": "logs",
    "configure_logging": "logs",
    "build_registry": "metrics",
    "count_webhook_failure": "metrics",
    "multiprocess_enabled": "metrics",
    "observe_container_start": "metrics",
    "observe_http_request": "metrics",
    "render": "metrics",
    "start_worker_exporter": "metrics",
}

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


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
