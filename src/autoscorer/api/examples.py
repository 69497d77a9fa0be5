"""OpenAPI examples: the contract's (``api-reference.md``) requests and answers.

The contract's answers leave out fields the server always sends; here they are completed
so each example is a valid instance of its documented schema (a test checks that).
"""

from __future__ import annotations

from typing import Any

META = {"timestamp": "2024-08-24T10:00:00.000Z", "request_id": "req_abc123", "api_version": "v1"}
ERRORS: dict[str, list[tuple[str, str, str | None, dict[str, Any]]]] = {
    "400": [
        (
            "INVALID_PARAMETER",
            "body parameter 'workspace_path': contains a NUL character",
            "workspace_path",
            {"location": "body", "type": "value_error"},
        ),
        (
            "MISSING_PARAMETER",
            "body parameter 'workspace_path' is required",
            "workspace_path",
            {"location": "body", "type": "missing"},
        ),
    ],
    "401": [("UNAUTHORIZED", "the API key is not valid", None, {})],
    "403": [
        (
            "FORBIDDEN",
            "workspace_path '/etc' is outside the allowed roots",
            "workspace_path",
            {"allowed_roots": ["/srv/workspaces"]},
        )
    ],
    "404": [
        ("RESOURCE_NOT_FOUND", "job job-demo-001 not found", "job_id", {}),
        (
            "SCORER_NOT_FOUND",
            "no scorer named 'nope'; available: classification_f1",
            "scorer",
            {"provided": "nope", "available": ["classification_f1"]},
        ),
    ],
    "409": [("CONFLICT", "job job-demo-001 already exists", "job_id", {"job_id": "job-demo-001"})],
    "413": [
        (
            "PAYLOAD_TOO_LARGE",
            "request body of 20,000,000 bytes is above the limit",
            None,
            {"size": 20000000, "limit": 10485760},
        )
    ],
    "422": [("WORKSPACE_INVALID", "meta.json is not valid JSON", "meta.json", {})],
    "429": [
        (
            "QUOTA_EXCEEDED",
            "rate limit of 10 requests/s exceeded for 'ci'; retry in 1 s",
            None,
            {"retry_after": 0.4, "limit_per_second": 10.0, "burst": 50},
        )
    ],
    "500": [
        (
            "EXECUTION_FAILED",
            "internal server error; quote request id req_abc123",
            None,
            {"request_id": "req_abc123"},
        )
    ],
    "503": [("SERVICE_UNAVAILABLE", "the job service is not running", None, {})],
}
FAULTS = {"500": "system", "503": "system"}


def error_examples(status: str) -> dict[str, Any]:
    """``{code: {"summary", "value"}}``: the error envelope for each code of ``status``."""
    out = {}
    for code, message, field, details in ERRORS[status]:
        error = {
            "code": code,
            "message": message,
            "field": field,
            "details": {**details, "fault": FAULTS.get(status, "host")},
        }
        body = {"success": False, "data": None, "meta": META, "errors": [error]}
        out[code] = {"summary": code, "value": body}
    return out


def ok(data: Any, summary: str) -> dict[str, Any]:
    return {"summary": summary, "value": {"success": True, "data": data, "meta": META}}


RESULT = {
    "summary": {
        "score": 0.85,
        "rank": "A",
        "pass": True,
        "message": "Evaluation completed successfully",
    },
    "metrics": {
        "f1_macro": 0.85,
        "f1_micro": 0.88,
        "precision_macro": 0.83,
        "recall_macro": 0.87,
        "accuracy": 0.88,
        "confusion_matrix": [[45, 5], [8, 42]],
    },
    "artifacts": {
        "confusion_matrix": {
            "path": "/workspace/output/artifacts/confusion_matrix.png",
            "size": 1024,
            "type": "image/png",
        }
    },
    "timing": {
        "total_time": 45.6,
        "data_loading": 1.2,
        "inference_time": 42.1,
        "scoring_time": 3.5,
    },
    "resources": {
        "peak_cpu": 1.95,
        "peak_memory": "3.8Gi",
        "total_disk_io": "50MB",
        "cpu_usage": 1.8,
        "memory_usage": "3.2Gi",
        "gpu_usage": 0,
    },
    "versioning": {
        "scorer": "classification_f1",
        "version": "2.0.0",
        "autoscorer_version": "2.0.0",
        "timestamp": "2024-08-24T10:00:00Z",
    },
    "metadata": {
        "job_id": "job-demo-001",
        "task_type": "classification",
        "data_size": 100,
        "num_classes": 2,
    },
    "provenance": {
        "gt_sha256": None,
        "pred_sha256": None,
        "scorer_source_sha256": None,
        "image_digest": None,
    },
    "warnings": [],
    "error": None,
}
STATUS = {
    "job_id": "job-demo-001",
    "status": "running",
    "owner": "ci",
    "task_type": "classification",
    "scorer": "classification_f1",
    "workspace_path": "/srv/workspaces/demo",
    "executor": "docker",
    "queue": "score",
    "config": {},
    "callback_url": None,
    "request_id": "req_abc123",
    "batch_id": None,
    "progress": 0.75,
    "stage": "scoring",
    "created_at": "2024-08-24T10:00:00Z",
    "updated_at": "2024-08-24T10:00:31Z",
    "started_at": "2024-08-24T10:00:30Z",
    "completed_at": None,
    "cancelled_at": None,
    "reason": None,
    "estimated_completion": "2024-08-24T10:15:00Z",
    "score": None,
    "error": None,
    "execution_time": None,
    "resources": {"cpu_usage": 1.8, "memory_usage": "3.2Gi", "gpu_usage": 0},
    "worker_id": "inprocess@host:22702:3aa63a",
    "attempts": 1,
    "logs_available": True,
}
COMPLETED = {
    **STATUS,
    "status": "completed",
    "progress": 1.0,
    "stage": "done",
    "completed_at": "2024-08-24T10:00:45Z",
    "estimated_completion": None,
    "score": 0.85,
    "execution_time": 45.6,
    "resources": RESULT["resources"],
}
SUBMIT = {
    "job_id": "job-demo-001",
    "task_type": "classification",
    "scorer": "classification_f1",
    "workspace_path": "/path/to/workspace",
    "executor": "docker",
    "async": True,
    "config": {
        "time_limit": 1800,
        "resources": {"cpu": 2.0, "memory": "4Gi", "gpus": 0},
        "scorer_params": {"average": "macro"},
    },
}
LOGS = [
    {
        "timestamp": "2024-08-24T10:00:30Z",
        "level": "INFO",
        "component": "worker",
        "message": "Starting evaluation process",
    },
    {
        "timestamp": "2024-08-24T10:01:15Z",
        "level": "INFO",
        "component": "worker",
        "message": "Evaluation completed successfully",
    },
]
QUEUED = {
    **STATUS,
    "status": "queued",
    "progress": 0.0,
    "stage": None,
    "started_at": None,
    "resources": None,
    "worker_id": None,
    "attempts": 0,
}

