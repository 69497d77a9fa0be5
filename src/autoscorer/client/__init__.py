"""Python SDK for the AutoScorer REST API (sync and async, over httpx).

    from autoscorer.client import AutoScorerClient

    with AutoScorerClient("http://localhost:8000", api_key="...") as client:
        job = client.submit_job(workspace_path="/data/ws1", scorer="classification_f1",
                                async_=True)
        result = client.wait_for_completion(job.job_id, timeout=300)
        print(result.data.result.summary.score)

``async`` is a Python keyword, so the contract's ``async`` field is spelled
``async_`` in every method that takes it (``submit_job(..., async_=True)``).

Exceptions (``code`` is the API's error code, kept exactly as the server sent it)::

    AutoScorerClientError
    ├── TransportError                    no usable HTTP answer
    │   ├── ConnectError                  server unreachable (request never sent)
    │   └── RequestTimeout                no answer within the client's time-out
    ├── UnexpectedResponse                2xx but not the documented shape
    ├── WaitTimeout                       wait_for_completion / stream_logs gave up
    └── APIError                          error envelope; .code .message .field .details
        │                                 .request_id .response .status_code
        ├── InvalidParameter              INVALID_PARAMETER     400 (+ METHOD_NOT_ALLOWED 405,
        │   │                                                       PAYLOAD_TOO_LARGE 413)
        │   └── MissingParameter          MISSING_PARAMETER     400
        ├── Unauthorized                  UNAUTHORIZED          401
        ├── Forbidden                     FORBIDDEN             403
        ├── ResourceNotFound              RESOURCE_NOT_FOUND    404
        │   └── ScorerNotFound            SCORER_NOT_FOUND      404
        ├── Conflict                      CONFLICT              409
        ├── ValidationError               VALIDATION_ERROR      422 (+ MISSING_COLUMN, ...)
        ├── WorkspaceInvalid              WORKSPACE_INVALID     422
        ├── ExecutionFailed               EXECUTION_FAILED      500 (+ EXIT_NONZERO, ...)
        ├── JobTimeout                    TIMEOUT_ERROR         408
        ├── QuotaExceeded                 QUOTA_EXCEEDED        429 (.retry_after)
        └── ServiceUnavailable            SERVICE_UNAVAILABLE   503 (+ EXECUTOR_UNAVAILABLE)

Retries (see :class:`RetryPolicy`): 429 always, honouring ``Retry-After``; 5xx and
dropped connections only for idempotent calls (a submit only when it names its
``job_id`` or carries an ``idempotency_key``); a 409 saying the first request with
the same ``Idempotency-Key`` is still running; exponential backoff with jitter
otherwise. ``AutoScorerClient(..., auto_idempotency=True)`` gives every submit its
own key, so every submit is retried safely.
"""

from autoscorer.client._async_client import AsyncAutoScorerClient
from autoscorer.client._client import AutoScorerClient
from autoscorer.client._errors import (
    APIError,
    AutoScorerClientError,
    Conflict,
    ConnectError,
    ExecutionFailed,
    Forbidden,
    InvalidParameter,
    JobTimeout,
    MissingParameter,
    QuotaExceeded,
    RequestTimeout,
    ResourceNotFound,
    ScorerNotFound,
    ServiceUnavailable,
    TransportError,
    Unauthorized,
    UnexpectedResponse,
    ValidationError,
    WaitTimeout,
    WorkspaceInvalid,
)
from autoscorer.client._models import (
    Artifact,
    BatchCancelled,
    BatchStatus,
    BatchSubmitted,
    CancelledJob,
    ConfigUpdate,
    ErrorDetail,
    Health,
    Job,
    JobList,
    JobLogs,
    JobResult,
    JobStatus,
    JobSummary,
    LogEntry,
    Response,
    ResultData,
    ScorerInfo,
    ScorersLoaded,
    ScorersReloaded,
    ScorerTest,
    SystemConfig,
    SystemStatus,
    WatchStarted,
    WatchStatus,
    WatchStopped,
    WorkspaceCreated,
    WorkspaceValidation,
)
from autoscorer.client._retry import RetryPolicy
from autoscorer.client.webhooks import WebhookVerificationError, verify_webhook

__all__ = [
    "APIError",
    "Artifact",
    "AsyncAutoScorerClient",
    "AutoScorerClient",
    "AutoScorerClientError",
    "BatchCancelled",
    "BatchStatus",
    "BatchSubmitted",
    "CancelledJob",
    "ConfigUpdate",
    "Conflict",
    "ConnectError",
    "ErrorDetail",
    "ExecutionFailed",
    "Forbidden",
    "Health",
    "InvalidParameter",
    "Job",
    "JobList",
    "JobLogs",
    "JobResult",
    "JobStatus",
    "JobSummary",
    "JobTimeout",
    "LogEntry",
    "MissingParameter",
    "QuotaExceeded",
    "RequestTimeout",
    "ResourceNotFound",
    "Response",
    "ResultData",
    "RetryPolicy",
    "ScorerInfo",
    "ScorerNotFound",
    "ScorerTest",
    "ScorersLoaded",
    "ScorersReloaded",
    "ServiceUnavailable",
    "SystemConfig",
    "SystemStatus",
    "TransportError",
    "Unauthorized",
    "UnexpectedResponse",
    "ValidationError",
    "WaitTimeout",
    "WatchStarted",
    "WatchStatus",
    "WatchStopped",
    "WebhookVerificationError",
    "WorkspaceCreated",
    "WorkspaceInvalid",
    "WorkspaceValidation",
    "verify_webhook",
]
