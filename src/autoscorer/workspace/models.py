"""pydantic models of ``meta.json`` and ``output/result.json``."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

_MEM_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]i?|[kmgt]i?|B|b)?\s*$")
_MEM_UNITS = {
    "": 1,
    "b": 1,
    "k": 1000,
    "m": 1000**2,
    "g": 1000**3,
    "t": 1000**4,
    "ki": 1024,
    "mi": 1024**2,
    "gi": 1024**3,
    "ti": 1024**4,
}


def parse_memory(value: str | int | float) -> int:
    """Bytes in a Kubernetes-style quantity: ``"512Mi"``, ``"4Gi"``, ``"1G"``, ``1024``."""
    if isinstance(value, int | float):
        return int(value)
    m = _MEM_RE.match(value)
    if not m:
        raise ValueError(f"invalid memory quantity {value!r} (use e.g. '512Mi' or '4Gi')")
    number, unit = m.groups()
    return int(float(number) * _MEM_UNITS[(unit or "").lower()])


def format_bytes(n: float) -> str:
    """Human quantity in binary units, as the contract shows (``"3.8Gi"``)."""
    for unit in ("", "Ki", "Mi", "Gi", "Ti"):
        if abs(n) < 1024 or unit == "Ti":
            return f"{n:.0f}{unit or 'B'}" if unit == "" else f"{n:.1f}{unit}"
        n /= 1024
    return f"{n:.1f}Ti"


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class Resources(_Model):
    cpu: float = Field(1.0, gt=0, description="CPU cores (fractional allowed)")
    memory: str = Field("2Gi", description="Memory limit, e.g. 512Mi or 4Gi")
    gpus: int = Field(0, ge=0)
    disk: str | None = None
    pids: int = Field(256, ge=1, description="Maximum number of processes")

    @field_validator("memory")
    @classmethod
    def _check_memory(cls, v: str) -> str:
        if parse_memory(v) <= 0:
            raise ValueError("memory must be positive")
        return v

    @field_validator("disk")
    @classmethod
    def _check_disk(cls, v: str | None) -> str | None:
        if v is not None and parse_memory(v) < 1024**2:
            raise ValueError("disk must be at least 1Mi (e.g. '512Mi' or '4Gi')")
        return v

    @property
    def memory_bytes(self) -> int:
        return parse_memory(self.memory)


class Container(_Model):
    image: str
    cmd: list[str] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict)
    working_dir: str | None = None
    user: str | None = None
    pull_policy: Literal["never", "if-missing", "always"] = "if-missing"


class DataConfig(_Model):
    input_format: str | None = None
    output_format: str | None = None
    encoding: str = "utf-8"
    has_header: bool = True


class Meta(_Model):
    """``meta.json``: the job configuration of a workspace."""

    job_id: str | None = None
    task_type: str | None = None
    scorer: str | None = None
    version: str | None = None
    description: str | None = None
    time_limit: float = Field(1800, gt=0, description="Wall-time limit of inference (s)")
    resources: Resources = Field(default_factory=Resources)
    container: Container | None = None
    network_policy: Literal["none", "restricted", "bridge"] = "none"
    data: DataConfig = Field(default_factory=DataConfig)
    scorer_params: dict[str, Any] = Field(default_factory=dict)
    label_mapping: dict[str, Any] = Field(default_factory=dict)
    thresholds: dict[str, float] | None = Field(
        None, description="Rank thresholds S/A/B/C/D and 'pass'; see docs/results.md"
    )
    expose_gt: bool = Field(
        False, description="Mount the ground truth into the sandbox (host's meta.json or admin)"
    )
    ground_truth: list[str] = Field(
        default_factory=list,
        description="More ground-truth paths under input/ (globs allowed), never mounted",
    )

    @field_validator("ground_truth")
    @classmethod
    def _check_ground_truth(cls, v: list[str]) -> list[str]:
        from autoscorer.workspace.ground_truth import check_pattern

        return [check_pattern(p) for p in v]


class Summary(_Model):
    score: float | None = None
    rank: str | None = None
    pass_: bool | None = Field(None, alias="pass")
    message: str = ""


class Artifact(_Model):
    path: str
    size: int
    type: str


class Timing(_Model):
    total_time: float = 0.0
    data_loading: float = 0.0
    inference_time: float = 0.0
    scoring_time: float = 0.0


class ResourceUsage(_Model):
    """A sandbox's resource use: peaks over the run, and the latest reading (``*_usage``:
    CPU cores and memory in use, GPUs assigned), live while it runs, the last one after."""

    peak_cpu: float | None = None
    peak_memory: str | None = None
    total_disk_io: str | None = None
    cpu_usage: float | None = None
    memory_usage: str | None = None
    gpu_usage: int | None = None


class Versioning(_Model):
    scorer: str | None = None
    version: str | None = None
    autoscorer_version: str
    timestamp: str


class ResultMetadata(_Model):
    job_id: str | None = None
    task_type: str | None = None
    data_size: int | None = None
    num_classes: int | None = None


class Provenance(_Model):
    gt_sha256: str | None = None
    pred_sha256: str | None = None
    scorer_source_sha256: str | None = None
    image_digest: str | None = None


class ErrorInfo(_Model):
    code: str
    message: str
    field: str | None = None
    details: dict[str, Any] = Field(default_factory=dict)


class Result(_Model):
    """``output/result.json``."""

    summary: Summary = Field(default_factory=Summary)
    metrics: dict[str, Any] = Field(default_factory=dict)
    artifacts: dict[str, Artifact] = Field(default_factory=dict)
    timing: Timing = Field(default_factory=Timing)
    resources: ResourceUsage = Field(default_factory=ResourceUsage)
    versioning: Versioning
    metadata: ResultMetadata = Field(default_factory=ResultMetadata)
    provenance: Provenance = Field(default_factory=Provenance)
    warnings: list[str] = Field(default_factory=list)
    error: ErrorInfo | None = None

    def to_json_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)
