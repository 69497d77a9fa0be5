"""The scorer interface: a thin class around pure metric functions.

A scorer declares its metadata as class attributes (everything
``GET /api/v1/scorers/{name}`` shows) and implements :meth:`Scorer.evaluate`.
"""

from __future__ import annotations

import abc
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from autoscorer.errors import InvalidParameter, MissingParameter
from autoscorer.workspace.ground_truth import ALWAYS_HIDDEN, InputPolicy, check_pattern
from autoscorer.workspace.layout import Workspace
from autoscorer.workspace.models import Meta

_TYPE_CHECKS: dict[str, Any] = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v),
    "boolean": lambda v: isinstance(v, bool),
    "array": lambda v: isinstance(v, list | tuple),
    "object": lambda v: isinstance(v, dict),
    "null": lambda v: v is None,
}


@dataclass(frozen=True)
class Param:
    """One entry of a scorer's parameter schema.

    ``type`` is a JSON type name, or several joined by ``|`` (``"number|string"``).
    """

    type: str
    default: Any = None
    choices: tuple[Any, ...] | None = None
    description: str = ""
    required: bool = False

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type, "default": self.default}
        if self.choices is not None:
            out["choices"] = list(self.choices)
        out["description"] = self.description
        out["required"] = self.required
        return out

    def check(self, name: str, value: Any) -> Any:
        if value is None and not self.required:
            return value
        types = self.type.split("|")
        if not any(_TYPE_CHECKS.get(t, lambda _v: True)(value) for t in types):
            raise InvalidParameter(
                f"parameter '{name}' must be of type {self.type}, got {type(value).__name__} "
                f"{value!r}",
                field=name,
                details={"expected_type": self.type, "provided": value},
            )
        if self.choices is not None and value not in self.choices:
            raise InvalidParameter(
                f"parameter '{name}' must be one of {list(self.choices)}, got {value!r}",
                field=name,
                details={"choices": list(self.choices), "provided": value},
            )
        return value


def validate_params(
    schema: dict[str, Param], params: dict[str, Any], scorer: str
) -> dict[str, Any]:
    """Defaults filled in, types and choices checked; unknown names rejected."""
    unknown = sorted(set(params) - set(schema))
    if unknown:
        raise InvalidParameter(
            f"scorer '{scorer}' has no parameter(s) {unknown}; known: {sorted(schema)}",
            field=unknown[0],
            details={"unknown": unknown, "available": sorted(schema)},
        )
    out: dict[str, Any] = {}
    for name, spec in schema.items():
        if name not in params:
            if spec.required:
                raise MissingParameter(f"scorer '{scorer}' needs parameter '{name}'", field=name)
            out[name] = spec.default
        else:
            out[name] = spec.check(name, params[name])
    return out


@dataclass
class ScoringContext:
    """What a scorer may read: the workspace, its meta, the data files and limits."""

    workspace: Workspace
    meta: Meta
    gt_path: Path
    pred_path: Path
    artifacts_dir: Path
    write_artifacts: bool = True
    max_file_bytes: int = 2 * 1024**3

    @property
    def encoding(self) -> str:
        return self.meta.data.encoding

    @property
    def has_header(self) -> bool:
        return self.meta.data.has_header


@dataclass
class ScoreOutput:
    """What :meth:`Scorer.evaluate` returns; the pipeline turns it into ``result.json``."""

    metrics: dict[str, Any]
    artifacts: dict[str, Path] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    data_size: int | None = None
    num_classes: int | None = None
    data_loading: float = 0.0  # seconds spent reading files, part of scoring_time


def _unique(patterns: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(patterns))


def _declared(cls: type[Scorer], pattern: str) -> str:
    try:
        return check_pattern(pattern)
    except ValueError as exc:
        raise InvalidParameter(f"scorer '{cls.name}': {exc}", field="scorer") from exc


