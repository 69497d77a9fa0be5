"""Schemas of the scorer endpoints."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from autoscorer.api.schemas.common import ErrorPublic, Public, Request
from autoscorer.api.schemas.fields import ApiPath, FreeObject, Name
from autoscorer.api.schemas.results import SummaryPublic

FILE_EXAMPLE = "scorers/custom_scorer.py"


class ParamPublic(Public):
    type: str = Field(..., examples=["string"], description="JSON type(s), '|'-separated")
    default: Any = Field(..., description="Used when the parameter is not given")
    choices: list[Any] | None = Field(None, description="The allowed values, when limited")
    description: str
    required: bool


class InputFormat(Public):
    gt_file: str = Field(..., examples=["input/gt.csv"])
    pred_file: str = Field(..., examples=["output/pred.csv"])
    required_columns: list[str] = Field(..., examples=[["id", "label"]])
    data_types: dict[str, str] = Field(..., description="Column name -> type")
    ground_truth: list[str] | None = Field(
        None,
        description=(
            "Ground-truth paths the scorer reads (globs); never mounted into a sandbox. "
            "null: not declared, so a sandbox sees only public_inputs of input/"
        ),
        examples=[["input/gt.csv"]],
    )
    public_inputs: list[str] = Field(
        default_factory=list,
        description="Paths under input/ the submission may read",
        examples=[["input/data"]],
    )


class OutputFormat(Public):
    primary_metric: str = Field(..., examples=["f1_macro"])
    higher_is_better: bool
    additional_metrics: list[str]


class ScorerExample(Public):
    name: str
    description: str | None = None
    parameters: dict[str, Any] = Field(..., description="Parameter name -> value")
    expected_output: dict[str, Any] | None = Field(None, description="Metric name -> value")


class ScorerPublic(Public):
    """A scorer; the fields after ``usage_count`` come with details (always for one scorer)."""

    name: str = Field(..., examples=["classification_f1"])
    version: str = Field(..., examples=["1.0.0"])
    description: str
    task_type: str = Field(..., examples=["classification"])
    supported_formats: list[str] = Field(..., examples=[["csv"]])
    parameters: dict[str, ParamPublic] = Field(..., description="Parameter name -> its schema")
    created_at: str = Field(..., description="When the scorer was registered")
    last_used: str | None = Field(..., description="Last job that used it; null if never")
    usage_count: int = Field(..., ge=0, description="Jobs run with this scorer")
    author: str | None = None
    documentation: str | None = None
    input_format: InputFormat | None = None
    output_format: OutputFormat | None = None
    examples: list[ScorerExample] | None = Field(None, description="Without include_examples=false")
    updated_at: str | None = None
    success_rate: float | None = Field(None, description="Completed / finished jobs; null if none")
    source: str | None = Field(None, description="builtin, a file path or an entry point")


class ScorerTable(Public):
    """``format=table``: the list as column names and rows."""

    format: Literal["table"]
    columns: list[str] = Field(..., examples=[["name", "version", "task_type"]])
    rows: list[list[Any]] = Field(..., description="One row per scorer, values by column")


class ScorerTest(Request):
    workspace_path: ApiPath = Field(..., examples=["examples/classification"])
    parameters: FreeObject = Field(default_factory=dict, examples=[{"average": "macro"}])
    validate_only: bool = Field(False, description="Check workspace, data and parameters only")


class ScorerTestChecks(Public):
    workspace_valid: bool
    data_format_valid: bool
    parameters_valid: bool


class ScorerTestPerformance(Public):
    memory_usage: str = Field(..., examples=["2.2MB"])
    cpu_time: float = Field(..., description="CPU seconds of the scoring")


class ScorerTestResult(Public):
    """What the test run scored (nothing is written to the workspace)."""

    summary: SummaryPublic
    metrics: dict[str, Any] = Field(..., description="Metric name -> value")


class ScorerTestPublic(Public):
    scorer: str
    test_status: Literal["passed", "failed"]
    execution_time: float
    result: ScorerTestResult | None = Field(..., description="null with validate_only or failure")
    validation: ScorerTestChecks
    performance: ScorerTestPerformance | None
    error: ErrorPublic | None = Field(None, description="Why scoring failed")
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


class UnchangedScorer(Public):
    name: str
    version: str


class ScorersReloaded(Public):
    reloaded_scorers: list[ReloadedScorer]
    total_reloaded: int
    unchanged_scorers: list[UnchangedScorer] = Field(
        default_factory=list, description="The file's scorers already at its content"
    )
    message: str = Field(
        "", examples=["unchanged: the file's content is the version already loaded"]
    )


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


class WatchError(Public):
    code: Literal["WATCH_FAILED"]
    message: str
    at: str = Field(..., description="When the reload failed")


class WatchedFile(Public):
    file_path: str
    check_interval: float
    started_at: str
    last_check: str | None
    total_reloads: int = Field(..., ge=0)
    last_error: WatchError | None = Field(..., description="Why the last reload failed")


class WatchStatus(Public):
    watched_files: list[WatchedFile]
    total_watched: int
