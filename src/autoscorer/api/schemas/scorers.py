"""Schemas of the scorer endpoints."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from autoscorer.api.schemas.common import Public, Request
from autoscorer.api.schemas.fields import ApiPath, FreeObject, Name

FILE_EXAMPLE = "scorers/custom_scorer.py"


class ParamPublic(Public):
    type: str = Field(..., examples=["string"])
    default: Any = None
    choices: list[Any] | None = None
    description: str = ""
    required: bool = False


class ScorerPublic(Public):
    name: str = Field(..., examples=["classification_f1"])
    version: str = Field(..., examples=["1.0.0"])
    description: str
    task_type: str = Field(..., examples=["classification"])
    supported_formats: list[str] = Field(..., examples=[["csv"]])
    parameters: dict[str, ParamPublic]
    created_at: str | None = Field(None, description="When the scorer was registered")
    last_used: str | None = Field(None, description="Last job that used it; null if never")
    usage_count: int = Field(0, description="Jobs run with this scorer (from the job store)")
    author: str | None = None
    documentation: str | None = None
    input_format: dict[str, Any] | None = None
    output_format: dict[str, Any] | None = None
    examples: list[dict[str, Any]] | None = None
    updated_at: str | None = None
    success_rate: float | None = Field(None, description="Completed / finished jobs; null if none")
    source: str | None = Field(None, description="builtin, a file path or an entry point")


class ScorerTable(Public):
    """``format=table``: the list as column names and rows."""

    format: Literal["table"] = "table"
    columns: list[str]
    rows: list[list[Any]]


class ScorerTest(Request):
    workspace_path: ApiPath = Field(..., examples=["examples/classification"])
    parameters: FreeObject = Field(default_factory=dict, examples=[{"average": "macro"}])
    validate_only: bool = Field(False, description="Check workspace, data and parameters only")


class ScorerTestPublic(Public):
    scorer: str
    test_status: Literal["passed", "failed"]
    execution_time: float
    result: dict[str, Any] | None = None
    validation: dict[str, bool]
    performance: dict[str, Any] | None = None
    error: dict[str, Any] | None = Field(None, description="Why scoring failed")
    errors: list[str] | None = Field(None, description="Validation findings")


class ScorerLoad(Request):
    file_path: ApiPath = Field(..., examples=[FILE_EXAMPLE])
    auto_watch: bool = Field(False, description="Reload on every change of the file")
    check_interval: float = Field(1.0, ge=0.05, le=3600, description="Seconds between checks")
    force_reload: bool = Field(False, description="Replace scorers already registered")


class LoadedScorer(Public):
    name: str
    version: str
    file_path: str
    loaded_at: str


class ScorersLoaded(Public):
    loaded_scorers: list[LoadedScorer]
    watch_enabled: bool
    total_loaded: int


class ScorerReload(Request):
    file_path: ApiPath = Field(..., examples=[FILE_EXAMPLE])
    scorer_name: Name | None = Field(None, examples=["custom_nlp_scorer"])


class ReloadedScorer(Public):
    name: str
    old_version: str | None
    new_version: str
    reloaded_at: str


class ScorersReloaded(Public):
    reloaded_scorers: list[ReloadedScorer]
    total_reloaded: int


class ScorerWatch(Request):
    file_path: ApiPath = Field(..., examples=[FILE_EXAMPLE])
    check_interval: float = Field(1.0, ge=0.05, le=3600)


class WatchStarted(Public):
    file_path: str
    watch_started: bool
    check_interval: float
    started_at: str


class WatchStopped(Public):
    file_path: str
    watch_stopped: bool
    stopped_at: str


class WatchedFile(Public):
    file_path: str
    check_interval: float
    started_at: str
    last_check: str | None = None
    total_reloads: int = 0
    last_error: dict[str, Any] | None = Field(None, description="Why the last reload failed")


class WatchStatus(Public):
    watched_files: list[WatchedFile]
    total_watched: int
