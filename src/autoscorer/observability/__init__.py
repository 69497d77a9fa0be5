"""Logs and metrics: structured logging with request/job context, Prometheus metrics.

See ``docs/metrics.md`` for every metric and ``docs/deployment.md`` for set-up.
This package sits above the job system: it reads the job store and subscribes to the
events of the executors and webhooks (:func:`install_metrics`); nothing below imports
it. The log context it prints is bound through :mod:`autoscorer.logcontext`. Names are
loaded on first use, so the CLI does not import the job store's SQL machinery.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from autoscorer.observability.feeds import install_metrics
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
    "install_metrics": "feeds",
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
    "build_registry",
    "configure_logging",
    "count_webhook_failure",
    "install_metrics",
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
