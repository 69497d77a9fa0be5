"""Signed webhooks on job state changes (wire format and guarantees: docs/webhooks.md).

Each event is POSTed as JSON, signed with the Standard Webhooks headers
(:mod:`autoscorer.webhook_schemes`), with ``X-AutoScorer-Signature: sha256=<hex
HMAC-SHA256 of "<X-AutoScorer-Timestamp>.<raw body>">``, or with both. :class:`WebhookDispatcher`
delivers on background threads with bounded exponential backoff, in send order per
job and URL, and reports every attempt to ``on_attempt`` as an :class:`Attempt`.
"""

from __future__ import annotations

import bisect
import contextlib
import hashlib
import hmac
import itertools
import json
import logging
import queue
import random
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from autoscorer.errors import Forbidden, InvalidParameter
from autoscorer.topics import Topic
from autoscorer.webhook_schemes import AUTOSCORER, STANDARD, Scheme, standard_headers

SIGNATURE_HEADER = "X-AutoScorer-Signature"
TIMESTAMP_HEADER = "X-AutoScorer-Timestamp"
EVENT_HEADER = "X-AutoScorer-Event"

DELIVERED, RETRYING, GAVE_UP, DROPPED = "delivered", "retrying", "gave up", "dropped"

log = logging.getLogger("autoscorer.webhooks")


@dataclass(frozen=True)
class WebhookFailure:
    """One failed delivery attempt, or a callback refused before sending (for metrics).

    ``reason``: ``timeout``, ``connection``, ``http_4xx``, ``http_5xx``, ``refused_url``
    or ``gave_up``."""

    reason: str


failures: Topic[WebhookFailure] = Topic("webhook failures")


def sign(body: bytes, secret: str, timestamp: int) -> str:
    """``sha256=<hex>`` over ``b"<timestamp>." + body``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(
    body: bytes,
    secret: str,
    signature: str,
    timestamp: str | int,
    *,
    tolerance: float = 300.0,
    now: float | None = None,
) -> bool:
    """True when ``signature`` matches and ``timestamp`` is within ``tolerance`` seconds."""
    try:
        ts = int(timestamp)
    except (TypeError, ValueError):
        return False
    if abs((now if now is not None else time.time()) - ts) > tolerance:
        return False
    return hmac.compare_digest(sign(body, secret, ts), signature)


def check_url(url: str, allowed_hosts: Iterable[str]) -> str:
    """Reject a callback URL whose scheme is not http(s) (400) or whose host is not allowed
    (403 :class:`Forbidden`).

    ``allowed_hosts`` entries are host names, ``host:port``, or ``*`` (anything).
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidParameter(f"callback_url {url!r} must be an http(s) URL", field="callback_url")
    try:
        port = parts.port
    except ValueError as exc:  # "http://host:99999", "http://host:x"
        raise InvalidParameter(f"callback_url has a bad port: {exc}", field="callback_url") from exc
    allowed = set(allowed_hosts)
    host = parts.hostname
    if "*" in allowed or host in allowed or f"{host}:{port}" in allowed:
        return url
    raise Forbidden(  # a policy refusal, like a path outside the roots
        f"callback_url host {host!r} is not in the webhook allow-list",
        field="callback_url",
        details={"allowed_hosts": sorted(allowed)},
    )


def redact_url(url: str) -> str:
    """``url`` without user info and with its query hidden, for logs."""
    parts = urlsplit(url)
    netloc = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, netloc, parts.path, "..." if parts.query else "", ""))


