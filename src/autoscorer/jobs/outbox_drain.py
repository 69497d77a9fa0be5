"""Drains the webhook outbox: claims due rows, posts them signed, settles every attempt.

Every process that installs the job hooks runs one :class:`Drainer` (the API, each
``autoscorer worker`` and its pool processes): whichever is alive delivers what any of
them recorded. A drainer holds at most ``workers`` rows at once, one per sender thread,
so a receiver that hangs holds one thread for at most the request time-out.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx

from autoscorer.jobs.joblogs import Entry
from autoscorer.jobs.outbox import DELIVERED, FAILED, Delivery, Outbox, Settled
from autoscorer.jobs.outbox_notify import COMPONENT
from autoscorer.webhook_schemes import STANDARD, Scheme
from autoscorer.webhooks import (
    GAVE_UP,
    RETRYING,
    Attempt,
    WebhookFailure,
    failure_reason,
    failures,
    signed_request,
)

log = logging.getLogger("autoscorer.webhooks")
OUTCOMES = {DELIVERED: DELIVERED, FAILED: GAVE_UP}  # else RETRYING
LEVELS = {DELIVERED: "INFO", RETRYING: "WARNING", GAVE_UP: "ERROR"}


@dataclass(frozen=True)
class Answer:
    """What the receiver did with one attempt."""

    status_code: int | None
    error: str | None
    duration: float

    @property
    def ok(self) -> bool:
        code = self.status_code
        return self.error is None and code is not None and 200 <= code < 300

    @property
    def failure(self) -> str | None:
        return None if self.ok else self.error or f"HTTP {self.status_code}"


def drainer_id() -> str:
    return f"outbox@{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class Drainer:
    """Delivers the outbox's due rows in the background until :meth:`close`."""

    def __init__(
        self,
        outbox: Outbox,
        secret: str,
        *,
        scheme: Scheme = STANDARD,
        workers: int = 4,
        timeout: float = 5.0,
        poll: float = 1.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.outbox, self.secret, self.scheme = outbox, secret, scheme
        self.workers, self.poll, self.owner = workers, poll, drainer_id()
        # redirects are not followed: one could lead past the allow-list
        self._client = httpx.Client(timeout=timeout, transport=transport)
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="webhooks")
        self._busy = 0
        self._idle = threading.Condition()
        self._wake = threading.Event()
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="outbox", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        """Look for due rows now (a row was just recorded or settled)."""
        self._wake.set()

    def close(self, timeout: float = 5.0) -> None:
        """Stop claiming; posts in flight get up to ``timeout`` s. A row still in flight
        then keeps its lease, and another process takes it once the lease runs out."""
        deadline = time.monotonic() + timeout
        self._closed.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        self._pool.shutdown(wait=False)
        with self._idle:
            self._idle.wait_for(lambda: self._busy == 0, max(0.0, deadline - time.monotonic()))
            if self._busy == 0:  # else a post still holds the client
                self._client.close()

    def _loop(self) -> None:
        while not self._closed.is_set():
            self._wake.clear()
            self._fill()
            self._wake.wait(self.poll)

    def _fill(self) -> None:
        with self._idle:
            free = self.workers - self._busy
        if free <= 0:
            return
        try:
            claimed = self.outbox.claim(self.owner, free)
        except Exception:  # the store is briefly unreachable: look again on the next poll
            log.warning("claiming webhook deliveries failed", exc_info=True)
            return
        for delivery in claimed:
            with self._idle:
                self._busy += 1
            self._pool.submit(self._deliver, delivery)

    def _deliver(self, d: Delivery) -> None:
        try:
            answer = self._post(d)
            settled = self.outbox.settle(
                d, self.owner, answer.ok, answer.failure, lambda s: self._line(d, s, answer)
            )
            if settled.state != DELIVERED:
                failures.publish(WebhookFailure(failure_reason(self._attempt(d, settled, answer))))
        except Exception:  # the store is unreachable: the lease runs out, the row is retried
            log.exception("settling webhook %s of job %s failed", d.event_id, d.job_id)
        finally:
            with self._idle:
                self._busy -= 1
                self._idle.notify_all()
            self._wake.set()

    def _post(self, d: Delivery) -> Answer:
        t0 = time.perf_counter()
        try:
            body, headers = signed_request(d.event, self.secret, self.scheme)
            # streamed so the answer's body is never read: only its status counts
            with self._client.stream("POST", d.url, content=body, headers=headers) as resp:
                code, error = resp.status_code, None
        except Exception as exc:  # any failure is this attempt's outcome
            code, error = None, f"{type(exc).__name__}: {exc}"
        return Answer(code, error, time.perf_counter() - t0)

    def _attempt(self, d: Delivery, s: Settled, answer: Answer) -> Attempt:
        outcome = OUTCOMES.get(s.state, RETRYING)
        return Attempt(d.url, d.event, s.attempt, self.outbox.max_attempts, outcome,
                       answer.status_code, answer.error, answer.duration, s.retry_in)  # fmt: skip

    def _line(self, d: Delivery, s: Settled, answer: Answer) -> Entry:
        attempt = self._attempt(d, s, answer)
        return (LEVELS[attempt.outcome], COMPONENT, attempt.describe())
