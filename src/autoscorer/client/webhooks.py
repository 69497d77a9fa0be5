"""Verify AutoScorer's signed webhooks in your receiver.

    from autoscorer_client import WebhookVerificationError, verify_webhook

    @app.post("/hooks/autoscorer")                      # FastAPI / Starlette
    async def hook(request: Request) -> Response:
        try:
            event = verify_webhook(await request.body(), request.headers, SECRET)
        except WebhookVerificationError as exc:
            return Response(str(exc), status_code=400)
        ...                                             # event["type"], event["job_id"], ...
        return Response(status_code=204)

Pass the **raw** body (before any JSON parsing) and the request's headers (any
mapping; names are matched case-insensitively). The signature is the server's
(``autoscorer.webhooks.sign``), restated here because the SDK imports nothing of the
server; tests/client/test_webhook_verify.py checks that the two agree.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from typing import Any

from autoscorer.client._errors import AutoScorerClientError

SIGNATURE_HEADER = "X-AutoScorer-Signature"
TIMESTAMP_HEADER = "X-AutoScorer-Timestamp"


class WebhookVerificationError(AutoScorerClientError):
    """A webhook failed verification; ``reason`` is one of ``missing_header``,
    ``bad_timestamp``, ``bad_signature``, ``stale_timestamp``, ``bad_body``."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


def verify_webhook(
    body: bytes | bytearray | memoryview | str,
    headers: Mapping[str, Any],
    secret: str,
    tolerance: float = 300,
    *,
    now: float | None = None,
) -> dict[str, Any]:
    """Check the signature (constant time) and the timestamp; return the parsed event.

    Raises :class:`WebhookVerificationError` when a header is missing, the signature
    does not match ``secret``, the timestamp is more than ``tolerance`` seconds from
    ``now`` (default: the current time) either way, or the body is not a JSON object.
    """
    if not secret:
        raise ValueError("verify_webhook: the webhook secret is empty")
    raw = body.encode() if isinstance(body, str) else bytes(body)
    signature = _header(headers, SIGNATURE_HEADER)
    ts = _timestamp(_header(headers, TIMESTAMP_HEADER))
    if not hmac.compare_digest(_sign(raw, secret, ts).encode(), signature.encode()):
        raise WebhookVerificationError(
            "webhook signature does not match (wrong secret, or the body was changed)",
            reason="bad_signature",
        )
    age = (time.time() if now is None else now) - ts
    if abs(age) > tolerance:
        raise WebhookVerificationError(
            f"webhook timestamp is {age:.0f} s away from now (tolerance {tolerance:g} s)",
            reason="stale_timestamp",
        )
    return _event(raw)


def _sign(body: bytes, secret: str, timestamp: int) -> str:
    """``sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">``, as the server signs."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def _header(headers: Mapping[str, Any], name: str) -> str:
    value = headers.get(name)
    if value is None:  # a plain dict: match the name case-insensitively
        wanted = name.lower()
        value = next((v for k, v in headers.items() if str(k).lower() == wanted), None)
    if isinstance(value, list | tuple):
        value = value[0] if value else None
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    if not value:
        raise WebhookVerificationError(f"webhook has no {name} header", reason="missing_header")
    return str(value)


def _timestamp(text: str) -> int:
    if not text.isascii() or not text.isdigit():
        raise WebhookVerificationError(
            f"webhook timestamp {text[:40]!r} is not Unix seconds", reason="bad_timestamp"
        )
    return int(text)


def _event(raw: bytes) -> dict[str, Any]:
    try:
        event = json.loads(raw)
    except ValueError as exc:
        raise WebhookVerificationError(
            f"webhook body is not JSON: {exc}", reason="bad_body"
        ) from exc
    if not isinstance(event, dict):
        raise WebhookVerificationError("webhook body is not a JSON object", reason="bad_body")
    return event
