"""``GET|PUT /api/v1/config``: the settings by section, secrets masked."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from autoscorer.api.deps import Admin, Reader, SettingsDep
from autoscorer.api.envelope import ok, utc_now
from autoscorer.api.schemas import ConfigUpdate, ConfigUpdated, Envelope
from autoscorer.api.schemas.config import ConfigPublic
from autoscorer.api.schemas.system import ConfigSection
from autoscorer.settings import SECTIONS, apply_update, config_view

router = APIRouter(prefix="/api/v1/config", tags=["config"])
_SECTIONS = ", ".join(SECTIONS)


@router.get("", response_model=Envelope[ConfigPublic], summary="Show the configuration")
async def read_config(
    request: Request,
    settings: SettingsDep,
    _: Reader,
    section: ConfigSection | None = Query(None, description="Only this section"),
    include_defaults: bool = Query(True, description="False: only values set explicitly"),
) -> Response:
    return ok(request, config_view(settings, section, include_defaults=include_defaults))


@router.put("", response_model=Envelope[ConfigUpdated], summary="Change one section (admin)")
async def update_config(
    request: Request, settings: SettingsDep, _: Admin, body: ConfigUpdate
) -> Response:
    """Changes apply to this server process; ``restart_required`` says which need a restart."""
    new, changes, restart = apply_update(settings, body.section, body.config)
    request.app.state.settings = new
    logging.getLogger("autoscorer").setLevel(new.log_level)
    data = {
        "updated_section": body.section,
        "changes": changes,
        "restart_required": restart,
        "updated_at": utc_now(),
    }
    return ok(request, data)
