"""Signed webhooks on job state changes (wire format and guarantees: docs/webhooks.md).

Each event is POSTed as JSON, signed with the Standard Webhooks headers
(:mod:`autoscorer.webhook_schemes`), with ``X-AutoScorer-Signature: sha256=<hex
HMAC-SHA256 of "<X-AutoScorer-Timestamp>.<raw body>">``, or with both
(:func:`signed_request`). This module holds what any sender needs: signing, the callback
URL allow-list, an :class:`Attempt` and its log line, and the :data:`failures` topic the
metrics count; the job outbox (``jobs/outbox_drain.py``) does the sending.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from autoscorer.errors import Forbidden, InvalidParameter
from autoscorer.topics import Topic
from autoscorer.webhook_schemes import AUTOSCORER, STANDARD, Scheme, standard_headers

SIGNATURE_HEADER = "X-AutoScorer-Signature"
TIMESTAMP_HEADER = "X-AutoScorer-Timestamp"
EVENT_HEADER = "X-AutoScorer-Event"

DELIVERED, RETRYING, GAVE_UP = "delivered", "retrying", "gave up"


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


def check_url(url: str, allowed_hosts: Iterable[str]) -> str:
    """Reject a callback URL whose scheme is not http(s) (400) or whose host is not allowed
    (403 :class:`Forbidden`).

    ``allowed_hosts`` entries are host names, ``host:port``, or ``*`` (anything).
    """
    try:
        parts = urlsplit(url)
    except ValueError as exc:  # "http://[::1": an unclosed IPv6 literal (found by fuzzing)
        raise InvalidParameter(f"callback_url is not a URL: {exc}", field="callback_url") from exc
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
    """What happened to one delivery attempt."""

    url: str
    event: Mapping[str, Any]
    attempt: int
    max_attempts: int
    outcome: str  # DELIVERED | RETRYING | GAVE_UP
    status_code: int | None = None
    error: str | None = None
    duration: float = 0.0
    retry_in: float | None = None

    @property
    def job_id(self) -> str:
        return str(self.event.get("job_id"))

    def describe(self) -> str:
        head = f"{self.event.get('type')} {self.event.get('event_id')} -> {redact_url(self.url)}"
        answer = f"HTTP {self.status_code}" if self.error is None else self.error
        tail = {DELIVERED: "delivered", GAVE_UP: "giving up"}.get(self.outcome)
        if tail is None:
            tail = f"retrying in {self.retry_in:.2f} s"
        n = f"{self.attempt}/{self.max_attempts}"
        return f"{head} attempt {n}: {answer} in {self.duration:.3f} s; {tail}"


def failure_reason(attempt: Attempt) -> str:
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
