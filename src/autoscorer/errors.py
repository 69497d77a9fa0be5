"""One error tree for the whole package, independent of any web framework.

Every error has a ``code`` (shown to users, stable), an ``http_status`` (used by
the API's single error handler), and a ``fault`` saying whose problem it is:
``participant`` (the submission), ``host`` (the task setup / request) or
``system`` (AutoScorer or its infrastructure).

    AutoScorerError                       EXECUTION_FAILED      500 system
    ├── InvalidParameter                  INVALID_PARAMETER     400 host
    │   ├── MissingParameter              MISSING_PARAMETER     400 host
    │   ├── MethodNotAllowed              METHOD_NOT_ALLOWED    405 host
    │   └── PayloadTooLarge               PAYLOAD_TOO_LARGE     413 host
    ├── Unauthorized                      UNAUTHORIZED          401 host
    ├── Forbidden                         FORBIDDEN             403 host
    ├── ResourceNotFound                  RESOURCE_NOT_FOUND    404 host
    │   ├── ScorerNotFound                SCORER_NOT_FOUND      404 host
    │   └── JobNotFound                   RESOURCE_NOT_FOUND    404 host
    ├── Conflict                          CONFLICT              409 host
    ├── DataValidationError               VALIDATION_ERROR      422 participant
    │   ├── MissingFile                   MISSING_FILE
    │   ├── ParseError                    PARSE_ERROR
    │   ├── EmptyFile                     EMPTY_FILE
    │   ├── EncodingError                 ENCODING_ERROR
    │   ├── FileTooLarge                  FILE_TOO_LARGE
    │   ├── MissingColumn                 MISSING_COLUMN
    │   ├── DuplicateId                   DUPLICATE_ID
    │   ├── MissingId                     MISSING_ID
    │   ├── UnknownId                     UNKNOWN_ID
    │   └── InvalidValue                  INVALID_VALUE
    ├── WorkspaceInvalid                  WORKSPACE_INVALID     422 host
    │   └── WorkspaceNotFound             RESOURCE_NOT_FOUND    404 host
    ├── ExecutionFailed                   EXECUTION_FAILED      500 system
    │   ├── ExitNonZero                   EXIT_NONZERO          participant
    │   ├── OOMKilled                     OOM_KILLED            participant
    │   ├── NoPredictions                 NO_PREDICTIONS        participant
    │   ├── DiskQuotaExceeded             DISK_QUOTA_EXCEEDED   participant
    │   ├── ImageNotFound                 IMAGE_NOT_FOUND       host
    │   ├── Cancelled                     CANCELLED             host
    │   ├── WorkerLost                    WORKER_LOST           system
    │   └── InfrastructureFailure         INFRASTRUCTURE_FAILURE system
    │       ├── Unschedulable             UNSCHEDULABLE         system
    │       ├── StartupTimeout            STARTUP_TIMEOUT       system
    │       ├── SandboxStartFailed        SANDBOX_START_FAILED  system
    │       ├── Evicted                   EVICTED               system
    │       └── NodeLost                  NODE_LOST             system
    ├── JobTimeout                        TIMEOUT_ERROR         408 participant
    ├── QuotaExceeded                     QUOTA_EXCEEDED        429 host
    └── ServiceUnavailable                SERVICE_UNAVAILABLE   503 system
        └── ExecutorUnavailable           EXECUTOR_UNAVAILABLE  503 system
"""

from __future__ import annotations

from typing import Any, ClassVar

PARTICIPANT = "participant"
HOST = "host"
SYSTEM = "system"


class AutoScorerError(Exception):
    """Base of every error AutoScorer raises on purpose."""

    code: ClassVar[str] = "EXECUTION_FAILED"
    http_status: ClassVar[int] = 500
    fault: ClassVar[str] = SYSTEM

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.details: dict[str, Any] = dict(details or {})

    def to_dict(self) -> dict[str, Any]:
        """The error object of the API envelope and of ``result.json``."""
        details = dict(self.details)
        details.setdefault("fault", self.fault)
        return {"code": self.code, "message": self.message, "field": self.field, "details": details}

    def __str__(self) -> str:
        return self.message


