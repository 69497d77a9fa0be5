"""Custom scorer files (admin only, they run code on the server): load, reload, watch.
``security.scorer_loading: false`` turns loading, reloading and watching off (403).

Declared before ``/api/v1/scorers/{scorer_name}`` so ``/watch`` and ``/load``
are not taken for scorer names.
"""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from starlette.responses import Response

from autoscorer.api.deps import Admin, Reader, RuntimeDep, SettingsDep
from autoscorer.api.envelope import ok
from autoscorer.api.schemas import (
    Envelope,
    ScorerLoad,
    ScorerReload,
    ScorersLoaded,
    ScorersReloaded,
    ScorerWatch,
    WatchStarted,
    WatchStatus,
    WatchStopped,
)
from autoscorer.api.security import check_scorer_loading, inside_roots
from autoscorer.inputs import API_PATH_PATTERN, MAX_PATH
from autoscorer.scorers.loader import reload_data
from autoscorer.scorers.watcher import load_and_watch

router = APIRouter(prefix="/api/v1/scorers", tags=["scorers"])


@router.post("/load", response_model=Envelope[ScorersLoaded], summary="Load a scorer file")
async def load_scorers(
    request: Request, runtime: RuntimeDep, settings: SettingsDep, _: Admin, body: ScorerLoad
) -> Response:
    check_scorer_loading(settings)
    path = inside_roots(body.file_path, settings.scorer_roots, "file_path")
    data = await run_in_threadpool(
        load_and_watch,
        path,
        auto_watch=body.auto_watch,
        check_interval=body.check_interval,
        force_reload=body.force_reload,
        watcher=runtime.watcher,
    )
    return ok(request, data)


@router.post("/reload", response_model=Envelope[ScorersReloaded], summary="Reload a scorer file")
async def reload_scorers(
    request: Request, runtime: RuntimeDep, settings: SettingsDep, _: Admin, body: ScorerReload
) -> Response:
    """Re-imports the file if it changed; a broken file keeps the old version (400)."""
    check_scorer_loading(settings)
    path = inside_roots(body.file_path, settings.scorer_roots, "file_path")
    loader = runtime.watcher.loader
    reloaded = await run_in_threadpool(loader.reload_file, path, scorer_name=body.scorer_name)
    live = loader.versions(path)
    if body.scorer_name:
        live = {k: v for k, v in live.items() if k == body.scorer_name}
    return ok(request, reload_data(reloaded, live))


@router.post("/watch", response_model=Envelope[WatchStarted], summary="Watch a scorer file")
async def watch_scorer(
    request: Request, runtime: RuntimeDep, settings: SettingsDep, _: Admin, body: ScorerWatch
) -> Response:
    check_scorer_loading(settings)
    path = inside_roots(body.file_path, settings.scorer_roots, "file_path")
    data = await run_in_threadpool(runtime.watcher.start, path, check_interval=body.check_interval)
    return ok(request, data)


@router.get("/watch", response_model=Envelope[WatchStatus], summary="Watched files")
async def watch_status(request: Request, runtime: RuntimeDep, _: Reader) -> Response:
    return ok(request, runtime.watcher.status())


@router.delete("/watch", response_model=Envelope[WatchStopped], summary="Stop watching a file")
async def unwatch_scorer(
    request: Request,
    runtime: RuntimeDep,
    settings: SettingsDep,
    _: Admin,
    file_path: str = Query(
        ...,
        min_length=1,
        max_length=MAX_PATH,
        pattern=API_PATH_PATTERN,
        description="The watched file",
    ),
) -> Response:
    path = inside_roots(file_path, settings.scorer_roots, "file_path")
    data = await run_in_threadpool(runtime.watcher.stop, path)
    return ok(request, data)