@dataclass(frozen=True)
class Attempt:
    """What happened to one delivery attempt (or, for ``dropped``, to the delivery)."""

    url: str
    event: Mapping[str, Any]
    attempt: int
    max_attempts: int
    outcome: str  # DELIVERED | RETRYING | GAVE_UP | DROPPED
    status_code: int | None = None
    error: str | None = None
    duration: float = 0.0
    retry_in: float | None = None

    @property
    def job_id(self) -> str:
        return str(self.event.get("job_id"))

    def describe(self) -> str:
        head = f"{self.event.get('type')} {self.event.get('event_id')} -> {redact_url(self.url)}"
        if self.outcome == DROPPED:
            return f"{head}: not sent after {self.attempt} attempt(s); dispatcher closed"
        answer = f"HTTP {self.status_code}" if self.error is None else self.error
        tail = {DELIVERED: "delivered", GAVE_UP: "giving up"}.get(self.outcome)
        if tail is None:
            tail = f"retrying in {self.retry_in:.2f} s"
        n = f"{self.attempt}/{self.max_attempts}"
        return f"{head} attempt {n}: {answer} in {self.duration:.3f} s; {tail}"


AttemptFn = Callable[[Attempt], None]


_seq = itertools.count()


@dataclass
class Delivery:
    url: str
    event: dict[str, Any]
    attempt: int = 0
    not_before: float = field(default_factory=time.monotonic)
    seq: int = field(default_factory=lambda: next(_seq))  # send order

    @property
    def key(self) -> tuple[str, str]:
        return (self.url, str(self.event.get("job_id")))


@dataclass(frozen=True)
class _Result:
    delivery: Delivery
    status_code: int | None
    error: str | None
    duration: float


@dataclass(frozen=True)
class _Stop:
    deadline: float