class Scorer(abc.ABC):
    """Base class of every scorer. Subclass, set the metadata, implement ``evaluate``."""

    name: ClassVar[str]
    version: ClassVar[str] = "1.0.0"
    description: ClassVar[str] = ""
    task_type: ClassVar[str] = "custom"
    supported_formats: ClassVar[list[str]] = ["csv"]
    gt_file: ClassVar[str] = "input/gt.csv"
    pred_file: ClassVar[str] = "output/pred.csv"
    required_columns: ClassVar[list[str]] = ["id"]
    data_types: ClassVar[dict[str, str]] = {}
    parameters: ClassVar[dict[str, Param]] = {}
    primary_metric: ClassVar[str]
    higher_is_better: ClassVar[bool] = True
    additional_metrics: ClassVar[list[str]] = []
    examples: ClassVar[list[dict[str, Any]]] = []
    author: ClassVar[str] = "AutoScorer Team"
    documentation: ClassVar[str | None] = None
    # default rank thresholds on the primary metric (see ranking.py); None = none
    thresholds: ClassVar[dict[str, float] | None] = None
    # every path under input/ read as an answer (globs allowed; gt_file is added). None: not
    # declared, so the sandbox sees only ``public_inputs`` of input/ (docs/custom-scorers.md)
    ground_truth: ClassVar[tuple[str, ...] | None] = None
    public_inputs: ClassVar[tuple[str, ...]] = ()

    def __init__(self, params: dict[str, Any] | None = None) -> None:
        self.params = validate_params(self.parameters, dict(params or {}), self.name)

    @property
    def primary(self) -> str:
        """The metric that is the score for these params (default: ``primary_metric``)."""
        return self.primary_metric

    @abc.abstractmethod
    def evaluate(self, ctx: ScoringContext) -> ScoreOutput:
        """Compute the metrics; ``metrics[primary_metric]`` is the score."""

    @classmethod
    def ground_truth_paths(cls, ws: Workspace, meta: Meta) -> tuple[str, ...] | None:
        """The ground-truth paths this scorer reads in ``ws``; None when it declares none.

        Override to add paths the data itself names (segmentation: the mask files
        its ``gt.json`` lists).
        """
        if cls.ground_truth is None:
            return None
        return (cls.gt_file, *cls.ground_truth)

    @classmethod
    def input_policy(cls, ws: Workspace, meta: Meta) -> InputPolicy:
        """What of ``input/`` a sandbox running for this scorer may see."""
        declared = cls.ground_truth_paths(ws, meta)
        extra = tuple(meta.ground_truth)
        if declared is None:
            public = tuple(_declared(cls, p) for p in cls.public_inputs)
            return InputPolicy(_unique(ALWAYS_HIDDEN + extra), public, meta.expose_gt)
        hidden = tuple(_declared(cls, p) for p in declared if p.split("/")[0] == "input")
        return InputPolicy(_unique(ALWAYS_HIDDEN + hidden + extra), expose=meta.expose_gt)

    @classmethod
    def input_format(cls) -> dict[str, Any]:
        return {
            "gt_file": cls.gt_file,
            "pred_file": cls.pred_file,
            "required_columns": list(cls.required_columns),
            "data_types": dict(cls.data_types),
        }

    @classmethod
    def output_format(cls) -> dict[str, Any]:
        return {
            "primary_metric": cls.primary_metric,
            "higher_is_better": cls.higher_is_better,
            "additional_metrics": list(cls.additional_metrics),
        }

    @classmethod
    def describe(cls, *, include_examples: bool = True) -> dict[str, Any]:
        """Static metadata, as ``GET /api/v1/scorers/{name}`` shows it."""
        out: dict[str, Any] = {
            "name": cls.name,
            "version": cls.version,
            "description": cls.description or (cls.__doc__ or "").strip().split("\n")[0],
            "task_type": cls.task_type,
            "supported_formats": list(cls.supported_formats),
            "author": cls.author,
            "documentation": cls.documentation,
            "parameters": {k: p.to_dict() for k, p in cls.parameters.items()},
            "input_format": cls.input_format(),
            "output_format": cls.output_format(),
        }
        if include_examples:
            out["examples"] = list(cls.examples)
        return out
