"""What executors report about their sandboxes, for metrics and anything else that listens.

Every backend (docker, local, kubernetes) publishes the same two records to :data:`topic`:
:class:`SandboxStarted` once its sandbox runs, :class:`SandboxFinished` when the run's
outcome is known. Nothing here knows who listens: the metrics of
:mod:`autoscorer.observability` subscribe when a server or worker starts.
"""

from __future__ import annotations

from dataclasses import dataclass

from autoscorer.topics import Topic


@dataclass(frozen=True)
class SandboxStarted:
    """A sandbox runs; ``seconds`` is the start-up overhead the backend measured."""

    executor: str
    job_id: str
    seconds: float


@dataclass(frozen=True)
class SandboxFinished:
    """A run ended; ``result`` is ``ok`` or the error code of its outcome."""

    executor: str
    job_id: str
    result: str
    seconds: float


ExecutorEvent = SandboxStarted | SandboxFinished

topic: Topic[ExecutorEvent] = Topic("executor events")