class WebhookDispatcher:
    """Delivers events in the background with retries; never blocks the caller.

    One scheduler thread owns all state; ``workers`` threads do the HTTP posts,
    so a receiver that hangs holds one worker for at most ``timeout`` seconds.
    """

    def __init__(
        self,
        secret: str,
        *,
        max_attempts: int = 5,
        base_delay: float = 0.5,
        max_delay: float = 30.0,
        timeout: float = 5.0,
        workers: int = 4,
        on_attempt: AttemptFn | None = None,
        transport: httpx.BaseTransport | None = None,
        scheme: Scheme = STANDARD,
    ) -> None:
        self.secret, self.scheme = secret, scheme
        self.max_attempts = max_attempts
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.on_attempt = on_attempt
        self._client = httpx.Client(timeout=timeout, transport=transport)
        self._inbox: queue.Queue[Delivery | _Result | _Stop] = queue.Queue()
        self._work: queue.Queue[Delivery | None] = queue.Queue()
        self._pending: list[Delivery] = []  # in send order
        self._busy: set[tuple[str, str]] = set()  # (url, job_id) with a post in flight
        self._deadline: float | None = None
        self._closed = False
        self._threads = [threading.Thread(target=self._loop, name="webhooks", daemon=True)]
        self._threads += [
            threading.Thread(target=self._work_loop, name=f"webhooks-{i}", daemon=True)
            for i in range(workers)
        ]
        for thread in self._threads:
            thread.start()

    def send(self, url: str, event: dict[str, Any]) -> None:
        """Queue ``event`` for ``url``; returns at once. Ignored after :meth:`close`."""
        if not self._closed:
            self._inbox.put(Delivery(url, event))

    def close(self, timeout: float = 5.0) -> None:
        """Stop: posts in flight get up to ``timeout`` s; retries not yet due are dropped."""
        if self._closed:
            return
        self._closed = True
        deadline = time.monotonic() + timeout
        self._inbox.put(_Stop(deadline))
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()) + 0.1)
        if not any(t.is_alive() for t in self._threads):  # else a post still holds the client
            self._client.close()

    # -- scheduler thread ---------------------------------------------------------------

    def _loop(self) -> None:
        wait: float | None = None
        while self._deadline is None or (self._busy and time.monotonic() < self._deadline):
            with contextlib.suppress(queue.Empty):
                self._handle(self._inbox.get(timeout=wait))
            if self._deadline is None:
                wait = self._dispatch_due()
            else:
                wait = max(0.0, self._deadline - time.monotonic())
        for _ in self._threads[1:]:
            self._work.put(None)

    def _handle(self, msg: Delivery | _Result | _Stop) -> None:
        if isinstance(msg, Delivery):
            self._pending.append(msg)
        elif isinstance(msg, _Result):
            self._finish(msg)
        else:
            self._deadline = msg.deadline
            for delivery in self._pending:
                self._report(Attempt(delivery.url, delivery.event, delivery.attempt,
                                     self.max_attempts, DROPPED))  # fmt: skip
            self._pending.clear()

    def _dispatch_due(self) -> float | None:
        """Hand due deliveries to the workers; return seconds until the next one is due."""
        now, wait = time.monotonic(), None
        held = set(self._busy)
        for delivery in list(self._pending):
            if delivery.key in held:  # an earlier event of this job is still on its way
                continue
            held.add(delivery.key)
            if delivery.not_before <= now:
                self._pending.remove(delivery)
                self._busy.add(delivery.key)
                self._work.put(delivery)
            else:
                left = delivery.not_before - now
                wait = left if wait is None else min(wait, left)
        return wait

    def _finish(self, res: _Result) -> None:
        d = res.delivery
        self._busy.discard(d.key)
        ok = res.error is None and res.status_code is not None and 200 <= res.status_code < 300
        retry_in = None
        if ok:
            outcome = DELIVERED
        elif d.attempt >= self.max_attempts or self._deadline is not None:
            outcome = GAVE_UP
        else:
            outcome, retry_in = RETRYING, self._backoff(d.attempt)
            d.not_before = time.monotonic() + retry_in
            bisect.insort(self._pending, d, key=lambda x: x.seq)  # back before later events
        self._report(Attempt(d.url, d.event, d.attempt, self.max_attempts, outcome,
                             res.status_code, res.error, res.duration, retry_in))  # fmt: skip

    def _backoff(self, attempt: int) -> float:
        delay = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        return delay * (0.5 + random.random() / 2)

    def _report(self, attempt: Attempt) -> None:
        if attempt.outcome in (RETRYING, GAVE_UP):
            failures.publish(WebhookFailure(_reason(attempt)))
        try:
            if self.on_attempt is not None:
                self.on_attempt(attempt)
        except Exception:  # a reporting failure must not stop deliveries
            log.exception("webhook on_attempt callback failed")

    # -- worker threads -----------------------------------------------------------------

    def _work_loop(self) -> None:
        while (delivery := self._work.get()) is not None:
            self._inbox.put(self._post(delivery))

    def _post(self, delivery: Delivery) -> _Result:
        delivery.attempt += 1
        t0 = time.perf_counter()
        try:
            body, headers = signed_request(delivery.event, self.secret, self.scheme)
            # streamed so the answer's body is never read: only its status counts
            with self._client.stream("POST", delivery.url, content=body, headers=headers) as resp:
                code, error = resp.status_code, None
        except Exception as exc:  # any failure is this attempt's outcome, not the worker's end
            code, error = None, f"{type(exc).__name__}: {exc}"
        return _Result(delivery, code, error, time.perf_counter() - t0)


def _reason(attempt: Attempt) -> str:
    """A small, fixed set of label values for the failure counter."""
    if attempt.outcome == GAVE_UP:
        return "gave_up"
    code = attempt.status_code
    if code is None:
        return "timeout" if "Timeout" in (attempt.error or "") else "connection"
    return "http_5xx" if code >= 500 else "http_4xx" if code >= 400 else f"http_{code // 100}xx"


def signed_request(
    event: Mapping[str, Any], secret: str, scheme: Scheme = STANDARD
) -> tuple[bytes, dict[str, str]]:
    """The body and headers of one delivery attempt, signed now with ``scheme``."""
    body = json.dumps(event, separators=(",", ":")).encode()
    ts = int(time.time())
    headers = {"Content-Type": "application/json", EVENT_HEADER: str(event.get("type"))}
    if scheme != AUTOSCORER:
        headers.update(standard_headers(str(event.get("event_id")), ts, body, secret))
    if scheme != STANDARD:
        headers.update({SIGNATURE_HEADER: sign(body, secret, ts), TIMESTAMP_HEADER: str(ts)})
    return body, headers
