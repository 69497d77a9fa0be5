"""When to retry a request and how long to wait: pure decisions, no I/O.

Rules:
- 429 is always retried (the server refused the request before doing anything),
  waiting what ``Retry-After`` says when it is given.
- 5xx answers and lost connections are retried only for idempotent calls, so a
  submit without a ``job_id`` or an ``Idempotency-Key`` is never sent twice.
- 409 CONFLICT with ``details.retry`` true (the first request with the same
  ``Idempotency-Key`` is still being processed) is retried with backoff: the
  repeat then gets the first request's answer.
- A refused connection (nothing was sent) is retried for every call.
- Otherwise the wait is exponential backoff with jitter: half the step is fixed,
  half random, so many clients that failed together do not retry together.
"""

from __future__ import annotations

import email.utils
import random
import time
from dataclasses import dataclass, field

import httpx

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass
class RetryPolicy:
    """How many times to retry and how long to wait between attempts (seconds)."""

    max_retries: int = 3
    backoff_base: float = 0.5
    backoff_max: float = 30.0
    max_retry_after: float = 120.0
    rng: random.Random = field(default_factory=random.Random, repr=False, compare=False)

    def backoff(self, attempt: int) -> float:
        """Wait before retry number ``attempt + 1``: exponential, capped, jittered."""
        step = min(self.backoff_max, self.backoff_base * (2**attempt))
        return step / 2 + self.rng.uniform(0, step / 2)

    def delay_for_status(
        self,
        attempt: int,
        status: int,
        idempotent: bool,
        retry_after: float | None,
        in_progress: bool = False,
    ) -> float | None:
        """Seconds to wait before retrying after ``status``, or None to give up.

        ``in_progress``: the answer is a 409 saying that the first request with this
        call's ``Idempotency-Key`` has not finished yet.
        """
        retryable = status in RETRY_STATUSES or (status == 409 and in_progress)
        if attempt >= self.max_retries or not retryable:
            return None
        if status != 429 and not idempotent:
            return None
        if retry_after is not None:
            return retry_after if retry_after <= self.max_retry_after else None
        return self.backoff(attempt)

    def delay_for_error(self, attempt: int, exc: Exception, idempotent: bool) -> float | None:
        """Seconds to wait before retrying after a transport error, or None to give up."""
        if attempt >= self.max_retries or not isinstance(exc, httpx.TransportError):
            return None
        never_sent = isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)
        if not (idempotent or never_sent):
            return None
        return self.backoff(attempt)


def as_policy(retries: RetryPolicy | int | None) -> RetryPolicy:
    if isinstance(retries, RetryPolicy):
        return retries
    return RetryPolicy(max_retries=0 if retries is None else retries)


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """``Retry-After`` in seconds: either a number or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))
