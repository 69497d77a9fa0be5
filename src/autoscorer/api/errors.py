"""The one place where errors become HTTP answers.

The domain tree (:mod:`autoscorer.errors`) carries the code and the status;
this module turns it into the envelope. Framework errors are first translated
into that tree: unknown routes -> ``RESOURCE_NOT_FOUND`` 404, a wrong method ->
``METHOD_NOT_ALLOWED`` 405, request validation -> ``INVALID_PARAMETER`` /
``MISSING_PARAMETER`` 400 with the field, anything unexpected -> 500
``EXECUTION_FAILED`` with the request id and no traceback.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import Response

from autoscorer.api.envelope import failure, request_id_of
from autoscorer.errors import (
    AutoScorerError,
    ExecutionFailed,
    InvalidParameter,
    MethodNotAllowed,
    MissingParameter,
    PayloadTooLarge,
    QuotaExceeded,
    ResourceNotFound,
    ServiceUnavailable,
    Unauthorized,
)

log = logging.getLogger("autoscorer.api")

# Where a request value came from, as FastAPI names it in ``loc[0]``.
_LOCATIONS = {"body", "query", "path", "header", "cookie"}


def error_response(request: Request, error: AutoScorerError) -> Response:
    """The envelope for a domain error, with the headers its status calls for."""
    headers: dict[str, str] = {}
    if isinstance(error, QuotaExceeded):
        headers["Retry-After"] = str(max(1, math.ceil(error.retry_after)))
    elif isinstance(error, Unauthorized):
        headers["WWW-Authenticate"] = "Bearer"
    elif isinstance(error, MethodNotAllowed):
        headers["Allow"] = ", ".join(error.details.get("allowed", []))
    return failure(
        request_id_of(request), [error.to_dict()], status_code=error.http_status, headers=headers
    )


def _field(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in _LOCATIONS and len(parts) > 1:
        parts = parts[1:]
    return ".".join(parts)


def translate_validation(exc: RequestValidationError) -> list[AutoScorerError]:
    """One INVALID_PARAMETER / MISSING_PARAMETER per problem pydantic found."""
    out: list[AutoScorerError] = []
    for problem in exc.errors():
        loc = tuple(problem.get("loc", ()))
        field = _field(loc)
        where = str(loc[0]) if loc else "request"
        details = {"location": where, "type": problem.get("type")}
        if problem.get("type") == "missing":
            out.append(MissingParameter(f"{where} parameter '{field}' is required", field=field))
            out[-1].details.update(details)
            continue
        text = str(problem.get("msg", "invalid value")).removeprefix("Value error, ")
        message = f"{where} parameter '{field}': {text}"
        if problem.get("type") == "json_invalid":
            message = f"request body is not valid JSON: {problem.get('ctx', {}).get('error', '')}"
        out.append(InvalidParameter(message, field=field or None, details=details))
    return out or [InvalidParameter("invalid request")]


def translate_http(exc: StarletteHTTPException, request: Request) -> AutoScorerError:
    """Starlette's routing errors in the domain tree."""
    where = f"{request.method} {request.url.path}"
    if exc.status_code == 404:
        return ResourceNotFound(f"no such endpoint: {where}", details={"path": request.url.path})
    if exc.status_code == 405:
        allowed = (exc.headers or {}).get("Allow", "")
        return MethodNotAllowed(
            f"method {request.method} is not allowed on {request.url.path}",
            details={"allowed": [m.strip() for m in allowed.split(",") if m.strip()]},
        )
    if exc.status_code == 413:
        return PayloadTooLarge(str(exc.detail))
    if exc.status_code == 503:
        return ServiceUnavailable(str(exc.detail))
    return InvalidParameter(str(exc.detail), details={"status": exc.status_code})


async def _on_domain(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, AutoScorerError)
    return error_response(request, exc)


async def _on_validation(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = translate_validation(exc)
    return failure(request_id_of(request), [e.to_dict() for e in errors], status_code=400)


async def _on_http(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    return error_response(request, translate_http(exc, request))


async def _on_unexpected(request: Request, exc: Exception) -> Response:
    rid = request_id_of(request)
    # The traceback goes to the server log only; the client gets the request id.
    log.error("unhandled error in %s %s [%s]", request.method, request.url.path, rid, exc_info=exc)
    error = ExecutionFailed(
        f"internal server error; quote request id {rid} when reporting it",
        details={"request_id": rid},
    )
    return error_response(request, error)


def install(app: FastAPI) -> None:
    """Register every handler on ``app``."""
    app.add_exception_handler(AutoScorerError, _on_domain)
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(StarletteHTTPException, _on_http)
    app.add_exception_handler(Exception, _on_unexpected)
