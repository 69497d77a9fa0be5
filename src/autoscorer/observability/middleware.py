"""ASGI middleware: bind the request id for logging and time every request.

It must run inside :class:`~autoscorer.api.envelope.RequestIdMiddleware` (which
picks the id) so that the id is in ``scope["state"]``. The latency is the time
until the response headers are sent, so a long stream (logs ``follow``, SSE)
does not count as a slow request; it is labelled with the route *template*
(``/api/v1/jobs/{job_id}/status``), ``unmatched`` when no route matched.
"""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from autoscorer.logcontext import bind_context
from autoscorer.observability.metrics import observe_http_request

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "unmatched"


def route_template(scope: Scope) -> str:
    """The matched route's path template (with its router prefix), else ``unmatched``."""
    route = scope.get("route")
    path = getattr(route, "path_format", None) or getattr(route, "path", None)
    return path if isinstance(path, str) and path else UNMATCHED


class ObservabilityMiddleware:
    """Pure ASGI: request id into the log context; a latency observation per request."""

    def __init__(self, app: ASGIApp, *, record_metrics: bool = True) -> None:
        self.app = app
        self.record_metrics = record_metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status: list[int] = []

        async def timed_send(message: Message) -> None:
            if message["type"] == "http.response.start" and not status:
                status.append(int(message["status"]))
                self._observe(scope, status[0], time.perf_counter() - started)
            await send(message)

        with bind_context(request_id=scope.get("state", {}).get("request_id")):
            try:
                await self.app(scope, receive, timed_send)
            except Exception:
                if not status:  # the error middleware outside answers 500
                    self._observe(scope, 500, time.perf_counter() - started)
                raise

    def _observe(self, scope: Scope, status: int, seconds: float) -> None:
        if self.record_metrics:
            method = scope["method"] if scope["method"] in METHODS else "OTHER"
            observe_http_request(method, route_template(scope), status, seconds)
