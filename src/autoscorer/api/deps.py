"""``Annotated`` dependency aliases used by the routes.

Every dependency is ``async def``: FastAPI runs a plain ``def`` dependency in the thread
pool, a thread hop per dependency per request.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from autoscorer.api.ratelimit import Limiter
from autoscorer.api.runtime import Runtime
from autoscorer.api.security import Principal, authenticate, check_role
from autoscorer.settings import Role, Settings

bearer = HTTPBearer(auto_error=False, description="An API key; optional when none is configured")


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(get_settings)]


async def current_key(
    request: Request,
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    """Authenticate the caller, then charge one request to its rate limit."""
    principal = authenticate(settings, credentials.credentials if credentials else None)
    caller = principal.name
    if principal.name == "anonymous":
        caller = f"ip:{request.client.host if request.client else 'unknown'}"
    rate = principal.rate_limit if principal.rate_limit is not None else settings.rate_limit
    limiter: Limiter = request.app.state.limiter
    await limiter.acquire(caller, rate, settings.rate_limit_burst)
    return principal


CurrentKey = Annotated[Principal, Depends(current_key)]


def require_role(role: Role) -> Callable[[Principal], Awaitable[Principal]]:
    """A dependency that lets only ``role`` or higher through (403 FORBIDDEN otherwise)."""

    async def dependency(principal: CurrentKey) -> Principal:
        check_role(principal, role)
        return principal

    dependency.__name__ = f"require_{role}"
    return dependency


Reader = Annotated[Principal, Depends(require_role("reader"))]
Submitter = Annotated[Principal, Depends(require_role("submitter"))]
Admin = Annotated[Principal, Depends(require_role("admin"))]


async def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
