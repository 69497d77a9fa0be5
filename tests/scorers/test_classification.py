"""classification_f1 / classification_accuracy against scikit-learn, to 1e-9."""

from __future__ import annotations

import csv
import json
import math
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from sklearn import metrics as skm

from autoscorer.errors import AutoScorerError
from autoscorer.pipeline.scoring import score
from autoscorer.scorers.functional import classification as F
from autoscorer.scorers.ranking import DEFAULT_THRESHOLDS
from autoscorer.scorers.registry import get_scorer

AVERAGES = ("macro", "micro", "weighted")
TOL = 1e-9


def close(ours: Any, ref: Any) -> bool:
    """Equal to 1e-9, with our None standing for scikit-learn's NaN."""
    if ours is None:
        return math.isnan(ref)
    return abs(float(ours) - float(ref)) <= TOL


def sk_metrics(
    y: list[Any],
    p: list[Any],
    *,
    labels: list[Any] | None = None,
    zero_division: Any = "warn",
    weights: list[float] | None = None,
) -> dict[str, Any]:
    """The classification_f1 metric set, computed by scikit-learn."""
    zd = np.nan if zero_division == "nan" else zero_division
    kw = {"labels": labels, "zero_division": zd, "sample_weight": weights}
    out: dict[str, Any] = {"accuracy": skm.accuracy_score(y, p, sample_weight=weights)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for avg in AVERAGES:
            prec, rec, f1, _ = skm.precision_recall_fscore_support(y, p, average=avg, **kw)
            out |= {f"precision_{avg}": prec, f"recall_{avg}": rec, f"f1_{avg}": f1}
        per = skm.precision_recall_fscore_support(y, p, average=None, **kw)
    names = labels if labels is not None else sorted(set(y) | set(p))
    out["per_class"] = {
        str(n): dict(zip(("precision", "recall", "f1", "support"), vals, strict=True))
        for n, *vals in zip(names, *per, strict=True)
    }
    return out


def assert_matches(metrics: dict[str, Any], ref: dict[str, Any]) -> None:
    for name in ["accuracy"] + [
        f"{m}_{a}" for m in ("precision", "recall", "f1") for a in AVERAGES
    ]:
        assert close(metrics[name], ref[name]), (name, metrics[name], ref[name])
    assert set(metrics["per_class"]) == set(ref["per_class"])
    for label, values in ref["per_class"].items():
        for key, value in values.items():
            assert close(metrics["per_class"][label][key], value), (label, key)


def write_case(
    csv_workspace: Callable[..., Path],
    y: list[Any],
    p: list[Any],
    *,
    shuffle: bool = True,
    meta: dict[str, Any] | None = None,
    gt_extra: dict[str, list[Any]] | None = None,
) -> Path:
    """gt.csv / pred.csv for labels y, p (pred rows shuffled), ids 'r<i>'."""
    ids = [f"r{i}" for i in range(len(y))]
    extra = gt_extra or {}
    gt_rows = [",".join(["id", "label", *extra])]
    gt_rows += [
        ",".join(map(str, [i, t, *(v[k] for v in extra.values())]))
        for k, (i, t) in enumerate(zip(ids, y, strict=True))
    ]
    order = np.random.default_rng(7).permutation(len(y)) if shuffle else range(len(y))
    pred_rows = ["id,label"] + [f"{ids[k]},{p[k]}" for k in order]
    return csv_workspace(
        "classification_f1", "\n".join(gt_rows) + "\n", "\n".join(pred_rows) + "\n", meta=meta
    )


def random_labels(
    n: int, classes: list[Any], seed: int, accuracy: float = 0.6
) -> tuple[list, list]:
    rng = np.random.default_rng(seed)
    y = [classes[i] for i in rng.integers(0, len(classes), n)]
    keep = rng.random(n) < accuracy
    p = [
        t if k else classes[j]
        for t, k, j in zip(y, keep, rng.integers(0, len(classes), n), strict=True)
    ]
    return y, p


CASES: dict[str, dict[str, Any]] = {
    "int labels": {"data": random_labels(3000, list(range(7)), 1)},
    "string labels": {"data": random_labels(3000, ["ant", "bee", "cat", "Dog", "eel"], 2)},
    "many int classes": {"data": random_labels(4000, list(range(0, 300, 3)), 3, 0.3)},
    "label never predicted": {"data": (["a", "b", "c", "c"] * 50, ["a", "b", "b", "b"] * 50)},
    "predicted label not in gt": {"data": (["a", "b"] * 50, ["a", "z"] * 50)},
    "single class": {"data": (["x"] * 20, ["x"] * 20)},
    "all wrong": {"data": (["a", "b", "c"] * 10, ["b", "c", "a"] * 10)},
    "zero_division 0": {"data": (["a", "b", "c"] * 9, ["a", "a", "d"] * 9), "zd": 0},
    "zero_division 1": {"data": (["a", "b", "c"] * 9, ["a", "a", "d"] * 9), "zd": 1},
    "zero_division nan": {"data": (["a", "b", "c"] * 9, ["a", "a", "d"] * 9), "zd": "nan"},
    "labels subset": {"data": random_labels(500, list("abcde"), 4), "labels": ["b", "d"]},
    "labels with absent label": {
        "data": random_labels(500, list("abc"), 5),
        "labels": ["c", "a", "q"],
    },
    "int labels subset": {"data": random_labels(500, [1, 2, 3, 10], 6), "labels": [10, 2]},
}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_f1_matches_sklearn(case: str, csv_workspace: Callable[..., Path]) -> None:
    spec = CASES[case]
    y, p = spec["data"]
    zd, labels = spec.get("zd", "warn"), spec.get("labels")
    params = {"zero_division": zd, "labels": labels}
    ws = write_case(csv_workspace, y, p, meta={"scorer_params": params})
    result = score(ws)
    assert_matches(result.metrics, sk_metrics(y, p, labels=labels, zero_division=zd))
    assert result.summary.score == result.metrics["f1"] == result.metrics["f1_macro"]
    assert result.metadata.data_size == len(y)


@pytest.mark.parametrize("source", ["column", "list"])
def test_sample_weight_matches_sklearn(source: str, csv_workspace: Callable[..., Path]) -> None:
    y, p = random_labels(2000, list("abcdef"), 8)
    weights = np.round(np.random.default_rng(9).random(len(y)) * 3, 3).tolist()
    param: Any = "w" if source == "column" else weights
    ws = write_case(
        csv_workspace,
        y,
        p,
        meta={"scorer_params": {"sample_weight": param}},
        gt_extra={"w": weights},
    )
    result = score(ws)
    assert_matches(result.metrics, sk_metrics(y, p, weights=weights))
    ref_cm = skm.confusion_matrix(y, p, sample_weight=weights)
    assert np.allclose(result.metrics["confusion_matrix"], ref_cm, atol=TOL, rtol=0)


def test_confusion_matrix_and_order_match_sklearn(csv_workspace: Callable[..., Path]) -> None:
    y, p = random_labels(1500, [5, 10, 2, 40], 10)  # numeric order 2 < 5 < 10 < 40
    result = score(write_case(csv_workspace, y, p))
    assert result.metrics["class_labels"] == ["2", "5", "10", "40"]
    assert result.metrics["confusion_matrix"] == skm.confusion_matrix(y, p).tolist()


@pytest.mark.parametrize("average", AVERAGES)
def test_average_picks_primary_metric(average: str, csv_workspace: Callable[..., Path]) -> None:
    y, p = random_labels(300, list("abc"), 11)
    ws = write_case(csv_workspace, y, p, meta={"scorer_params": {"average": average}})
    result = score(ws)
    assert result.summary.score == result.metrics[f"f1_{average}"] == result.metrics["f1"]
    assert result.metrics["precision"] == result.metrics[f"precision_{average}"]


def test_zero_division_warn_gives_zero_and_warning(csv_workspace: Callable[..., Path]) -> None:
    ws = write_case(csv_workspace, ["a", "b"] * 5, ["a", "a"] * 5)
    result = score(ws)
    assert result.metrics["per_class"]["b"]["precision"] == 0.0
    assert any("precision is ill-defined" in w and "'b'" in w for w in result.warnings)
    assert "warning" in result.summary.message


def test_zero_division_nan_is_null_in_result_json(csv_workspace: Callable[..., Path]) -> None:
    ws = write_case(
        csv_workspace,
        ["a", "b"] * 5,
        ["a", "a"] * 5,
        meta={"scorer_params": {"zero_division": "nan"}},
    )
    score(ws)
    saved = json.loads((ws / "output" / "result.json").read_text())
    assert saved["metrics"]["per_class"]["b"]["precision"] is None
    assert saved["metrics"]["precision_macro"] == 0.5  # the NaN class 'b' is skipped, like sklearn


def test_label_mapping_merges_and_renames(csv_workspace: Callable[..., Path]) -> None:
    y, p = ["0", "1", "2", "2"] * 10, ["0", "2", "1", "2"] * 10
    mapping = {"0": "cat", "1": "dog", "2": "dog"}
    result = score(write_case(csv_workspace, y, p, meta={"label_mapping": mapping}))
    named = [mapping[v] for v in y], [mapping[v] for v in p]
    assert_matches(result.metrics, sk_metrics(*named))
    assert result.metrics["class_labels"] == ["cat", "dog"]


def test_numeric_labels_compare_by_value(csv_workspace: Callable[..., Path]) -> None:
    ws = csv_workspace("classification_f1", "id,label\n1,1\n2,2\n", "id,label\n1,1.0\n2,2.0\n")
    assert score(ws).metrics["accuracy"] == 1.0


def test_artifacts(csv_workspace: Callable[..., Path]) -> None:
    y, p = random_labels(400, ["cat", "dog", "emu"], 12)
    ws = write_case(csv_workspace, y, p, meta={"scorer_params": {"max_error_cases": 5}})
    result = score(ws)
    assert set(result.artifacts) == {
        "confusion_matrix",
        "confusion_matrix_json",
        "error_cases",
        "per_class",
    }
    art = {k: Path(v.path) for k, v in result.artifacts.items()}
    assert all(p.parent == ws / "output" / "artifacts" for p in art.values())
    cm = json.loads(art["confusion_matrix_json"].read_text())
    assert cm["matrix"] == result.metrics["confusion_matrix"] and cm["labels"] == [
        "cat",
        "dog",
        "emu",
    ]
    with Image.open(art["confusion_matrix"]) as img:
        assert img.format == "PNG" and img.width > 100
    errors = list(csv.DictReader(art["error_cases"].open()))
    truth = dict(zip([f"r{i}" for i in range(len(y))], zip(y, p, strict=True), strict=True))
    wrong_ids = [f"r{i}" for i in range(len(y)) if y[i] != p[i]]
    assert [e["id"] for e in errors] == wrong_ids[:5]
    assert all(truth[e["id"]] == (e["true_label"], e["predicted_label"]) for e in errors)
    per = {r["label"]: r for r in csv.DictReader(art["per_class"].open())}
    assert float(per["dog"]["f1"]) == pytest.approx(result.metrics["per_class"]["dog"]["f1"])
    assert result.artifacts["confusion_matrix"].type == "image/png"


def test_no_artifacts_when_switched_off(csv_workspace: Callable[..., Path]) -> None:
    ws = write_case(csv_workspace, ["a", "b"], ["a", "a"])
    assert score(ws, write_artifacts=False).artifacts == {}
    assert not (ws / "output" / "artifacts").exists()


def test_many_classes_keep_matrix_out_of_metrics(csv_workspace: Callable[..., Path]) -> None:
    classes = [f"c{i:03d}" for i in range(150)]
    y, p = random_labels(3000, classes, 13)
    result = score(write_case(csv_workspace, y, p))
    assert "confusion_matrix" not in result.metrics
    assert "confusion_matrix" in result.artifacts
    assert_matches(result.metrics, sk_metrics(y, p))


def test_sparse_integer_labels(csv_workspace: Callable[..., Path]) -> None:
    y, p = random_labels(1000, [0, 7, 10**9, -5, 10**12], 14)
    result = score(write_case(csv_workspace, y, p))
    assert_matches(result.metrics, sk_metrics(y, p))
    assert result.metrics["confusion_matrix"] == skm.confusion_matrix(y, p).tolist()


def test_thousands_of_labels_without_raw_matrix(csv_workspace: Callable[..., Path]) -> None:
    classes = [f"k{i}" for i in range(2500)]  # 2500 x 2500 local codes: per-row path
    y, p = random_labels(6000, classes, 15, 0.5)
    result = score(write_case(csv_workspace, y, p, shuffle=False), write_artifacts=False)
    assert_matches(result.metrics, sk_metrics(y, p))
    assert result.metadata.num_classes == len(set(y) | set(p))


# --- classification_accuracy -------------------------------------------------------------


def scores_case(
    csv_workspace: Callable[..., Path], n: int, classes: int, seed: int, params: dict[str, Any]
) -> tuple[Path, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, n)
    s = np.round(rng.random((n, classes)), 1)  # one decimal: plenty of ties
    p = s.argmax(axis=1)
    head = ["id", "label", *(f"prob_{c}" for c in range(classes))]
    gt = "id,label\n" + "".join(f"{i},{t}\n" for i, t in enumerate(y))
    rows = [",".join(map(str, [i, p[i], *s[i]])) for i in rng.permutation(n)]
    pred = ",".join(head) + "\n" + "\n".join(rows) + "\n"
    ws = csv_workspace("classification_accuracy", gt, pred, meta={"scorer_params": params})
    return ws, y, p, s


@pytest.mark.parametrize("k", [1, 2, 3, 5])
def test_top_k_matches_sklearn_with_ties(k: int, csv_workspace: Callable[..., Path]) -> None:
    ws, y, p, s = scores_case(csv_workspace, 2000, 6, 20 + k, {"top_k": k})
    metrics = score(ws).metrics
    ref = skm.top_k_accuracy_score(y, s, k=k, labels=list(range(6)))
    assert close(metrics[f"top_{k}_accuracy"], ref)
    assert close(metrics["accuracy"], skm.accuracy_score(y, p))
    assert close(metrics["balanced_accuracy"], skm.balanced_accuracy_score(y, p))


def test_top_k_weighted(csv_workspace: Callable[..., Path]) -> None:
    _, y, _, s = scores_case(csv_workspace, 1000, 4, 30, {"top_k": 2})
    w = np.random.default_rng(31).random(len(y))
    ref = skm.top_k_accuracy_score(y, s, k=2, labels=list(range(4)), sample_weight=w)
    assert close(F.top_k_accuracy(y, s, 2, w), ref)


def test_top_k_needs_a_column_for_every_gt_label(csv_workspace: Callable[..., Path]) -> None:
    gt = "id,label\n1,a\n2,b\n3,c\n"
    pred = "id,label,prob_a,prob_b\n1,a,0.9,0.1\n2,b,0.2,0.8\n3,a,0.6,0.4\n"
    ws = csv_workspace("classification_accuracy", gt, pred)
    with pytest.raises(AutoScorerError) as exc:
        score(ws)
    assert exc.value.code == "MISSING_COLUMN"
    assert "prob_c" in exc.value.message and "input/gt.csv data row 3" in exc.value.message


def test_top_k_at_least_classes_warns(csv_workspace: Callable[..., Path]) -> None:
    ws, *_ = scores_case(csv_workspace, 50, 3, 40, {"top_k": 3})
    result = score(ws)
    assert result.metrics["top_3_accuracy"] == 1.0 and result.warnings


def test_accuracy_without_score_columns(csv_workspace: Callable[..., Path]) -> None:
    ws = csv_workspace("classification_accuracy", "id,label\n1,a\n2,b\n", "id,label\n2,b\n1,b\n")
    result = score(ws)
    assert result.metrics == {"accuracy": 0.5, "balanced_accuracy": 0.5}
    assert result.summary.rank == "D" and result.summary.pass_ is False  # D >= 0.40, pass 0.60


# --- functional layer on random codes ---------------------------------------------------


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("weighted", [False, True])
def test_functional_matches_sklearn(seed: int, weighted: bool) -> None:
    rng = np.random.default_rng(seed)
    k = int(rng.integers(2, 12))
    y, p = rng.integers(0, k, 5000), rng.integers(0, k, 5000)
    agree = rng.random(5000) < 0.5
    p[agree] = y[agree]
    w = rng.random(5000) if weighted else None
    cm = F.confusion_matrix(y, p, k, w)
    assert np.allclose(cm, skm.confusion_matrix(y, p, labels=range(k), sample_weight=w), atol=TOL)
    chunks = F.confusion_matrix_chunks(
        np.array_split(y, 7), np.array_split(p, 3), (k, k), (0, 0), w
    )
    assert np.allclose(chunks, cm, atol=TOL)
    counts = F.ClassCounts.from_confusion(cm)
    by_labels = F.ClassCounts.from_labels(y, p, k, w)
    assert np.allclose(by_labels.tp, counts.tp) and np.allclose(by_labels.pred_sum, counts.pred_sum)
    for avg in AVERAGES:
        prf = F.precision_recall_f1(counts, avg, 0)
        ref = skm.precision_recall_fscore_support(
            y, p, average=avg, sample_weight=w, zero_division=0
        )
        assert all(
            close(a, b) for a, b in zip((prf.precision, prf.recall, prf.f1), ref[:3], strict=True)
        )
    assert close(F.accuracy_from_confusion(cm), skm.accuracy_score(y, p, sample_weight=w))
    assert close(F.balanced_accuracy(counts), skm.balanced_accuracy_score(y, p, sample_weight=w))


@pytest.mark.parametrize("zero_division", [0, 1, "nan"])
def test_weighted_average_without_true_samples(zero_division: Any) -> None:
    y, p = np.array([0, 0, 0]), np.array([1, 2, 1])  # selected labels 1, 2 never true
    counts = F.ClassCounts.from_confusion(F.confusion_matrix(y, p, 3)).select(np.array([1, 2]))
    prf = F.precision_recall_f1(counts, "weighted", zero_division)
    zd = np.nan if zero_division == "nan" else zero_division
    ref = skm.precision_recall_fscore_support(
        y, p, labels=[1, 2], average="weighted", zero_division=zd
    )
    assert all(
        close(a if not math.isnan(a) else None, b)
        for a, b in zip((prf.precision, prf.recall, prf.f1), ref[:3], strict=True)
    )


def test_shifted_chunks_equal_plain_matrix() -> None:
    rng = np.random.default_rng(3)
    y, p = rng.integers(10, 14, 100), rng.integers(20, 23, 100)
    got = F.confusion_matrix_chunks([y[:40], y[40:]], [p[:55], p[55:]], (4, 3), (10, 20))
    assert np.array_equal(got, F.confusion_matrix(y - 10, p - 20, 4, None, 3))


# --- metadata and parameters ------------------------------------------------------------


def test_metadata() -> None:
    cls = get_scorer("classification_f1")
    info = cls.describe()
    assert info["parameters"]["average"]["choices"] == ["macro", "micro", "weighted"]
    assert info["parameters"]["zero_division"]["default"] == "warn"
    assert info["parameters"]["labels"]["type"] == "array"
    assert info["output_format"]["primary_metric"] == "f1_macro"
    assert info["input_format"]["required_columns"] == ["id", "label"]
    assert info["examples"] and cls.thresholds == DEFAULT_THRESHOLDS
    acc = get_scorer("classification_accuracy")
    assert acc.primary_metric == "accuracy" and acc.higher_is_better


BAD_PARAMS = {
    "average not a choice": ({"average": "samples"}, "average"),
    "zero_division not a choice": ({"zero_division": 2}, "zero_division"),
    "labels wrong type": ({"labels": "abc"}, "labels"),
    "labels holds a float": ({"labels": [1.5]}, "labels"),
    "labels listed twice": ({"labels": ["a", "a"]}, "labels"),
    "labels empty": ({"labels": []}, "labels"),
    "sample_weight wrong length": ({"sample_weight": [1.0]}, "sample_weight"),
    "sample_weight negative": ({"sample_weight": [1.0, -1.0]}, "sample_weight"),
    "sample_weight all zero": ({"sample_weight": [0, 0]}, "sample_weight"),
    "unknown parameter": ({"beta": 2}, "beta"),
    "max_error_cases negative": ({"max_error_cases": -1}, "max_error_cases"),
}


@pytest.mark.parametrize("case", BAD_PARAMS, ids=list(BAD_PARAMS))
def test_invalid_params(case: str, csv_workspace: Callable[..., Path]) -> None:
    params, field = BAD_PARAMS[case]
    ws = csv_workspace("classification_f1", "id,label\n1,a\n2,b\n", "id,label\n1,a\n2,a\n")
    (ws / "output" / "result.json").write_text('{"previous": true}')
    with pytest.raises(AutoScorerError) as exc:
        score(ws, params=params)
    assert exc.value.code == "INVALID_PARAMETER" and exc.value.field == field
    assert (ws / "output" / "result.json").read_text() == '{"previous": true}'


def test_top_k_must_be_positive(csv_workspace: Callable[..., Path]) -> None:
    ws = csv_workspace("classification_accuracy", "id,label\n1,a\n", "id,label\n1,a\n")
    with pytest.raises(AutoScorerError) as exc:
        score(ws, params={"top_k": 0})
    assert exc.value.code == "INVALID_PARAMETER" and exc.value.field == "top_k"


def test_weight_column_missing_or_negative(csv_workspace: Callable[..., Path]) -> None:
    ws = csv_workspace("classification_f1", "id,label,w\n1,a,1\n2,b,-2\n", "id,label\n1,a\n2,a\n")
    with pytest.raises(AutoScorerError) as exc:
        score(ws, params={"sample_weight": "w"})
    assert exc.value.code == "INVALID_VALUE"
    assert exc.value.message.startswith("input/gt.csv data row 2 (1-based), column 'w'")
    with pytest.raises(AutoScorerError) as exc:
        score(ws, params={"sample_weight": "weight"})
    assert exc.value.code == "MISSING_COLUMN" and "input/gt.csv" in exc.value.message
