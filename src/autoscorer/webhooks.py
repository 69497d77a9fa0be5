"""Signed webhooks on job state changes.

Each event is POSTed as JSON with two headers::

    X-AutoScorer-Timestamp: 1732790400
    X-AutoScorer-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<raw body>">

Deliveries run on a background thread with exponential backoff for a bounded
time, so a slow or dead receiver never slows or fails a job. Every attempt is
reported through ``on_attempt`` (the job service writes it to the job's logs).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import queue
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

from autoscorer.errors import InvalidParameter

SIGNATURE_HEADER = "X-AutoScorer-Signature"
TIMESTAMP_HEADER = "X-AutoScorer-Timestamp"
EVENT_HEADER = "X-AutoScorer-Event"


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
    """Reject a callback URL whose scheme is not http(s) or whose host is not allowed.

    ``allowed_hosts`` entries are host names, ``host:port``, or ``*`` (anything).
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidParameter(f"callback_url {url!r} must be an http(s) URL", field="callback_url")
    allowed = set(allowed_hosts)
    host = parts.hostname
    if "*" in allowed or host in allowed or f"{host}:{parts.port}" in allowed:
        return url
    raise InvalidParameter(
        f"callback_url host {host!r} is not in the webhook allow-list",
        field="callback_url",
        details={"allowed_hosts": sorted(allowed)},
    )


def make_event(event_type: str, job_id: str, status: str, score: float | None) -> dict[str, Any]:
    return {
        "event_id": f"evt_{uuid.uuid4().hex}",
        "type": event_type,
        "job_id": job_id,
        "status": status,
        "score": score,
        "timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
    }


@dataclass
class Delivery:
    url: str
    event: dict[str, Any]
    attempt: int = 0
    not_before: float = field(default_factory=time.monotonic)


# (job_id, event type, attempt, outcome text, delivered?)
AttemptFn = Callable[[str, str, int, str, bool], None]


class WebhookDispatcher:
    """Delivers events in the background with retries; never blocks the caller."""

    def __init__(
        self,
        secret: str,
        *,
        max_attempts: int = 5,
        base_delay: float = 0.5,
        max_delay: float = 30.0,
        timeout: float = 5.0,
        on_attempt: AttemptFn | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.secret = secret
        self.max_attempts = max_attempts
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.on_attempt = on_attempt
        self._client = httpx.Client(timeout=timeout, transport=transport)
        self._queue: queue.Queue[Delivery | None] = queue.Queue()
        self._pending: list[Delivery] = []
        self._thread = threading.Thread(target=self._loop, name="webhooks", daemon=True)
        self._thread.start()

    def send(self, url: str, event: dict[str, Any]) -> None:
        """Queue ``event`` for ``url``; returns at once."""
        self._queue.put(Delivery(url, event))

    def close(self, timeout: float = 5.0) -> None:
        self._queue.put(None)
        self._thread.join(timeout)
        if not self._thread.is_alive():  # else a delivery still holds the client
            self._client.close()

    def _loop(self) -> None:
        while True:
            try:
                item = self._queue.get(timeout=self._next_wait())
                if item is None:
                    return
                self._pending.append(item)
            except queue.Empty:
                pass
            self._run_due()

    def _next_wait(self) -> float | None:
        if not self._pending:
            return None
        return max(0.0, min(d.not_before for d in self._pending) - time.monotonic())

    def _run_due(self) -> None:
        now = time.monotonic()
        due = [d for d in self._pending if d.not_before <= now]
        self._pending = [d for d in self._pending if d.not_before > now]
        for delivery in due:
            if not self._attempt(delivery):
                self._reschedule(delivery)

    def _attempt(self, delivery: Delivery) -> bool:
        delivery.attempt += 1
        body = json.dumps(delivery.event, separators=(",", ":")).encode()
        ts = int(time.time())
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(body, self.secret, ts),
            TIMESTAMP_HEADER: str(ts),
            EVENT_HEADER: str(delivery.event.get("type")),
        }
        try:
            resp = self._client.post(delivery.url, content=body, headers=headers)
            ok, outcome = resp.is_success, f"HTTP {resp.status_code}"
        except httpx.HTTPError as exc:
            ok, outcome = False, f"{type(exc).__name__}: {exc}"
        self._report(delivery, outcome, ok)
        return ok

    def _reschedule(self, delivery: Delivery) -> None:
        if delivery.attempt >= self.max_attempts:
            self._report(delivery, "giving up", False)
            return
        delay = min(self.max_delay, self.base_delay * 2 ** (delivery.attempt - 1))
        delivery.not_before = time.monotonic() + delay * (0.5 + random.random() / 2)
        self._pending.append(delivery)

    def _report(self, delivery: Delivery, outcome: str, ok: bool) -> None:
        if self.on_attempt is not None:
            ev = delivery.event
            self.on_attempt(
                str(ev.get("job_id")), str(ev.get("type")), delivery.attempt, outcome, ok
            )
