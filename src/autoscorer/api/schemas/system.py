"""Schemas of health, status, config and workspaces."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from autoscorer.api.schemas.common import Public, Request
from autoscorer.api.schemas.fields import ApiPath, FreeObject, JobId, Name
from autoscorer.settings import SECTIONS
from autoscorer.workspace.templates import TEMPLATES


class HealthPublic(Public):
    status: Literal["healthy", "degraded", "unhealthy"] = Field(..., examples=["healthy"])
    timestamp: str = Field(..., examples=["2024-08-24T10:00:00.000Z"])
    version: str = Field(..., examples=["0.1.0"])
    uptime: str = Field(..., examples=["2 days, 14:30:25"])
    components: dict[str, str] = Field(
        ...,
        description="Component name -> healthy, unhealthy, unavailable or disabled",
        examples=[{"database": "healthy", "docker": "healthy", "k8s": "unavailable"}],
    )


class SystemInfo(Public):
    version: str = Field(..., examples=["0.1.0"])
    uptime: str = Field(..., examples=["0:05:00"])
    environment: str = Field(..., examples=["development"])


class JobMetrics(Public):
    total_jobs: int = Field(..., ge=0, examples=[1250])
    active_jobs: int = Field(..., ge=0, examples=[15])
    completed_jobs: int = Field(..., ge=0, examples=[1180])
    failed_jobs: int = Field(..., ge=0, examples=[55])
    cancelled_jobs: int = Field(..., ge=0, examples=[0])
    success_rate: float | None = Field(..., examples=[0.956], description="null before any")


class HostResources(Public):
    cpu_usage: float = Field(..., ge=0, le=1, examples=[0.65])
    memory_usage: float = Field(..., ge=0, le=1, examples=[0.78])
    disk_usage: float = Field(..., ge=0, le=1, examples=[0.45])


class ExecutorStatus(Public):
    """One executor: its state and what it reports (engine version, capacity, ...)."""

    status: str = Field(..., examples=["healthy"], description="healthy or unavailable")
    reason: str | None = Field(None, description="Why it is unavailable")
    engine_version: str | None = None
    active_containers: int | None = None
    sandbox: str | None = Field(None, examples=["bwrap"], description="local: bwrap or none")
    bwrap: str | None = Field(None, description="local: the bwrap binary")
    namespace: str | None = Field(None, description="kubernetes: the namespace jobs run in")
    server_version: str | None = Field(None, description="kubernetes: the API server's")
    available_cores: int | None = None
    available_memory: str | None = Field(None, examples=["20.7Gi"])


class SystemStatusPublic(Public):
    system: SystemInfo
    metrics: JobMetrics
    resources: HostResources
    executors: dict[str, ExecutorStatus] = Field(..., description="Executor name -> state")


if TYPE_CHECKING:  # the values come from the tables at run time; mypy sees their type
    ConfigSection = str
    TemplateName = str
else:
    ConfigSection = Literal[tuple(SECTIONS)]
    TemplateName = Literal[tuple(TEMPLATES)]


class ConfigUpdate(Request):
    section: ConfigSection = Field(..., examples=["executor"])
    config: FreeObject = Field(
        ..., examples=[{"type": "kubernetes", "k8s": {"enabled": True, "namespace": "prod"}}]
    )
    restart_required: bool | None = Field(
        None, description="Accepted for compatibility; the server computes the answer's value"
    )


class ConfigChange(Public):
    old: Any
    new: Any


class ConfigUpdated(Public):
    updated_section: ConfigSection
    changes: dict[str, ConfigChange] = Field(
        ..., examples=[{"type": {"old": "auto", "new": "kubernetes"}}], description="Key -> change"
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
    status: Literal["valid", "invalid"] = Field(..., examples=["valid"])
    details: dict[str, Any] = Field(..., description="What was checked -> finding")


class ValidationChecks(Public):
    structure: CheckPublic
    data_format: CheckPublic
    configuration: CheckPublic


class WorkspaceValidation(Public):
    workspace_path: str
    validation_status: Literal["valid", "invalid"]
    checks: ValidationChecks
    warnings: list[str]
    errors: list[str]
    suggestions: list[str]
    fixed: list[str] | None = Field(None, description="With auto_fix: what was created")


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
    template_used: TemplateName
    created_files: list[str]
    structure: dict[str, str] = Field(..., description="Path -> what it is for")
    next_steps: list[str]
