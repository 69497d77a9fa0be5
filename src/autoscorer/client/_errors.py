"""Exceptions raised by the SDK (the tree is drawn in ``autoscorer.client``'s docstring).

API errors are rebuilt from the error envelope's ``code``. Codes the SDK has no
class for (``MISSING_COLUMN``, ``EXIT_NONZERO``, ...) map to the class of their
nearest ancestor in the server's one error tree (``autoscorer.errors``, copied as
``_ANCESTOR`` since the SDK imports nothing of the server), so ``except
ValidationError`` also catches ``MISSING_COLUMN``; ``err.code`` keeps the exact code
the server sent.
"""

from __future__ import annotations

from typing import Any

import httpx


class AutoScorerClientError(Exception):
    """Base of everything the SDK raises on purpose."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class TransportError(AutoScorerClientError):
    """No usable HTTP response arrived (connection refused, reset, time-out)."""

    def __init__(self, message: str, *, request: httpx.Request | None = None) -> None:
        super().__init__(message)
        self.request = request


class ConnectError(TransportError):
    """The server could not be reached; the request was never sent."""


class RequestTimeout(TransportError):
    """The server did not answer within the client's time-out."""


class UnexpectedResponse(AutoScorerClientError):
    """The server answered 2xx with something that is not the documented shape."""

    def __init__(self, message: str, *, response: httpx.Response) -> None:
        super().__init__(message)
        self.response = response


class WaitTimeout(AutoScorerClientError):
    """``wait_for_completion`` gave up before the job reached a final state."""

    def __init__(self, message: str, *, job_id: str, last_status: str | None) -> None:
        super().__init__(message)
        self.job_id = job_id
        self.last_status = last_status


class APIError(AutoScorerClientError):
    """The server answered with an error envelope (or a non-2xx status)."""

    default_code = "EXECUTION_FAILED"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        field: str | None = None,
        details: dict[str, Any] | None = None,
        request_id: str | None = None,
        response: httpx.Response | None = None,
        errors: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code or self.default_code
        self.field = field
        self.details: dict[str, Any] = dict(details or {})
        self.request_id = request_id
        self.response = response
        self.errors: list[dict[str, Any]] = list(errors or [])

    @property
    def status_code(self) -> int | None:
        return self.response.status_code if self.response is not None else None

    def __str__(self) -> str:
        where = f" (field {self.field})" if self.field else ""
        return f"[{self.code}] {self.message}{where}"


class InvalidParameter(APIError):
    """INVALID_PARAMETER (400): a request parameter has a wrong type or value."""

    default_code = "INVALID_PARAMETER"


class MissingParameter(InvalidParameter):
    """MISSING_PARAMETER (400): a required parameter is absent."""

    default_code = "MISSING_PARAMETER"


class Unauthorized(APIError):
    """UNAUTHORIZED (401): no valid API key was given."""

    default_code = "UNAUTHORIZED"


class Forbidden(APIError):
    """FORBIDDEN (403): the key's role may not do this, or a path is outside the roots."""

    default_code = "FORBIDDEN"


class ResourceNotFound(APIError):
    """RESOURCE_NOT_FOUND (404): the job (or other resource) does not exist."""

    default_code = "RESOURCE_NOT_FOUND"


class ScorerNotFound(ResourceNotFound):
    """SCORER_NOT_FOUND (404): no scorer is registered under that name."""

    default_code = "SCORER_NOT_FOUND"


class Conflict(APIError):
    """CONFLICT (409): duplicate job id, or the job is already finished."""

    default_code = "CONFLICT"


class ValidationError(APIError):
    """VALIDATION_ERROR (422): request body or submission data failed validation."""

    default_code = "VALIDATION_ERROR"


class WorkspaceInvalid(APIError):
    """WORKSPACE_INVALID (422): the workspace layout or meta.json is wrong."""

    default_code = "WORKSPACE_INVALID"


class ExecutionFailed(APIError):
    """EXECUTION_FAILED (500): running the submission or the scorer failed."""

    default_code = "EXECUTION_FAILED"


class JobTimeout(APIError):
    """TIMEOUT_ERROR (408): the job (or the request) ran past its time limit."""

    default_code = "TIMEOUT_ERROR"


class QuotaExceeded(APIError):
    """QUOTA_EXCEEDED (429): rate limit hit; ``retry_after`` says when to try again."""

    default_code = "QUOTA_EXCEEDED"

    @property
    def retry_after(self) -> float | None:
        value = self.details.get("retry_after")
        if value is None and self.response is not None:
            value = self.response.headers.get("retry-after")
        try:
            return float(value) if value is not None else None
        except (TypeError, ValueError):
            return None


class ServiceUnavailable(APIError):
    """SERVICE_UNAVAILABLE (503): a backend the request needs is down."""

    default_code = "SERVICE_UNAVAILABLE"


_BY_CODE: dict[str, type[APIError]] = {
    cls.default_code: cls
    for cls in (
        APIError,
        InvalidParameter,
        MissingParameter,
        Unauthorized,
        Forbidden,
        ResourceNotFound,
        ScorerNotFound,
        Conflict,
        ValidationError,
        WorkspaceInvalid,
        ExecutionFailed,
        JobTimeout,
        QuotaExceeded,
        ServiceUnavailable,
    )
}
_BY_STATUS: dict[int, type[APIError]] = {
    400: InvalidParameter,
    401: Unauthorized,
    403: Forbidden,
    404: ResourceNotFound,
    408: JobTimeout,
    409: Conflict,
    422: ValidationError,
    429: QuotaExceeded,
    503: ServiceUnavailable,
}


# every server code the SDK has no class for -> the code of its nearest ancestor that has
# one (tests/client/test_public_api.py checks this against the server's tree)
_ANCESTOR: dict[str, str] = {
    code: ancestor
    for ancestor, codes in {
        "INVALID_PARAMETER": ("METHOD_NOT_ALLOWED", "PAYLOAD_TOO_LARGE"),
        "VALIDATION_ERROR": (
            "MISSING_FILE",
            "PARSE_ERROR",
            "EMPTY_FILE",
            "ENCODING_ERROR",
            "FILE_TOO_LARGE",
            "MISSING_COLUMN",
            "DUPLICATE_ID",
            "MISSING_ID",
            "UNKNOWN_ID",
            "INVALID_VALUE",
        ),
        "EXECUTION_FAILED": (
            "EXIT_NONZERO",
            "OOM_KILLED",
            "NO_PREDICTIONS",
            "DISK_QUOTA_EXCEEDED",
            "IMAGE_NOT_FOUND",
            "CANCELLED",
            "WORKER_LOST",
            "INFRASTRUCTURE_FAILURE",
            "UNSCHEDULABLE",
            "STARTUP_TIMEOUT",
            "SANDBOX_START_FAILED",
            "EVICTED",
            "NODE_LOST",
        ),
        "SERVICE_UNAVAILABLE": ("EXECUTOR_UNAVAILABLE",),
    }.items()
    for code in codes
}


def error_class(code: str | None, status: int) -> type[APIError]:
    """The SDK class for a server error ``code`` (falling back on the HTTP status)."""
    if code in _BY_CODE:
        return _BY_CODE[code]
    if code in _ANCESTOR:
        return _BY_CODE[_ANCESTOR[code]]
    return _BY_STATUS.get(status, APIError)