class InvalidParameter(AutoScorerError):
    """A request or scorer parameter has a wrong type or value."""

    code, http_status, fault = "INVALID_PARAMETER", 400, HOST


class MissingParameter(InvalidParameter):
    """A required parameter is absent."""

    code = "MISSING_PARAMETER"


class MethodNotAllowed(InvalidParameter):
    """The path exists but not with this HTTP method."""

    code, http_status = "METHOD_NOT_ALLOWED", 405


class PayloadTooLarge(InvalidParameter):
    """The request body is larger than the server's limit."""

    code, http_status = "PAYLOAD_TOO_LARGE", 413


class Unauthorized(AutoScorerError):
    """No valid API key was given."""

    code, http_status, fault = "UNAUTHORIZED", 401, HOST


class Forbidden(AutoScorerError):
    """The key's role may not do this, or a path lies outside the allowed roots."""

    code, http_status, fault = "FORBIDDEN", 403, HOST


class ResourceNotFound(AutoScorerError):
    """A named resource does not exist."""

    code, http_status, fault = "RESOURCE_NOT_FOUND", 404, HOST


class ScorerNotFound(ResourceNotFound):
    """No scorer is registered under that name."""

    code = "SCORER_NOT_FOUND"


class JobNotFound(ResourceNotFound):
    """No job has that id."""


class Conflict(AutoScorerError):
    """The request conflicts with the resource's state (duplicate id, finished job)."""

    code, http_status, fault = "CONFLICT", 409, HOST


class DataValidationError(AutoScorerError):
    """Ground truth or predictions are malformed; details name file, row and column."""

    code, http_status, fault = "VALIDATION_ERROR", 422, PARTICIPANT


class MissingFile(DataValidationError):
    """An expected data file does not exist."""

    code = "MISSING_FILE"


class ParseError(DataValidationError):
    """A file is not valid CSV/JSON/PNG."""

    code = "PARSE_ERROR"


class EmptyFile(DataValidationError):
    """A data file has no rows."""

    code = "EMPTY_FILE"


class EncodingError(DataValidationError):
    """A file cannot be decoded with the configured encoding."""

    code = "ENCODING_ERROR"


class FileTooLarge(DataValidationError):
    """A file is larger than the configured limit."""

    code = "FILE_TOO_LARGE"


class MissingColumn(DataValidationError):
    """A required column is absent."""

    code = "MISSING_COLUMN"


class DuplicateId(DataValidationError):
    """An id occurs more than once."""

    code = "DUPLICATE_ID"


class MissingId(DataValidationError):
    """An id of the ground truth has no prediction."""

    code = "MISSING_ID"


class UnknownId(DataValidationError):
    """A prediction names an id that is not in the ground truth."""

    code = "UNKNOWN_ID"


class InvalidValue(DataValidationError):
    """A value is non-numeric, NaN/inf, negative where it must not be, or unknown."""

    code = "INVALID_VALUE"


class WorkspaceInvalid(AutoScorerError):
    """The workspace layout or meta.json is wrong."""

    code, http_status, fault = "WORKSPACE_INVALID", 422, HOST


class WorkspaceNotFound(WorkspaceInvalid):
    """The workspace folder does not exist: a path to correct, like any missing resource."""

    code, http_status = "RESOURCE_NOT_FOUND", 404


class ExecutionFailed(AutoScorerError):
    """Running the submission or the scorer failed."""

    code, http_status, fault = "EXECUTION_FAILED", 500, SYSTEM


class ExitNonZero(ExecutionFailed):
    """The submission exited with a non-zero status; details carry the log tail."""

    code, fault = "EXIT_NONZERO", PARTICIPANT


