"""Run a submit under an ``Idempotency-Key`` (see :mod:`autoscorer.jobs.idempotency`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel
from starlette.responses import Response

from autoscorer.api.envelope import ok
from autoscorer.api.ops.jobs import JobServicePort
from autoscorer.errors import InvalidParameter
from autoscorer.jobs.idempotency import fingerprint

HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"
MAX_KEY = 255


def _key(request: Request) -> str | None:
    key = request.headers.get(HEADER)
    if key is None:
        return None
    key = key.strip()
    if not key or len(key) > MAX_KEY:
        raise InvalidParameter(f"{HEADER} must be 1..{MAX_KEY} characters", field=HEADER)
    return key


async def idempotent(
    request: Request,
    service: JobServicePort,
    scope: str,
    body: BaseModel,
    run: Callable[[], Awaitable[tuple[int, dict[str, Any]]]],
) -> Response:
    """``run()`` once per key and body; a repeat replays its answer, another body is 409."""
    key = _key(request)
    if key is None:
        status, data = await run()
        return ok(request, data, status_code=status)
    digest = fingerprint(body.model_dump(mode="json", by_alias=True))
    replay = await run_in_threadpool(service.idempotency_reserve, scope, key, digest)
    if replay is not None:
        response = ok(request, replay[1], status_code=replay[0])
        response.headers[REPLAYED] = "true"
        return response
    try:
        status, data = await run()
    except BaseException:
        await run_in_threadpool(service.idempotency_release, scope, key)
        raise
    await run_in_threadpool(service.idempotency_complete, scope, key, status, data)
    return ok(request, data, status_code=status)
