"""Health and status answers, built from plain inputs."""

from __future__ import annotations

import shutil
from datetime import timedelta
from typing import Any

import psutil

from autoscorer import __version__
from autoscorer.api.envelope import utc_now
from autoscorer.jobs.records import ACTIVE, STATES, JobStatus
from autoscorer.workspace.models import format_bytes

ACTIVE_STATES = tuple(s for s in STATES if s in ACTIVE)  # in the contract's order


def uptime(seconds: float) -> str:
    """``"2 days, 14:30:25"`` (Python's timedelta text, whole seconds)."""
    return str(timedelta(seconds=int(max(0.0, seconds))))


def overall(components: dict[str, str]) -> str:
    """unhealthy when the job store is down; degraded when any configured part is."""
    if components.get("database") != "healthy":
        return "unhealthy"
    bad = [v for v in components.values() if v not in ("healthy", "unavailable", "disabled")]
    return "degraded" if bad else "healthy"


def health(components: dict[str, str], up_seconds: float) -> dict[str, Any]:
    return {
        "status": overall(components),
        "timestamp": utc_now(),
        "version": __version__,
        "uptime": uptime(up_seconds),
        "components": components,
    }


def job_metrics(counts: dict[str, int]) -> dict[str, Any]:
    """Totals from per-state counts; success rate = completed / finished (null if none)."""
    completed, failed = counts.get(JobStatus.COMPLETED, 0), counts.get(JobStatus.FAILED, 0)
    finished = completed + failed
    return {
        "total_jobs": sum(counts.values()),
        "active_jobs": sum(counts.get(s, 0) for s in ACTIVE_STATES),
        "completed_jobs": completed,
        "failed_jobs": failed,
        "cancelled_jobs": counts.get(JobStatus.CANCELLED, 0),
        "success_rate": round(completed / finished, 6) if finished else None,
    }


def host_resources(disk_path: str) -> dict[str, float]:
    """Fractions in 0..1 of CPU (since the last call), memory and the store's disk."""
    disk = shutil.disk_usage(disk_path)
    return {
        "cpu_usage": round(psutil.cpu_percent(interval=None) / 100.0, 4),
        "memory_usage": round(psutil.virtual_memory().percent / 100.0, 4),
        "disk_usage": round(disk.used / disk.total, 4) if disk.total else 0.0,
    }


def executor_capacity() -> dict[str, Any]:
    """What a local or Docker sandbox can use on this host."""
    return {
        "available_cores": psutil.cpu_count() or 1,
        "available_memory": format_bytes(psutil.virtual_memory().available),
    }


def status(
    *,
    environment: str,
    up_seconds: float,
    counts: dict[str, int],
    executors: dict[str, dict[str, Any]],
    disk_path: str,
) -> dict[str, Any]:
    return {
        "system": {
            "version": __version__,
            "uptime": uptime(up_seconds),
            "environment": environment,
        },
        "metrics": job_metrics(counts),
        "resources": host_resources(disk_path),
        "executors": executors,
    }