class OOMKilled(ExecutionFailed):
    """The submission exceeded its memory limit."""

    code, fault = "OOM_KILLED", PARTICIPANT


class NoPredictions(ExecutionFailed):
    """The submission exited 0 but wrote no prediction file."""

    code, fault = "NO_PREDICTIONS", PARTICIPANT


class DiskQuotaExceeded(ExecutionFailed):
    """The submission wrote more than ``resources.disk`` into output/ and logs/."""

    code, fault = "DISK_QUOTA_EXCEEDED", PARTICIPANT


class ImageNotFound(ExecutionFailed):
    """The container image is not available under the pull policy."""

    code, fault = "IMAGE_NOT_FOUND", HOST


class Cancelled(ExecutionFailed):
    """The run was cancelled."""

    code, fault = "CANCELLED", HOST


class WorkerLost(ExecutionFailed):
    """The worker running the job vanished too many times."""

    code, fault = "WORKER_LOST", SYSTEM


class InfrastructureFailure(ExecutionFailed):
    """The sandbox was lost or never started for a reason outside the submission."""

    code, fault = "INFRASTRUCTURE_FAILURE", SYSTEM


class Unschedulable(InfrastructureFailure):
    """No node could take the sandbox (resources, GPUs, volume) within the start-up limit."""

    code = "UNSCHEDULABLE"


class StartupTimeout(InfrastructureFailure):
    """The sandbox was not running within the start-up limit (pull, volume, node)."""

    code = "STARTUP_TIMEOUT"


class SandboxStartFailed(InfrastructureFailure):
    """The platform could not create the container (e.g. ``CreateContainerConfigError``)."""

    code = "SANDBOX_START_FAILED"


class Evicted(InfrastructureFailure):
    """The platform evicted or preempted the sandbox (node pressure, preemption, API).

    Not for the sandbox's own disk limit: that is ``DiskQuotaExceeded`` (participant)."""

    code = "EVICTED"


class NodeLost(InfrastructureFailure):
    """The node running the sandbox went away."""

    code = "NODE_LOST"


class JobTimeout(AutoScorerError):
    """The submission ran past its time limit."""

    code, http_status, fault = "TIMEOUT_ERROR", 408, PARTICIPANT


class QuotaExceeded(AutoScorerError):
    """Too many requests for this key; ``retry_after`` says when to try again."""

    code, http_status, fault = "QUOTA_EXCEEDED", 429, HOST

    def __init__(self, message: str, *, retry_after: float = 1.0, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.retry_after = retry_after
        self.details.setdefault("retry_after", retry_after)


class ServiceUnavailable(AutoScorerError):
    """A backend the request needs is down."""

    code, http_status, fault = "SERVICE_UNAVAILABLE", 503, SYSTEM


class ExecutorUnavailable(ServiceUnavailable):
    """The requested executor (Docker engine, cluster) does not answer."""

    code = "EXECUTOR_UNAVAILABLE"


def _all_subclasses(cls: type[AutoScorerError]) -> list[type[AutoScorerError]]:
    out: list[type[AutoScorerError]] = [cls]
    for sub in cls.__subclasses__():
        out.extend(_all_subclasses(sub))
    return out


def error_class_for(code: str) -> type[AutoScorerError]:
    """The most general class carrying ``code`` (used to rebuild errors from JSON)."""
    for cls in _all_subclasses(AutoScorerError):
        if cls.code == code:
            return cls
    return AutoScorerError


def from_dict(data: dict[str, Any]) -> AutoScorerError:
    """Rebuild an error from its ``to_dict`` form (e.g. stored in a job row)."""
    cls = error_class_for(str(data.get("code", "")))
    err = cls.__new__(cls)
    AutoScorerError.__init__(
        err, str(data.get("message", "")), field=data.get("field"), details=data.get("details")
    )
    return err
