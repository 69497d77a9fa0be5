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
mapping; names are matched case-insensitively). Both signature schemes the server
sends are understood: Standard Webhooks (``webhook-id``, ``webhook-timestamp``,
``webhook-signature``; preferred when present) and ``X-AutoScorer-Signature``. This
module imports nothing from the server side.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from typing import Any

from autoscorer.client._errors import AutoScorerClientError

STANDARD_ID = "webhook-id"
STANDARD_TIMESTAMP = "webhook-timestamp"
STANDARD_SIGNATURE = "webhook-signature"
LEGACY_SIGNATURE = "X-AutoScorer-Signature"
LEGACY_TIMESTAMP = "X-AutoScorer-Timestamp"
SECRET_PREFIX = "whsec_"


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
    ``secret`` is the server's ``webhook_secret`` as configured (``whsec_<base64>`` or
    any other string).
    """
    if not secret:
        raise ValueError("verify_webhook: the webhook secret is empty")
    raw = body.encode() if isinstance(body, str) else bytes(body)
    if _find(headers, STANDARD_SIGNATURE) is not None or _find(headers, LEGACY_SIGNATURE) is None:
        ts, matches = _standard(raw, headers, secret)
    else:
        ts, matches = _legacy(raw, headers, secret)
    if not matches:
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


def _standard(raw: bytes, headers: Mapping[str, Any], secret: str) -> tuple[int, bool]:
    """Standard Webhooks: any ``v1,<base64>`` entry of the signature header may match."""
    signatures = _header(headers, STANDARD_SIGNATURE)
    msg_id = _header(headers, STANDARD_ID)
    ts = _timestamp(_header(headers, STANDARD_TIMESTAMP))
    mac = hmac.new(_key(secret), f"{msg_id}.{ts}.".encode() + raw, hashlib.sha256).digest()
    expected = ("v1," + base64.b64encode(mac).decode()).encode()
    found = [hmac.compare_digest(expected, s.encode()) for s in signatures.split(" ")]
    return ts, any(found)


def _legacy(raw: bytes, headers: Mapping[str, Any], secret: str) -> tuple[int, bool]:
    """``X-AutoScorer-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>." + body>``."""
    signature = _header(headers, LEGACY_SIGNATURE)
    ts = _timestamp(_header(headers, LEGACY_TIMESTAMP))
    mac = hmac.new(secret.encode(), f"{ts}.".encode() + raw, hashlib.sha256).hexdigest()
    return ts, hmac.compare_digest(f"sha256={mac}".encode(), signature.encode())


def _key(secret: str) -> bytes:
    """``whsec_<base64>``: the decoded bytes (as stock libraries do); else the UTF-8 bytes."""
    if not secret.startswith(SECRET_PREFIX):
        return secret.encode()
    try:  # as the stock libraries decode it: padding added, other characters skipped
        key = base64.b64decode(secret[len(SECRET_PREFIX) :] + "==")
    except binascii.Error as exc:
        raise ValueError(f"verify_webhook: a {SECRET_PREFIX} secret must be base64") from exc
    if not key:
        raise ValueError(f"verify_webhook: a {SECRET_PREFIX} secret must hold key bytes")
    return key


def _find(headers: Mapping[str, Any], name: str) -> Any:
    value = headers.get(name)
    if value is None:  # a plain dict: match the name case-insensitively
        wanted = name.lower()
        value = next((v for k, v in headers.items() if str(k).lower() == wanted), None)
    if isinstance(value, list | tuple):
        value = value[0] if value else None
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    return value or None


def _header(headers: Mapping[str, Any], name: str) -> str:
    value = _find(headers, name)
    if value is None:
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
