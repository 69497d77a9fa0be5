"""The default queue: a bounded pool of threads inside the API or CLI process.

One pool per routing key, so a long container run never holds up a score-only
job. Jobs that cannot be claimed yet (their batch is at ``max_parallel``, or a
duplicate delivery while another worker holds them) are parked and retried.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from autoscorer.jobs.queues.base import Delivery, JobQueue
from autoscorer.jobs.records import JobStatusView
from autoscorer.jobs.runner import JobRunner, Outcome

log = logging.getLogger("autoscorer.jobs.inprocess")
PARK_RETRY = 0.5  # seconds between retries of parked jobs


class InProcessQueue(JobQueue):
    name = "inprocess"

    def __init__(self, runner: JobRunner, concurrency: int = 2) -> None:
        self.runner, self.concurrency = runner, concurrency
        self._pools: dict[str, ThreadPoolExecutor] = {}
        self._parked: deque[Delivery] = deque()
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._ticker = threading.Thread(target=self._tick, name="inprocess-park", daemon=True)

    def start(self) -> None:
        if not self._ticker.is_alive():
            self._ticker.start()

    def enqueue(self, job: JobStatusView) -> None:
        self._submit(Delivery.of(job, "default"))

    def cancel(self, job_id: str, reason: str) -> None:
        self.runner.cancel_local(job_id, reason)

    def close(self) -> None:
        """Stop at once: queued work stays queued in the store, running jobs are stopped
        and handed back to ``queued``; the next start runs them again."""
        self._closed.set()
        self.runner.stop()
        with self._lock:
            pools = list(self._pools.values())
        for pool in pools:
            pool.shutdown(wait=True, cancel_futures=True)

    def info(self) -> dict[str, Any]:
        return {"backend": self.name, "concurrency": self.concurrency, "lanes": list(self._pools)}

    def _submit(self, sent: Delivery) -> None:
        if self._closed.is_set():
            return  # still queued in the store: the next start picks it up
        lane = sent.queue
        with self._lock:
            pool = self._pools.get(lane)
            if pool is None:
                pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix=f"job-{lane}")
                self._pools[lane] = pool
        with contextlib.suppress(RuntimeError):  # shut down between the check and here
            pool.submit(self._run, sent)

    def _run(self, sent: Delivery) -> None:
        try:
            outcome = self.runner.run(sent.job_id)
        except Exception:  # a store outage: the reaper or a restart picks it up again
            log.exception("running job %s failed", sent.job_id)
            return
        if outcome is Outcome.BUSY:
            with self._lock:
                self._parked.append(sent)
        elif outcome is Outcome.DONE:
            self._unpark(self.concurrency)

    def _unpark(self, n: int) -> None:
        with self._lock:
            batch = [self._parked.popleft() for _ in range(min(n, len(self._parked)))]
        for sent in batch:
            self._submit(sent)

    def _tick(self) -> None:
        while not self._closed.wait(PARK_RETRY):
            self._unpark(self.concurrency)
