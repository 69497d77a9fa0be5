"""validate(): contract shape, each check, strict, auto_fix, bad data; it writes nothing."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from autoscorer.errors import Forbidden, WorkspaceInvalid
from autoscorer.pipeline.validate import validate
from autoscorer.scorers.base import ScoreOutput, Scorer, ScoringContext
from autoscorer.scorers.registry import ensure_builtins
from autoscorer.workspace.datacheck import HEAD_BYTES
from autoscorer.workspace.templates import init_workspace

GT = "id,label\n1,a\n2,b\n3,a\n"
PRED = "id,label\n1,a\n2,b\n3,b\n"
EMPTY_OUTPUT = "Output directory is empty - no prediction results found"


@pytest.fixture
def make_ws(tmp_path: Path) -> Callable[..., Path]:
    """A classification workspace from the template, with the given files written."""

    def make(gt: str | bytes | None = GT, pred: str | bytes | None = PRED, **meta: Any) -> Path:
        root = tmp_path / "ws"
        init_workspace(root, template="classification", job_id="j1", overwrite=True)
        if meta:
            raw = json.loads((root / "meta.json").read_text())
            raw.update(meta)
            (root / "meta.json").write_text(json.dumps(raw))
        for path, data in ((root / "input" / "gt.csv", gt), (root / "output" / "pred.csv", pred)):
            if data is not None:
                path.write_bytes(data.encode() if isinstance(data, str) else data)
        return root

    return make


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_a_good_workspace_is_valid_in_the_contract_shape(make_ws: Callable[..., Path]) -> None:
    root = make_ws()
    before = _snapshot(root)
    report = validate(root)
    assert list(report) == [
        "workspace_path",
        "validation_status",
        "checks",
        "warnings",
        "errors",
        "suggestions",
    ]
    assert report["workspace_path"] == str(root)
    assert report["validation_status"] == "valid", report["errors"]
    assert list(report["checks"]) == ["structure", "data_format", "configuration"]
    contract_keys = {
        "structure": {"has_input_dir", "has_output_dir", "has_meta_json"},
        "data_format": {
            "gt_file_exists",
            "gt_format_valid",
            "pred_file_exists",
            "pred_format_valid",
        },
        "configuration": {"meta_json_valid", "scorer_exists", "resources_valid"},
    }
    for name, keys in contract_keys.items():
        check = report["checks"][name]
        assert check["status"] == "valid"
        assert keys <= set(check["details"]) and all(check["details"][k] for k in keys)
    assert report["errors"] == [] and report["warnings"] == []
    assert _snapshot(root) == before  # the deep check scored without writing anything
    assert not (root / "output" / "result.json").exists()


def test_missing_predictions_warn_and_strict_makes_it_an_error(
    make_ws: Callable[..., Path],
) -> None:
    root = make_ws(pred=None)
    report = validate(root)
    assert report["validation_status"] == "valid"
    assert report["warnings"] == [EMPTY_OUTPUT]
    assert report["checks"]["data_format"]["details"]["pred_file_exists"] is False
    assert any("score-only" in s for s in report["suggestions"])

    strict = validate(root, strict=True)
    assert strict["validation_status"] == "invalid"
    assert strict["errors"] == [EMPTY_OUTPUT] and strict["warnings"] == []
    assert strict["checks"]["data_format"]["status"] == "invalid"
    assert strict["checks"]["structure"]["status"] == "valid"


def test_missing_meta_and_input_are_structure_errors(tmp_path: Path) -> None:
    report = validate(tmp_path)
    s = report["checks"]["structure"]
    assert s["status"] == "invalid"
    assert s["details"] == {
        "has_input_dir": False,
        "has_output_dir": False,
        "has_meta_json": False,
        "has_logs_dir": False,
    }
    assert "meta.json is missing" in report["errors"]
    assert any("input/" in e for e in report["errors"])
    assert any("init-workspace" in s for s in report["suggestions"])
    assert report["checks"]["configuration"]["details"]["meta_json_valid"] is False


def test_auto_fix_creates_folders_and_meta_then_passes_structure(tmp_path: Path) -> None:
    report = validate(tmp_path, task_type="regression", auto_fix=True)
    assert report["fixed"] == [
        "created input/",
        "created output/",
        "created logs/",
        "created meta.json with default settings",
    ]
    assert report["checks"]["structure"]["status"] == "valid"
    meta = json.loads((tmp_path / "meta.json").read_text())
    assert (meta["task_type"], meta["scorer"]) == ("regression", "regression_rmse")
    # still invalid: there is no ground truth, which no fix can invent
    assert report["validation_status"] == "invalid"
    assert any("ground truth" in e for e in report["errors"])
    assert "fixed" not in validate(tmp_path)


def test_auto_fix_fills_missing_meta_fields_and_keeps_the_hosts(tmp_path: Path) -> None:
    for d in ("input", "output", "logs"):
        (tmp_path / d).mkdir()
    (tmp_path / "meta.json").write_text(
        json.dumps({"scorer": "classification_f1", "time_limit": 60, "resources": {"cpu": 0.5}})
    )
    report = validate(tmp_path, auto_fix=True)
    meta = json.loads((tmp_path / "meta.json").read_text())
    assert meta["time_limit"] == 60 and meta["resources"]["cpu"] == 0.5
    assert meta["resources"]["memory"] == "2Gi" and meta["task_type"] == "classification"
    assert "meta.json: added default resources.memory" in report["fixed"]
    assert "meta.json: added default task_type" in report["fixed"]
    assert validate(tmp_path, auto_fix=True)["fixed"] == []  # idempotent


def test_auto_fix_leaves_an_unparsable_meta_alone(tmp_path: Path) -> None:
    (tmp_path / "meta.json").write_text("{not json")
    report = validate(tmp_path, auto_fix=True)
    assert (tmp_path / "meta.json").read_text() == "{not json"
    assert report["checks"]["configuration"]["details"]["meta_json_valid"] is False
    assert any("meta.json is not valid JSON" in e for e in report["errors"])


def test_invalid_resources_are_flagged(make_ws: Callable[..., Path]) -> None:
    report = validate(make_ws(resources={"memory": "lots"}))
    details = report["checks"]["configuration"]["details"]
    assert details["meta_json_valid"] is False and details["resources_valid"] is False
    assert any("resources.memory" in e for e in report["errors"])


def test_unknown_scorer_lists_the_available_ones(make_ws: Callable[..., Path]) -> None:
    report = validate(make_ws(scorer="nope"))
    assert report["checks"]["configuration"]["details"]["scorer_exists"] is False
    (error,) = [e for e in report["errors"] if "nope" in e]
    assert "classification_f1" in error and "regression_rmse" in error


def test_invalid_scorer_params_are_a_configuration_error(make_ws: Callable[..., Path]) -> None:
    report = validate(make_ws(scorer_params={"average": "median"}))
    assert report["checks"]["configuration"]["details"]["parameters_valid"] is False
    assert any("average" in e and "macro" in e for e in report["errors"])


def test_task_type_mismatch(make_ws: Callable[..., Path]) -> None:
    report = validate(make_ws(), task_type="regression")
    assert report["checks"]["configuration"]["status"] == "invalid"
    assert any("expected 'regression'" in e for e in report["errors"])
    warned = validate(make_ws(task_type="regression"))
    assert any("is for classification tasks" in w for w in warned["warnings"])


def test_wrong_columns_name_the_file_and_columns(make_ws: Callable[..., Path]) -> None:
    report = validate(make_ws(pred="id,lbl\n1,a\n"))
    assert report["checks"]["data_format"]["details"]["pred_format_valid"] is False
    assert report["checks"]["data_format"]["details"]["gt_format_valid"] is True
    assert report["errors"] == [
        "output/pred.csv lacks column(s) ['label']; its header is ['id', 'lbl']"
    ]


def test_ragged_rows_name_the_row(make_ws: Callable[..., Path]) -> None:
    report = validate(make_ws(gt="id,label\n1,a\n2,b,c\n"))
    assert any("input/gt.csv row 2: 3 field(s), expected 2" in e for e in report["errors"])


def test_empty_and_header_only_files(make_ws: Callable[..., Path]) -> None:
    assert any("input/gt.csv is empty" in e for e in validate(make_ws(gt=""))["errors"])
    report = validate(make_ws(pred="id,label\n"))
    assert any("header but no data rows" in e for e in report["errors"])


def test_gbk_needs_data_encoding_and_bom_is_fine(make_ws: Callable[..., Path]) -> None:
    gt, pred = "id,label\n1,猫\n2,狗\n", "id,label\n1,猫\n2,猫\n"
    report = validate(make_ws(gt=gt.encode("gbk"), pred=pred.encode("gbk")))
    assert any("not valid utf-8" in e for e in report["errors"])
    assert any("data.encoding" in s for s in report["suggestions"])
    ok = validate(make_ws(gt=gt.encode("gbk"), pred=pred.encode("gbk"), data={"encoding": "gbk"}))
    assert ok["validation_status"] == "valid", ok["errors"]
    bom = validate(make_ws(gt=b"\xef\xbb\xbf" + gt.encode(), pred=pred.encode()))
    assert bom["validation_status"] == "valid", bom["errors"]


def test_multibyte_character_cut_by_the_head_block_is_not_an_error(
    make_ws: Callable[..., Path],
) -> None:
    rows = "".join(f"{i},类别{i % 7}\n" for i in range(HEAD_BYTES // 8))
    data = "id,label\n" + rows
    assert len(data.encode()) > HEAD_BYTES
    report = validate(make_ws(gt=data, pred=data))
    assert report["validation_status"] == "valid", report["errors"]


def test_deep_check_reports_row_level_problems(make_ws: Callable[..., Path]) -> None:
    root = make_ws(pred="id,label\n1,a\n2,b\n9,a\n")
    report = validate(root)
    assert report["checks"]["data_format"]["details"]["pred_format_valid"] is False
    assert any("'9'" in e and "output/pred.csv" in e for e in report["errors"])
    assert validate(root, deep=False)["validation_status"] == "valid"


def test_file_size_limit(make_ws: Callable[..., Path]) -> None:
    report = validate(make_ws(), max_file_bytes=10)
    assert any("above the limit of 10 bytes" in e for e in report["errors"])


def _json_ws(tmp_path: Path, template: str, gt: Any, pred: Any) -> Path:
    root = tmp_path / template
    init_workspace(root, template=template, overwrite=True)
    (root / "input" / "gt.json").write_text(json.dumps(gt))
    (root / "output" / "pred.json").write_text(json.dumps(pred))
    return root


def test_detection_json_shapes(tmp_path: Path) -> None:
    gt = {"images": [], "categories": []}
    report = validate(_json_ws(tmp_path, "detection", gt, []), deep=False)
    assert any(
        "input/gt.json lacks top-level key(s) ['annotations']" in e for e in report["errors"]
    )
    report = validate(
        _json_ws(tmp_path, "detection", {**gt, "annotations": []}, {"x": 1}), deep=False
    )
    assert any("output/pred.json must be a JSON list" in e for e in report["errors"])
    report = validate(_json_ws(tmp_path, "detection", {**gt, "annotations": []}, []), deep=False)
    assert any("empty list" in w for w in report["warnings"])


def test_segmentation_prediction_entries_need_their_keys(tmp_path: Path) -> None:
    gt = {"images": [], "categories": []}
    report = validate(_json_ws(tmp_path, "segmentation", gt, [{"image_id": 1}]), deep=False)
    assert any("output/pred.json[0] lacks key(s) ['mask_file']" in e for e in report["errors"])


def test_malformed_json_names_line_and_column(tmp_path: Path) -> None:
    root = _json_ws(tmp_path, "detection", {}, [])
    (root / "input" / "gt.json").write_text('{"images": [}')
    report = validate(root)
    assert any("input/gt.json is not valid JSON" in e and "line 1" in e for e in report["errors"])


class _Crashing(Scorer):
    name = "test_validate_crash"
    primary_metric = "m"
    required_columns: ClassVar[list[str]] = ["id", "label"]

    def evaluate(self, ctx: ScoringContext) -> ScoreOutput:
        raise KeyError("oops")


@pytest.fixture
def crashing() -> Iterator[str]:
    registry = ensure_builtins()
    registry.register(_Crashing)
    yield _Crashing.name
    registry.unregister(_Crashing.name)


def test_a_crashing_scorer_is_reported_not_raised(
    make_ws: Callable[..., Path], crashing: str
) -> None:
    report = validate(make_ws(), scorer=crashing)
    assert report["validation_status"] == "invalid"
    assert any("crashed: KeyError" in e for e in report["errors"])


def test_nonexistent_root_and_outside_roots_raise(tmp_path: Path) -> None:
    with pytest.raises(WorkspaceInvalid, match="does not exist"):
        validate(tmp_path / "missing")
    (tmp_path / "inside").mkdir()
    with pytest.raises(Forbidden):
        validate(tmp_path, roots=[tmp_path / "inside"])
    assert validate(tmp_path / "inside", roots=[tmp_path])["validation_status"] == "invalid"


def test_predictions_linking_outside_the_workspace_are_not_read(
    make_ws: Callable[..., Path], tmp_path: Path
) -> None:
    secret = tmp_path / "secret.csv"
    secret.write_text("id,label\nroot,x\n")
    root = make_ws(pred=None)
    (root / "output" / "pred.csv").symlink_to(secret)
    report = validate(root)
    assert report["errors"] == ["output/pred.csv is a symbolic link; write a regular file"]
    assert "root" not in json.dumps(report["errors"])
