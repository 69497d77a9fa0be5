"""``autoscorer validate``, ``init-workspace`` and ``score`` through the real Typer app."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from autoscorer.cli.main import app

GT = "id,label\n1,a\n2,b\n3,a\n4,b\n"
PRED = "id,label\n1,a\n2,b\n3,b\n4,b\n"


def run(*args: str | Path) -> Result:
    return CliRunner().invoke(app, [str(a) for a in args])


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    """A classification workspace made by the CLI, with ground truth and predictions."""
    root = tmp_path / "ws"
    out = run("init-workspace", root, "--job-id", "cli-1")
    assert out.exit_code == 0, out.output
    (root / "input" / "gt.csv").write_text(GT)
    (root / "output" / "pred.csv").write_text(PRED)
    return root


def test_init_workspace_text_json_and_conflict(tmp_path: Path) -> None:
    out = run("init-workspace", tmp_path / "a", "--template", "regression")
    assert out.exit_code == 0
    assert "created" in out.stdout and "input/gt.csv" in out.stdout
    assert json.loads((tmp_path / "a" / "meta.json").read_text())["scorer"] == "regression_rmse"

    again = run("init-workspace", tmp_path / "a")
    assert again.exit_code == 2
    assert again.stderr.count("\n") == 1 and "[CONFLICT]" in again.stderr

    forced = run(
        "init-workspace",
        tmp_path / "a",
        "--overwrite",
        "--json",
        "--config",
        '{"time_limit": 99}',
        "--task-type",
        "classification",
    )
    data = json.loads(forced.stdout)
    assert forced.exit_code == 0 and data["template_used"] == "classification"
    meta = json.loads((tmp_path / "a" / "meta.json").read_text())
    assert (meta["time_limit"], meta["task_type"]) == (99, "classification")


def test_init_workspace_unknown_template_json_error(tmp_path: Path) -> None:
    out = run("init-workspace", tmp_path / "b", "--template", "ranking", "--json")
    assert out.exit_code == 2
    error = json.loads(out.stdout)
    assert error["success"] is False and error["error"]["code"] == "INVALID_PARAMETER"
    assert error["error"]["details"]["choices"] == [
        "classification",
        "detection",
        "regression",
        "segmentation",
    ]
    assert "Traceback" not in out.output


def test_validate_valid_invalid_and_json(ws: Path) -> None:
    out = run("validate", ws)
    assert out.exit_code == 0 and "valid" in out.stdout
    (ws / "output" / "pred.csv").write_text("id,guess\n1,a\n")
    bad = run("validate", ws)
    assert bad.exit_code == 2
    assert "lacks column(s) ['label']" in bad.stdout  # brackets survive rich markup
    report = json.loads(run("validate", ws, "--json").stdout)
    assert report["validation_status"] == "invalid"
    assert report["checks"]["data_format"]["details"]["pred_format_valid"] is False


def test_validate_strict_and_auto_fix(tmp_path: Path) -> None:
    root = tmp_path / "bare"
    root.mkdir()
    out = run("validate", root, "--auto-fix", "--task-type", "classification", "--json")
    report = json.loads(out.stdout)
    assert "created meta.json with default settings" in report["fixed"]
    assert (root / "logs").is_dir()
    (root / "input" / "gt.csv").write_text(GT)
    assert run("validate", root).exit_code == 0  # only a warning: no predictions yet
    strict = run("validate", root, "--strict")
    assert strict.exit_code == 2 and "no prediction results found" in strict.stdout


def test_validate_missing_workspace_is_one_line(tmp_path: Path) -> None:
    out = run("validate", tmp_path / "nowhere")
    assert out.exit_code == 2
    assert out.stderr.strip().startswith("error [RESOURCE_NOT_FOUND]")
    assert out.stderr.count("\n") == 1


def test_score_writes_result_json(ws: Path) -> None:
    out = run("score", ws)
    assert out.exit_code == 0, out.output
    assert "score=0.733333" in out.stdout and "classification_f1" in out.stdout
    result = json.loads((ws / "output" / "result.json").read_text())
    assert result["summary"]["score"] == pytest.approx(11 / 15)  # f1_macro of (2/3, 4/5)
    assert result["metadata"]["job_id"] == "cli-1"


def test_score_json_params_and_output_file(ws: Path, tmp_path: Path) -> None:
    out_file = tmp_path / "all.json"
    out = run(
        "score",
        ws,
        "--scorer-params",
        '{"average": "micro"}',
        "--json",
        "--output",
        out_file,
        "--no-artifacts",
    )
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert data["success"] is True and data["result"]["summary"]["score"] == pytest.approx(0.75)
    assert json.loads(out_file.read_text())[str(ws)]["success"] is True
    assert not (ws / "output" / "artifacts").exists()


def test_score_several_workspaces_one_bad(ws: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    run("init-workspace", bad)
    (bad / "input" / "gt.csv").write_text(GT)
    (bad / "output" / "pred.csv").write_text("id,label\n1,a\n1,a\n")
    out = run("score", ws, bad, "--json")
    assert out.exit_code == 2
    data = json.loads(out.stdout)
    assert data[str(ws)]["success"] is True
    assert data[str(bad)]["error"]["code"] == "DUPLICATE_ID"
    assert (ws / "output" / "result.json").exists()
    assert not (bad / "output" / "result.json").exists()


def test_score_bad_options(ws: Path) -> None:
    out = run("score", ws, "--scorer-params", "{not json")
    assert out.exit_code == 2 and "[INVALID_PARAMETER] --scorer-params" in out.stderr
    unknown = run("score", ws, "--scorer", "nope")
    assert unknown.exit_code == 2 and "[SCORER_NOT_FOUND]" in unknown.stdout
    assert not (ws / "output" / "result.json").exists()
