"""Webhook signature schemes (docs/webhooks.md).

``standard`` is Standard Webhooks (https://www.standardwebhooks.com): ``webhook-id``,
``webhook-timestamp`` and ``webhook-signature: v1,<base64 HMAC-SHA256 of
"{id}.{timestamp}.{body}">``, so receivers verify with stock libraries. ``autoscorer`` is
the older ``X-AutoScorer-Signature`` header (:func:`autoscorer.webhooks.sign`); ``both``
sends both sets of headers.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from typing import Literal

Scheme = Literal["standard", "autoscorer", "both"]
STANDARD: Scheme = "standard"
AUTOSCORER: Scheme = "autoscorer"
BOTH: Scheme = "both"

ID_HEADER = "webhook-id"
TIMESTAMP_HEADER = "webhook-timestamp"
SIGNATURE_HEADER = "webhook-signature"
SECRET_PREFIX = "whsec_"


def secret_key(secret: str) -> bytes:
    """The HMAC key of the Standard scheme: for ``whsec_<base64>`` the decoded bytes (what
    stock libraries use), for any other secret its UTF-8 bytes."""
    if not secret.startswith(SECRET_PREFIX):
        return secret.encode()
    try:  # decoded as the stock libraries do: padding added, other characters skipped
        key = base64.b64decode(secret[len(SECRET_PREFIX) :] + "==")
    except binascii.Error as exc:
        raise ValueError(f"a {SECRET_PREFIX} secret must be base64 after the prefix") from exc
    if not key:
        raise ValueError(f"a {SECRET_PREFIX} secret must hold key bytes after the prefix")
    return key


def sign_standard(msg_id: str, timestamp: int, body: bytes, secret: str) -> str:
    """``v1,<base64 HMAC-SHA256>`` of ``"{msg_id}.{timestamp}." + body``."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    mac = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def standard_headers(msg_id: str, timestamp: int, body: bytes, secret: str) -> dict[str, str]:
    return {
        ID_HEADER: msg_id,
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: sign_standard(msg_id, timestamp, body, secret),
    }
