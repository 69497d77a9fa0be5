"""Queue backends: ``inprocess`` (default) and ``celery``."""

from __future__ import annotations

from autoscorer.jobs.queues.base import JobQueue, queue_name
from autoscorer.jobs.queues.inprocess import InProcessQueue

__all__ = ["InProcessQueue", "JobQueue", "queue_name"]
