"""``GET /metrics``: Prometheus text format, outside ``/api/v1`` and without the envelope.

Mounted when ``metrics.enabled`` (the default). With API keys configured it
needs the ``reader`` role unless ``metrics.public`` is set; errors are envelopes
as everywhere else. Job metrics are read through the job service's engine.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials
from sqlalchemy import Engine
from starlette.responses import Response

from autoscorer.api.deps import RuntimeDep, SettingsDep, bearer, current_key
from autoscorer.api.security import check_role
from autoscorer.observability.metrics import build_registry, render

router = APIRouter(tags=["system"])


def engine_of(service: Any) -> Engine | None:
    """The job store's engine: ``service.engine`` or ``service.store.engine``."""
    for owner in (service, getattr(service, "store", None)):
        engine = getattr(owner, "engine", None)
        if isinstance(engine, Engine):
            return engine
    return None


async def metrics_access(
    request: Request,
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> None:
    """Open when ``metrics_public`` or when no keys exist; else a ``reader`` key."""
    if settings.metrics_public or not settings.auth_enabled:
        return
    check_role(await current_key(request, settings, credentials), "reader")


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    dependencies=[Depends(metrics_access)],
    response_class=Response,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
async def metrics(runtime: RuntimeDep) -> Response:
    """Process metrics plus job metrics read from the job store (see docs/metrics.md)."""
    registry = build_registry(lambda: engine_of(runtime.service))
    body, content_type = await run_in_threadpool(render, registry)
    return Response(body, media_type=content_type)
