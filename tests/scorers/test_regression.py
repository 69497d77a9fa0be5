"""regression_rmse against scikit-learn, to 1e-9, and its bad inputs."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn import metrics as skm

from autoscorer.errors import AutoScorerError
from autoscorer.pipeline.scoring import score
from autoscorer.scorers.functional import regression as R
from autoscorer.scorers.registry import get_scorer

TOL = 1e-9


def sk_metrics(y: np.ndarray, p: np.ndarray, w: np.ndarray | None = None) -> dict[str, float]:
    return {
        "rmse": skm.root_mean_squared_error(y, p, sample_weight=w),
        "mse": skm.mean_squared_error(y, p, sample_weight=w),
        "mae": skm.mean_absolute_error(y, p, sample_weight=w),
        "r2": skm.r2_score(y, p, sample_weight=w),
    }


def assert_matches(metrics: dict[str, Any], ref: dict[str, float]) -> None:
    for name, value in ref.items():
        if math.isnan(value):
            assert metrics[name] is None, name
        else:
            assert abs(metrics[name] - value) <= TOL * max(1.0, abs(value)), name


def regression_ws(
    csv_workspace: Callable[..., Path],
    y: np.ndarray,
    p: np.ndarray,
    *,
    weights: np.ndarray | None = None,
    meta: dict[str, Any] | None = None,
    seed: int = 0,
) -> Path:
    """gt.csv (with an optional 'w' column) and pred.csv with rows in random order."""
    w_head = ",w" if weights is not None else ""
    gt = f"id,value{w_head}\n" + "".join(
        f"id{i},{float(v)!r}" + (f",{float(weights[i])!r}" if weights is not None else "") + "\n"
        for i, v in enumerate(y)
    )
    order = np.random.default_rng(seed).permutation(len(p))
    pred = "id,value\n" + "".join(f"id{i},{float(p[i])!r}\n" for i in order)
    return csv_workspace("regression_rmse", gt, pred, meta=meta)


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("weighted", [False, True])
def test_matches_sklearn(seed: int, weighted: bool, csv_workspace: Callable[..., Path]) -> None:
    rng = np.random.default_rng(seed)
    y = rng.normal(5, 10, 3000)
    p = y + rng.normal(0, 2, 3000) * rng.random(3000)
    w = rng.random(3000) * 4 if weighted else None
    params = {"sample_weight": "w"} if weighted else {}
    ws = regression_ws(csv_workspace, y, p, weights=w, meta={"scorer_params": params}, seed=seed)
    result = score(ws)
    ref = sk_metrics(y, p, w)
    assert_matches(result.metrics, ref)
    assert result.summary.score == result.metrics["rmse"]
    assert result.metadata.data_size == 3000


def test_weights_as_list(csv_workspace: Callable[..., Path]) -> None:
    y, p = np.array([1.0, 2.0, 4.0, 8.0]), np.array([1.5, 2.0, 3.0, 9.0])
    w = [1.0, 0.5, 2.0, 0.0]
    ws = regression_ws(csv_workspace, y, p, meta={"scorer_params": {"sample_weight": w}})
    assert_matches(score(ws).metrics, sk_metrics(y, p, np.array(w)))


@pytest.mark.parametrize(
    ("y", "p", "r2"),
    [
        ([3.0, 3.0, 3.0], [3.0, 3.0, 3.0], 1.0),  # constant gt, perfect prediction
        ([3.0, 3.0, 3.0], [3.0, 2.0, 3.0], 0.0),  # constant gt, any error
    ],
    ids=["constant-perfect", "constant-wrong"],
)
def test_r2_constant_ground_truth(
    y: list[float], p: list[float], r2: float, csv_workspace: Callable[..., Path]
) -> None:
    ws = regression_ws(csv_workspace, np.array(y), np.array(p))
    result = score(ws)
    assert result.metrics["r2"] == r2 == skm.r2_score(y, p)
    assert any("constant" in w for w in result.warnings)


def test_single_row_gives_null_r2(csv_workspace: Callable[..., Path]) -> None:
    ws = regression_ws(csv_workspace, np.array([2.0]), np.array([1.0]))
    result = score(ws)
    assert result.metrics == {"rmse": 1.0, "mse": 1.0, "mae": 1.0, "r2": None}
    saved = json.loads((ws / "output" / "result.json").read_text())
    assert saved["metrics"]["r2"] is None and saved["warnings"]


def test_no_default_thresholds_but_meta_thresholds_apply(
    csv_workspace: Callable[..., Path],
) -> None:
    y, p = np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 3.5])
    assert score(regression_ws(csv_workspace, y, p)).summary.rank is None
    meta = {"thresholds": {"S": 0.1, "A": 0.3, "pass": 0.5}}
    ws = csv_workspace(
        "regression_rmse",
        "id,value\n1,1\n2,2\n3,3\n",
        "id,value\n1,1\n2,2\n3,3.5\n",
        meta=meta,
        name="with-thresholds",
    )
    summary = score(ws).summary
    assert summary.rank == "A" and summary.pass_ is True  # rmse 0.2887: lower is better


def test_functional_r2_and_friends() -> None:
    rng = np.random.default_rng(5)
    y, p, w = rng.random(100), rng.random(100), rng.random(100)
    assert abs(R.r2_score(y, p, w) - skm.r2_score(y, p, sample_weight=w)) <= TOL
    assert abs(R.root_mean_squared_error(y, p) - skm.root_mean_squared_error(y, p)) <= TOL
    assert (
        abs(R.mean_absolute_error(y, p, w) - skm.mean_absolute_error(y, p, sample_weight=w)) < TOL
    )
    assert abs(R.mean_squared_error(y, p) - skm.mean_squared_error(y, p)) <= TOL
    assert math.isnan(R.r2_score(y[:1], p[:1]))


def test_weighted_functions_by_hand() -> None:
    """Known values: errors (0, 0, 2) with weights (1, 1, 2) -> MSE 8/4, MAE 4/4."""
    y, p, w = np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 5.0]), np.array([1.0, 1.0, 2.0])
    assert R.mean_squared_error(y, p, w) == 2.0
    assert R.root_mean_squared_error(y, p, w) == math.sqrt(2.0)
    assert R.mean_absolute_error(y, p, w) == 1.0
    assert R.mean_squared_error(y, p) == pytest.approx(4 / 3, abs=TOL)


def test_two_samples_have_an_r2() -> None:
    """Two samples are enough: y (1, 3), p (1, 2): 1 - 1/2."""
    y, p = np.array([1.0, 3.0]), np.array([1.0, 2.0])
    assert R.r2_score(y, p) == 0.5
    metrics = R.regression_metrics(y, p)
    assert (metrics.r2, metrics.warnings) == (0.5, [])


def test_degenerate_r2_warnings_word_for_word() -> None:
    one = R.regression_metrics(np.array([5.0]), np.array([4.0]))
    assert one.warnings == ["R² is not defined for fewer than two samples; reported as null"]
    constant = R.regression_metrics(np.array([2.0, 2.0]), np.array([2.0, 3.0]))
    assert constant.r2 == 0.0
    assert constant.warnings == [
        "ground truth is constant, so R² is 1.0 for a perfect prediction and 0.0 otherwise"
    ]


def test_metadata() -> None:
    cls = get_scorer("regression_rmse")
    info = cls.describe()
    assert info["output_format"] == {
        "primary_metric": "rmse",
        "higher_is_better": False,
        "additional_metrics": ["mse", "mae", "r2"],
    }
    assert info["input_format"]["required_columns"] == ["id", "value"]
    assert info["parameters"]["sample_weight"]["type"] == "array|string"
    assert cls.thresholds is None


BAD_VALUES = {
    "non-numeric": ("abc", "'abc' is not a number"),
    "nan": ("nan", "nan is not allowed"),
    "inf": ("inf", "inf is not allowed"),
    "negative inf": ("-inf", "-inf is not allowed"),
    "missing": ("", "value is missing"),
}


@pytest.mark.parametrize("case", BAD_VALUES, ids=list(BAD_VALUES))
def test_bad_prediction_value(case: str, csv_workspace: Callable[..., Path]) -> None:
    bad, text = BAD_VALUES[case]
    pred = "id,value\n" + "".join(f"{i},{i}.5\n" for i in range(40)) + f"40,{bad}\n"
    gt = "id,value\n" + "".join(f"{i},{i}\n" for i in range(41))
    ws = csv_workspace("regression_rmse", gt, pred)
    (ws / "output" / "result.json").write_text('{"previous": true}')
    with pytest.raises(AutoScorerError) as exc:
        score(ws)
    assert exc.value.code == "INVALID_VALUE"
    assert exc.value.message == f"output/pred.csv data row 41 (1-based), column 'value': {text}" + (
        " (values must be finite numbers)" if "allowed" in text else ""
    )
    assert exc.value.details["row"] == 41 and exc.value.details["file"] == "output/pred.csv"
    assert (ws / "output" / "result.json").read_text() == '{"previous": true}'
