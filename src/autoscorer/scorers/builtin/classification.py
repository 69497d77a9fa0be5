"""Built-in classification scorers: ``classification_f1`` and ``classification_accuracy``.

The math lives in :mod:`autoscorer.scorers.functional.classification`; see
``docs/scorers/classification.md`` for every metric and edge-case choice.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from autoscorer.errors import InvalidParameter
from autoscorer.scorers import artifacts
from autoscorer.scorers.base import Param, ScoreOutput, Scorer, ScoringContext
from autoscorer.scorers.builtin.classification_data import ClassificationData, load_classification
from autoscorer.scorers.builtin.tabular_common import SAMPLE_WEIGHT, json_safe
from autoscorer.scorers.functional import classification as F
from autoscorer.scorers.ranking import DEFAULT_THRESHOLDS
from autoscorer.scorers.registry import register_scorer

INLINE_MATRIX_UP_TO = 100  # classes; bigger confusion matrices go only to the artifact

_CSV_INPUT: dict[str, Any] = {
    "gt_file": "input/gt.csv",
    "pred_file": "output/pred.csv",
    "required_columns": ["id", "label"],
    "data_types": {"id": "string|integer", "label": "string|integer"},
}


def _at_least(name: str, value: int, low: int) -> None:
    if value < low:
        raise InvalidParameter(
            f"parameter '{name}' must be >= {low}, got {value}",
            field=name,
            details={"provided": value, "minimum": low},
        )


class _ClassificationScorer(Scorer):
    task_type = "classification"
    supported_formats: ClassVar[list[str]] = ["csv"]
    gt_file = _CSV_INPUT["gt_file"]
    ground_truth: ClassVar[tuple[str, ...] | None] = ("input/gt.csv",)
    pred_file = _CSV_INPUT["pred_file"]
    required_columns: ClassVar[list[str]] = _CSV_INPUT["required_columns"]
    data_types: ClassVar[dict[str, str]] = _CSV_INPUT["data_types"]
    thresholds = DEFAULT_THRESHOLDS


@register_scorer
class ClassificationF1(_ClassificationScorer):
    """F1, precision and recall (macro, micro, weighted), accuracy, per class, confusion matrix."""

    name = "classification_f1"
    version = "1.0.0"
    description = (
        "F1-score calculation for multi-class classification tasks with support for "
        "different averaging strategies"
    )
    documentation = "docs/scorers/classification.md"
    primary_metric = "f1_macro"  # with the default average; see `primary`
    additional_metrics: ClassVar[list[str]] = [
        "f1",
        *(
            f"{m}_{a}"
            for m in ("f1", "precision", "recall")
            for a in F.AVERAGES
            if m != "f1" or a != "macro"
        ),
        "precision",
        "recall",
        "accuracy",
        "per_class",
        "confusion_matrix",
    ]
    parameters: ClassVar[dict[str, Param]] = {
        "average": Param(
            "string",
            "macro",
            choices=F.AVERAGES,
            description="Averaging strategy of the primary metric 'f1' (and of 'precision', "
            "'recall'); all three averages are always reported as f1_macro, f1_micro, ...",
        ),
        "labels": Param(
            "array",
            None,
            description="List of labels to include in calculation. If None, all labels are "
            "used: the union of ground-truth and predicted labels (scikit-learn's default)",
        ),
        "zero_division": Param(
            "string|number",
            "warn",
            choices=("warn", 0, 1, "nan"),
            description="Value of a 0/0 precision, recall or F1: 'warn' gives 0 and a "
            "warning, 'nan' gives null and averages skip it",
        ),
        "sample_weight": SAMPLE_WEIGHT,
        "max_error_cases": Param(
            "integer", 1000, description="Rows written to the error-cases artifact"
        ),
    }
    examples: ClassVar[list[dict[str, Any]]] = [
        {
            "name": "Basic usage",
            "description": "Standard F1 calculation with macro averaging",
            "parameters": {"average": "macro"},
            "expected_output": {"f1": 0.85, "f1_macro": 0.85, "accuracy": 0.88},
        },
        {
            "name": "Selected labels, weighted rows",
            "description": "Average over two labels only, weights from a gt.csv column",
            "parameters": {"labels": ["cat", "dog"], "sample_weight": "weight"},
        },
    ]

    def __init__(self, params: dict[str, Any] | None = None) -> None:
        super().__init__(params)
        _at_least("max_error_cases", self.params["max_error_cases"], 0)

    @property
    def primary(self) -> str:
        """``f1_<average>``: the score follows the ``average`` parameter."""
        return f"f1_{self.params['average']}"

    def evaluate(self, ctx: ScoringContext) -> ScoreOutput:
        data = load_classification(ctx, self.params["sample_weight"])
        k = len(data.space)
        selected = data.space.select(self.params["labels"])
        cm, counts, accuracy = data.counts()  # after select(), which may add classes
        metrics, warnings = self._metrics(data, counts.select(selected), selected)
        metrics["accuracy"] = accuracy
        if cm is not None and len(data.space) <= INLINE_MATRIX_UP_TO:
            metrics["confusion_matrix"] = cm.tolist()
            metrics["class_labels"] = list(data.space.names)
        out = ScoreOutput(
            metrics=json_safe(metrics),
            warnings=warnings,
            data_size=data.size,
            num_classes=k,
            data_loading=data.load_seconds,
        )
        if ctx.write_artifacts:
            out.artifacts = self._artifacts(ctx, data, cm, metrics["per_class"])
        return out

    def _metrics(
        self, data: ClassificationData, counts: F.ClassCounts, selected: np.ndarray
    ) -> tuple[dict[str, Any], list[str]]:
        zero_div = self.params["zero_division"]
        names = [data.space.names[i] for i in selected]
        metrics: dict[str, Any] = {}
        warnings: list[str] = []  # per-class ones (below) cover macro and weighted
        for average in F.AVERAGES:
            prf = F.precision_recall_f1(counts, average, zero_div, names)
            metrics[f"f1_{average}"] = prf.f1
            metrics[f"precision_{average}"] = prf.precision
            metrics[f"recall_{average}"] = prf.recall
            if average == "micro":
                warnings += prf.warnings
        chosen = self.params["average"]
        metrics = {
            "f1": metrics[f"f1_{chosen}"],
            "precision": metrics[f"precision_{chosen}"],
            "recall": metrics[f"recall_{chosen}"],
            **metrics,
        }
        per = F.precision_recall_f1(counts, None, zero_div, names)
        metrics["per_class"] = {
            name: {"precision": p, "recall": r, "f1": f, "support": s}
            for name, p, r, f, s in zip(
                names,
                *(np.asarray(a).tolist() for a in (per.precision, per.recall, per.f1)),
                np.asarray(per.support).tolist(),
                strict=True,
            )
        }
        return metrics, per.warnings + warnings

    def _artifacts(
        self,
        ctx: ScoringContext,
        data: ClassificationData,
        cm: np.ndarray | None,
        per_class: dict[str, dict[str, float]],
    ) -> dict[str, Any]:
        out_dir, names = ctx.artifacts_dir, data.space.names
        files = {
            "per_class": artifacts.write_csv(
                out_dir,
                "per_class.csv",
                ["label", "precision", "recall", "f1", "support"],
                ([k, *json_safe(list(v.values()))] for k, v in per_class.items()),
            ),
            "error_cases": self._error_cases(ctx, data),
        }
        if cm is not None:
            matrix = {"labels": names, "rows": "ground truth", "columns": "prediction"}
            matrix["matrix"] = cm.tolist()
            files["confusion_matrix_json"] = artifacts.write_json(
                out_dir, "confusion_matrix.json", matrix
            )
            files["confusion_matrix"] = artifacts.confusion_matrix_png(
                out_dir / "confusion_matrix.png", cm, names
            )
        return files

    def _error_cases(self, ctx: ScoringContext, data: ClassificationData) -> Any:
        wrong = np.flatnonzero(data.y_true != data.y_pred)[: self.params["max_error_cases"]]
        ids = data.ids.take(wrong).to_pylist()
        names = data.space.names
        rows = (
            (i, names[t], names[p])
            for i, t, p in zip(ids, data.y_true[wrong], data.y_pred[wrong], strict=True)
        )
        return artifacts.write_csv(
            ctx.artifacts_dir, "error_cases.csv", ["id", "true_label", "predicted_label"], rows
        )


@register_scorer
class ClassificationAccuracy(_ClassificationScorer):
    """Accuracy and balanced accuracy; top-k accuracy when ``prob_<label>`` columns exist."""

    name = "classification_accuracy"
    version = "1.0.0"
    description = (
        "Accuracy for classification; top-k accuracy from prob_<label> score columns when "
        "the predictions have them"
    )
    documentation = "docs/scorers/classification.md"
    primary_metric = "accuracy"
    additional_metrics: ClassVar[list[str]] = ["balanced_accuracy", "top_k_accuracy"]
    parameters: ClassVar[dict[str, Param]] = {
        "top_k": Param(
            "integer",
            5,
            description="k of top-k accuracy, reported as top_<k>_accuracy when the "
            "predictions have prob_<label> columns",
        ),
        "sample_weight": SAMPLE_WEIGHT,
    }
    examples: ClassVar[list[dict[str, Any]]] = [
        {
            "name": "Top-5 accuracy",
            "description": "pred.csv with id,label,prob_cat,prob_dog,... columns",
            "parameters": {"top_k": 5},
            "expected_output": {"accuracy": 0.88, "top_5_accuracy": 0.97},
        }
    ]

    def evaluate(self, ctx: ScoringContext) -> ScoreOutput:
        data = load_classification(ctx, self.params["sample_weight"], with_scores=True)
        _, counts, accuracy = data.counts()
        metrics: dict[str, Any] = {
            "accuracy": accuracy,
            "balanced_accuracy": F.balanced_accuracy(counts),
        }
        warnings = []
        if data.scores is not None:
            k = self.params["top_k"]
            n_score = data.scores.matrix.shape[1]
            if k >= n_score:
                warnings.append(
                    f"top_k={k} is at least the number of score columns ({n_score}), so "
                    f"top_{k}_accuracy is always 1.0"
                )
            metrics[f"top_{k}_accuracy"] = F.top_k_accuracy(
                data.scores.y_true, data.scores.matrix, k, data.weights
            )
        return ScoreOutput(
            metrics=json_safe(metrics),
            warnings=warnings,
            data_size=data.size,
            num_classes=len(data.space),
            data_loading=data.load_seconds,
        )

    def __init__(self, params: dict[str, Any] | None = None) -> None:
        super().__init__(params)
        _at_least("top_k", self.params["top_k"], 1)
