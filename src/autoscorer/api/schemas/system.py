"""Schemas of health, status, config and workspaces."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from autoscorer.api.schemas.common import Public, Request
from autoscorer.api.schemas.fields import ApiPath, FreeObject, JobId, Name
from autoscorer.settings import SECTIONS
from autoscorer.workspace.templates import TEMPLATES


class HealthPublic(Public):
    status: Literal["healthy", "degraded", "unhealthy"] = Field(..., examples=["healthy"])
    timestamp: str
    version: str = Field(..., examples=["0.1.0"])
    uptime: str = Field(..., examples=["2 days, 14:30:25"])
    components: dict[str, str] = Field(
        ..., examples=[{"database": "healthy", "docker": "healthy", "k8s": "unavailable"}]
    )


class SystemStatusPublic(Public):
    system: dict[str, Any] = Field(
        ..., examples=[{"version": "0.1.0", "uptime": "0:05:00", "environment": "development"}]
    )
    metrics: dict[str, Any] = Field(
        ...,
        examples=[
            {
                "total_jobs": 1250,
                "active_jobs": 15,
                "completed_jobs": 1180,
                "failed_jobs": 55,
                "success_rate": 0.956,
            }
        ],
    )
    resources: dict[str, Any] = Field(
        ..., examples=[{"cpu_usage": 0.65, "memory_usage": 0.78, "disk_usage": 0.45}]
    )
    executors: dict[str, dict[str, Any]]


ConfigSection = Literal[tuple(SECTIONS)]  # type: ignore[valid-type]
TemplateName = Literal[tuple(TEMPLATES)]  # type: ignore[valid-type]


class ConfigUpdate(Request):
    section: ConfigSection = Field(..., examples=["executor"])
    config: FreeObject = Field(
        ..., examples=[{"type": "kubernetes", "k8s": {"enabled": True, "namespace": "prod"}}]
    )
    restart_required: bool | None = Field(
        None, description="Accepted for compatibility; the server computes the answer's value"
    )


class ConfigUpdated(Public):
    updated_section: str
    changes: dict[str, dict[str, Any]] = Field(
        ..., examples=[{"type": {"old": "auto", "new": "kubernetes"}}]
    )
    restart_required: bool
    updated_at: str


class WorkspaceValidate(Request):
    workspace_path: ApiPath = Field(..., examples=["examples/classification"])
    task_type: Name | None = Field(None, examples=["classification"])
    scorer: Name | None = Field(None, examples=["classification_f1"])
    strict_mode: bool = Field(False, description="Warnings count as errors")
    auto_fix: bool = Field(False, description="Create missing folders (needs submitter)")


class CheckPublic(Public):
    status: str
    details: dict[str, Any] = Field(default_factory=dict)


class WorkspaceValidation(Public):
    workspace_path: str
    validation_status: Literal["valid", "invalid"]
    checks: dict[str, CheckPublic]
    warnings: list[Any] = Field(default_factory=list)
    errors: list[Any] = Field(default_factory=list)
    suggestions: list[Any] = Field(default_factory=list)


class WorkspaceInit(Request):
    workspace_path: ApiPath = Field(..., examples=["workspaces/new-task"])
    template: TemplateName = Field("classification", examples=["classification"])
    job_id: JobId | None = Field(None, examples=["job-001"])
    task_type: Name | None = Field(None, examples=["classification"])
    scorer: Name | None = Field(None, examples=["classification_f1"])
    config: FreeObject | None = Field(
        None, examples=[{"time_limit": 1800, "resources": {"cpu": 2.0, "memory": "4Gi"}}]
    )


class WorkspaceCreated(Public):
    workspace_path: str
    template_used: str
    created_files: list[str]
    structure: dict[str, str] = Field(default_factory=dict)
    next_steps: list[str] = Field(default_factory=list)
