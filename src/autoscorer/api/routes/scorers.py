"""Scorers: list, details, test runs; loading, reloading and watching custom files."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from starlette.responses import Response

from autoscorer.api.deps import Reader, RuntimeDep, SettingsDep, Submitter
from autoscorer.api.envelope import ok
from autoscorer.api.ops import scorers as ops
from autoscorer.api.schemas import (
    Envelope,
    ScorerPublic,
    ScorerTable,
    ScorerTest,
    ScorerTestPublic,
)
from autoscorer.api.security import inside_roots
from autoscorer.inputs import MAX_NAME, NAME_PATTERN
from autoscorer.pipeline.trial import run_scorer_test

router = APIRouter(prefix="/api/v1/scorers", tags=["scorers"])
ScorerName = Annotated[
    str, PathParam(max_length=MAX_NAME, pattern=NAME_PATTERN, description="A registered scorer")
]


@router.get("", response_model=Envelope[list[ScorerPublic] | ScorerTable], summary="List scorers")
async def list_scorers(
    request: Request,
    runtime: RuntimeDep,
    _: Reader,
    task_type: str | None = Query(
        None,
        max_length=MAX_NAME,
        pattern=NAME_PATTERN,
        description="Only this task type",
    ),
    format: Literal["json", "table"] = Query("json", description="json: objects; table: rows"),
    include_details: bool = Query(False, description="Add formats, examples, success rate"),
) -> Response:
    stats = await runtime.scorer_stats()
    items = ops.list_scorers(
        runtime.registry, stats, task_type=task_type, include_details=include_details
    )
    return ok(request, ops.as_table(items) if format == "table" else items)


@router.get("/{scorer_name}", response_model=Envelope[ScorerPublic], summary="Scorer details")
async def get_scorer(
    request: Request,
    runtime: RuntimeDep,
    _: Reader,
    scorer_name: ScorerName,
    version: str | None = Query(
        None, max_length=MAX_NAME, pattern=NAME_PATTERN, description="Must equal the loaded version"
    ),
    include_examples: bool = Query(True, description="Include usage examples"),
) -> Response:
    runtime.registry.get(scorer_name)  # 404 before touching the store
    stats = (await runtime.scorer_stats()).get(scorer_name)
    data = ops.get_scorer(
        runtime.registry, scorer_name, stats, version=version, include_examples=include_examples
    )
    return ok(request, data)


@router.post(
    "/{scorer_name}/test", response_model=Envelope[ScorerTestPublic], summary="Test a scorer"
)
async def test_scorer(
    request: Request,
    runtime: RuntimeDep,
    settings: SettingsDep,
    _: Submitter,
    scorer_name: ScorerName,
    body: ScorerTest,
) -> Response:
    """Scores the workspace without writing anything; data problems give ``failed``."""
    runtime.registry.get(scorer_name)
    workspace = inside_roots(body.workspace_path, settings.workspace_roots, "workspace_path")
    data = await run_in_threadpool(
        run_scorer_test,
        scorer_name,
        workspace,
        params=body.parameters,
        validate_only=body.validate_only,
        roots=settings.workspace_roots,
        max_file_bytes=settings.max_file_bytes,
    )
    return ok(request, data)
