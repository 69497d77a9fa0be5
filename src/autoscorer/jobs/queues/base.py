"""The small interface every queue backend implements (style: dramatiq brokers)."""

from __future__ import annotations

from typing import Any

from autoscorer.workspace.models import Meta

SCORE_QUEUE = "score"  # score-only jobs: short, never wait behind a sandbox run


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

    def enqueue(self, job: dict[str, Any]) -> None:
        """Deliver ``job['job_id']`` to a worker on ``job['queue']``."""
        raise NotImplementedError

    def cancel(self, job_id: str, reason: str) -> None:
        """Best effort: drop an undelivered message, stop a run in this process.

        Correctness does not depend on it: a cancelled job is never claimed, and a
        running one sees the cancel on its next heartbeat."""

    def close(self) -> None:
        """Stop consuming and release connections."""

    def info(self) -> dict[str, Any]:
        return {"backend": self.name}
