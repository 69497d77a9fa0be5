"""Workspaces: validate a workspace, create one from a template."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from starlette.responses import Response

from autoscorer.api.deps import CurrentKey, SettingsDep, Submitter
from autoscorer.api.envelope import ok
from autoscorer.api.schemas import (
    Envelope,
    WorkspaceCreated,
    WorkspaceInit,
    WorkspaceValidate,
    WorkspaceValidation,
)
from autoscorer.api.security import check_role, inside_roots
from autoscorer.pipeline.validate import validate
from autoscorer.workspace.templates import init_workspace

router = APIRouter(prefix="/api/v1/workspaces", tags=["workspaces"])


@router.post(
    "/validate", response_model=Envelope[WorkspaceValidation], summary="Validate a workspace"
)
async def validate_workspace(
    request: Request, settings: SettingsDep, key: CurrentKey, body: WorkspaceValidate
) -> Response:
    """Checks layout, meta.json and data; an invalid workspace is a 200 with the findings."""
    check_role(key, "submitter" if body.auto_fix else "reader")
    path = inside_roots(body.workspace_path, settings.workspace_roots, "workspace_path")
    report = await run_in_threadpool(
        validate,
        path,
        task_type=body.task_type,
        scorer=body.scorer,
        strict=body.strict_mode,
        auto_fix=body.auto_fix,
        roots=settings.workspace_roots,
        max_file_bytes=settings.max_file_bytes,
    )
    return ok(request, report)


@router.post(
    "/init",
    response_model=Envelope[WorkspaceCreated],
    status_code=201,
    summary="Create a workspace from a template",
)
async def create_workspace(
    request: Request, settings: SettingsDep, _: Submitter, body: WorkspaceInit
) -> Response:
    path = inside_roots(body.workspace_path, settings.workspace_roots, "workspace_path")
    report = await run_in_threadpool(
        init_workspace,
        path,
        template=body.template,
        job_id=body.job_id,
        task_type=body.task_type,
        scorer=body.scorer,
        config=body.config,
    )
    return ok(request, report, status_code=201)
