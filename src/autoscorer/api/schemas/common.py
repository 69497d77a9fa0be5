"""The envelope schema and the pieces shared by every resource."""

from __future__ import annotations

from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

T = TypeVar("T")


class Public(BaseModel):
    """Base of response models: every field the server sends is documented.

    The schemas do not say ``additionalProperties: true``: generated clients get closed
    types, while a client validating with JSON Schema still accepts fields added later.
    """

    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class Request(BaseModel):
    """Base of request bodies: unknown fields are refused with INVALID_PARAMETER."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, allow_inf_nan=False)


class MetaPublic(Public):
    timestamp: str = Field(..., examples=["2024-08-24T10:00:00.000Z"])
    request_id: str = Field(
        ..., examples=["req_abc123"], description="Also the X-Request-ID header"
    )
    api_version: Literal["v1"] = Field(..., examples=["v1"])


class ErrorPublic(Public):
    code: str = Field(..., examples=["INVALID_PARAMETER"], description="Stable; see docs/api.md")
    message: str = Field(..., examples=["Invalid scorer name"])
    field: str | None = Field(..., examples=["scorer"], description="The request field at fault")
    details: dict[str, Any] = Field(
        ...,
        examples=[{"provided": "nope", "available": ["classification_f1"], "fault": "host"}],
        description="Facts about the error; 'fault' is participant, host or system",
    )


class Envelope(Public, Generic[T]):
    """A successful answer: ``success`` true, ``data``, ``meta``."""

    success: Literal[True]
    data: T
    meta: MetaPublic


class ErrorEnvelope(Public):
    """A failed answer: ``success`` false, ``data`` null, one or more errors."""

    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={
            "examples": [
                {
                    "success": False,
                    "data": None,
                    "meta": {
                        "timestamp": "2024-08-24T10:00:00.000Z",
                        "request_id": "req_abc123",
                        "api_version": "v1",
                    },
                    "errors": [
                        {
                            "code": "SCORER_NOT_FOUND",
                            "message": "no scorer named 'nope'; available: classification_f1",
                            "field": "scorer",
                            "details": {"provided": "nope", "available": ["classification_f1"]},
                        }
                    ],
                }
            ]
        },
    )

    success: Literal[False]
    data: None
    meta: MetaPublic
    errors: list[ErrorPublic] = Field(..., min_length=1)


_ERRORS = {
    400: "INVALID_PARAMETER / MISSING_PARAMETER",
    401: "UNAUTHORIZED: no or wrong API key",
    403: "FORBIDDEN: role too low, or a path outside the allowed roots",
    404: "RESOURCE_NOT_FOUND / SCORER_NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "CONFLICT",
    413: "PAYLOAD_TOO_LARGE",
    422: "VALIDATION_ERROR (and its data codes) / WORKSPACE_INVALID",
    429: "QUOTA_EXCEEDED, with Retry-After",
    500: "EXECUTION_FAILED",
    503: "SERVICE_UNAVAILABLE / EXECUTOR_UNAVAILABLE",
}

ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorEnvelope, "description": text} for status, text in _ERRORS.items()
}
