"""The response envelope: ``success``, ``data``, ``meta``, ``errors``.

Every answer of the API, success or failure, has this shape. ``meta.request_id``
is the client's ``X-Request-ID`` when it sent a usable one, else a new id; the
same id is returned in the ``X-Request-ID`` header.
"""

from __future__ import annotations

import json
import re
import secrets
from datetime import UTC, datetime
from typing import Any

from starlette.requests import HTTPConnection
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

API_VERSION = "v1"
REQUEST_ID_HEADER = "X-Request-ID"
_HEADER_KEY = REQUEST_ID_HEADER.lower().encode()
# Echoing a header back must never allow header injection or unbounded size.
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


def utc_now() -> str:
    """An ISO 8601 UTC timestamp with a ``Z`` suffix, as the contract shows."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def new_request_id() -> str:
    return "req_" + secrets.token_hex(8)


def pick_request_id(sent: str | None) -> str:
    """The client's id when it is safe to echo, else a new one."""
    return sent if sent and _SAFE_ID.match(sent) else new_request_id()


def request_id_of(conn: HTTPConnection) -> str:
    """The id the middleware attached to this request (a new one if it did not run)."""
    rid = conn.scope.get("state", {}).get("request_id")
    return rid if isinstance(rid, str) else new_request_id()


def meta(request_id: str) -> dict[str, str]:
    return {"timestamp": utc_now(), "request_id": request_id, "api_version": API_VERSION}


def dumps(payload: Any) -> bytes:
    text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), default=str)
    # A lone surrogate (from a file name, say) cannot be UTF-8: it becomes "?", never a 500.
    return text.encode("utf-8", "replace")


class EnvelopeResponse(Response):
    """A JSON response carrying the request id header."""

    media_type = "application/json"

    def __init__(
        self,
        payload: dict[str, Any],
        *,
        status_code: int = 200,
        headers: dict[str, str] | None = None,
    ) -> None:
        merged = {REQUEST_ID_HEADER: payload["meta"]["request_id"], **(headers or {})}
        super().__init__(dumps(payload), status_code=status_code, headers=merged)


def ok(
    conn: HTTPConnection,
    data: Any,
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> EnvelopeResponse:
    """A success envelope around ``data``."""
    payload = {"success": True, "data": data, "meta": meta(request_id_of(conn))}
    return EnvelopeResponse(payload, status_code=status_code, headers=headers)


def failure(
    request_id: str,
    errors: list[dict[str, Any]],
    *,
    status_code: int,
    headers: dict[str, str] | None = None,
) -> EnvelopeResponse:
    """An error envelope: ``success`` false, ``data`` null, the error objects."""
    payload = {"success": False, "data": None, "meta": meta(request_id), "errors": errors}
    return EnvelopeResponse(payload, status_code=status_code, headers=headers)


class RequestIdMiddleware:
    """Pure ASGI: pick the request id and add it to every response's headers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        sent = next((v for k, v in scope["headers"] if k == _HEADER_KEY), None)
        rid = pick_request_id(sent.decode("latin-1") if sent else None)
        scope.setdefault("state", {})["request_id"] = rid
        header = (_HEADER_KEY, rid.encode())

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [h for h in message.get("headers", []) if h[0].lower() != _HEADER_KEY]
                message["headers"] = [*headers, header]
            await send(message)

        await self.app(scope, receive, send_with_id)
