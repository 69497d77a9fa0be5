"""``GET /health``: is the server up, and which of its parts answer."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from autoscorer.api.deps import RuntimeDep, SettingsDep
from autoscorer.api.envelope import ok
from autoscorer.api.ops import system
from autoscorer.api.schemas import Envelope, HealthPublic

router = APIRouter(tags=["system"])


@router.get("/health", response_model=Envelope[HealthPublic], summary="Health check")
async def health(request: Request, runtime: RuntimeDep, settings: SettingsDep) -> Response:
    """Open to everyone (no key, no rate limit) so load balancers and probes can use it."""
    components = await runtime.components(settings)
    return ok(request, system.health(components, runtime.uptime))
