"""``GET /api/v1/status``: version, job totals, host resources, executors."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from autoscorer.api.deps import Reader, RuntimeDep, SettingsDep
from autoscorer.api.envelope import ok
from autoscorer.api.ops import system
from autoscorer.api.schemas import Envelope, SystemStatusPublic

router = APIRouter(prefix="/api/v1", tags=["system"])


@router.get("/status", response_model=Envelope[SystemStatusPublic], summary="System status")
async def status(
    request: Request, runtime: RuntimeDep, settings: SettingsDep, _: Reader
) -> Response:
    executors = await runtime.executor_health(settings)
    data = system.status(
        environment=settings.environment,
        up_seconds=runtime.uptime,
        counts=await runtime.job_counts(),
        executors={**executors, "local": {**executors["local"], **system.executor_capacity()}},
        disk_path=runtime.data_dir(settings),
    )
    return ok(request, data)
