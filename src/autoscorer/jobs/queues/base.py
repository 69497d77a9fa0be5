"""The small interface every queue backend implements (style: dramatiq brokers)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from autoscorer.jobs.records import JobStatusView
from autoscorer.workspace.models import Meta

SCORE_QUEUE = "score"  # score-only jobs: short, never wait behind a sandbox run


def task_id(job_id: str, attempts: int) -> str:
    """One message id per delivery attempt, so a revoke names them all."""
    return f"{job_id}#{attempts}"


@dataclass(frozen=True, slots=True)
class Delivery:
    """What a queue carries for one job: its id, the routing key, and the attempt it is for.
    Built from the job record at the queue boundary; a worker gets the id only and reads
    the job from the store (its claim decides whether it runs)."""

    job_id: str
    queue: str
    attempts: int = 0

    @classmethod
    def of(cls, job: JobStatusView, default_queue: str) -> Delivery:
        return cls(job.job_id, job.queue or default_queue, job.attempts)

    @property
    def task_id(self) -> str:
        return task_id(self.job_id, self.attempts)


def queue_name(meta: Meta | None, executor: str, config: dict[str, Any]) -> str:
    """Routing key: ``config.queue`` if given, ``score`` for score-only jobs, else the
    executor's name, so a big container job never blocks a small scoring one."""
    if config.get("queue"):
        return str(config["queue"])
    if meta is not None and meta.container is None:
        return SCORE_QUEUE
    return executor


class JobQueue:
    """Carries job ids from the service to whatever runs them."""

    name: str = "base"

    def start(self) -> None:
        """Begin consuming (for backends that run jobs in this process)."""

    def enqueue(self, job: JobStatusView) -> None:
        """Deliver the job to a worker on its queue (see :class:`Delivery`)."""
        raise NotImplementedError

    def cancel(self, job_id: str, reason: str) -> None:
        """Best effort: drop an undelivered message, stop a run in this process.

        Correctness does not depend on it: a cancelled job is never claimed, and a
        running one sees the cancel on its next heartbeat."""

    def close(self) -> None:
        """Stop consuming and release connections."""

    def info(self) -> dict[str, Any]:
        return {"backend": self.name}