OPERATIONS: dict[str, dict[str, Any]] = {
    "submitJob": {
        "request": {"contract": {"summary": "The contract's submission", "value": SUBMIT}},
        "responses": {
            "200": {"sync": ok({**COMPLETED, "result": RESULT}, "Sync: the finished job")},
            "202": {
                "async": ok(
                    {
                        **QUEUED,
                        "result": None,
                        "message": "Job submitted for async processing",
                        "status_url": "/api/v1/jobs/job-demo-001/status",
                    },
                    "Async: accepted",
                )
            },
        },
    },
    "submitBatch": {
        "request": {
            "contract": {
                "summary": "Two jobs",
                "value": {
                    "jobs": [
                        {
                            "job_id": "job-001",
                            "task_type": "classification",
                            "scorer": "classification_f1",
                            "workspace_path": "/path/to/workspace1",
                        },
                        {
                            "job_id": "job-002",
                            "task_type": "regression",
                            "scorer": "regression_rmse",
                            "workspace_path": "/path/to/workspace2",
                        },
                    ],
                    "async": True,
                    "max_parallel": 5,
                },
            }
        },
        "responses": {
            "202": {
                "contract": ok(
                    {
                        "batch_id": "batch-001",
                        "submitted_jobs": 2,
                        "status": "processing",
                        "max_parallel": 5,
                        "jobs": [
                            {"job_id": "job-001", "status": "submitted"},
                            {"job_id": "job-002", "status": "submitted"},
                        ],
                    },
                    "Accepted",
                )
            }
        },
    },
    "getJobStatus": {"responses": {"200": {"running": ok(STATUS, "A running job")}}},
    "getJobResult": {
        "responses": {
            "200": {
                "contract": ok(
                    {
                        "job_id": "job-demo-001",
                        "status": "completed",
                        "result": RESULT,
                        "logs": LOGS,
                    },
                    "With include_logs=true",
                )
            }
        }
    },
    "getJobLogs": {
        "responses": {
            "200": {
                "contract": ok(
                    {"job_id": "job-demo-001", "logs": LOGS, "total_lines": 2, "has_more": False},
                    "Two lines",
                )
            }
        }
    },
    "cancelJob": {
        "responses": {
            "200": {
                "contract": ok(
                    {
                        "job_id": "job-demo-001",
                        "status": "cancelled",
                        "cancelled_at": "2024-08-24T10:05:00Z",
                        "reason": "User requested cancellation",
                    },
                    "Cancelled",
                )
            }
        }
    },
    "listJobs": {
        "responses": {
            "200": {
                "page": ok(
                    {
                        "jobs": [COMPLETED],
                        "pagination": {
                            "total": 1,
                            "limit": 50,
                            "offset": 0,
                            "has_next": False,
                            "has_prev": False,
                        },
                    },
                    "One page",
                )
            }
        }
    },
    "getHealth": {
        "responses": {
            "200": {
                "contract": ok(
                    {
                        "status": "healthy",
                        "timestamp": "2024-08-24T10:00:00.000Z",
                        "version": "0.1.0",
                        "uptime": "2 days, 14:30:25",
                        "components": {
                            "database": "healthy",
                            "docker": "healthy",
                            "k8s": "unavailable",
                        },
                    },
                    "Healthy",
                )
            }
        }
    },
    "validateWorkspace": {
        "request": {
            "contract": {
                "summary": "Validate",
                "value": {
                    "workspace_path": "/path/to/workspace",
                    "task_type": "classification",
                    "scorer": "classification_f1",
                    "strict_mode": False,
                    "auto_fix": False,
                },
            }
        }
    },
    "updateConfig": {
        "request": {
            "contract": {
                "summary": "The contract's change",
                "value": {
                    "section": "executor",
                    "config": {"type": "kubernetes", "k8s": {"enabled": True, "namespace": "prod"}},
                },
            }
        }
    },
}
