"""``autoscorer scorers list|describe|test|load|reload`` through the real Typer app."""

from __future__ import annotations

import json
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from autoscorer.cli.main import app
from autoscorer.scorers.loader import default_loader
from autoscorer.workspace.templates import init_workspace

BUILTINS = [
    "classification_accuracy",
    "classification_f1",
    "detection_map",
    "regression_rmse",
    "segmentation_miou",
]


def run(*args: str | Path) -> Result:
    return CliRunner().invoke(app, [str(a) for a in args])


def source(version: str, extra: str = "") -> str:
    return (
        textwrap.dedent(f"""
        from autoscorer.scorers.base import ScoreOutput, Scorer
        from autoscorer.scorers.registry import register_scorer

        @register_scorer
        class CliScorer(Scorer):
            name = "test_cli_file_scorer"
            version = "{version}"
            primary_metric = "m"

            def evaluate(self, ctx):
                return ScoreOutput(metrics={{"m": 1.0}})
    """)
        + extra
    )


@pytest.fixture
def scorer_file(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "cli_scorer.py"
    path.write_text(source("1.0.0"))
    yield path
    default_loader().unload_file(path)


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    init_workspace(root, template="classification")
    (root / "input" / "gt.csv").write_text("id,label\n1,a\n2,b\n")
    (root / "output" / "pred.csv").write_text("id,label\n1,a\n2,a\n")
    return root


def test_list_text_json_and_filter() -> None:
    out = run("scorers", "list")
    assert out.exit_code == 0
    for name in BUILTINS:
        assert name in out.stdout
    data = json.loads(run("scorers", "list", "--json").stdout)
    names = [d["name"] for d in data]
    assert set(BUILTINS) <= set(names) and names == sorted(names)  # other tests may add some
    assert all({"version", "parameters", "created_at", "source"} <= set(d) for d in data)
    only = json.loads(run("scorers", "list", "--task-type", "regression", "--json").stdout)
    assert "regression_rmse" in [d["name"] for d in only]
    assert {d["task_type"] for d in only} == {"regression"}


def test_describe_and_unknown() -> None:
    data = json.loads(run("scorers", "describe", "classification_f1", "--json").stdout)
    assert data["parameters"]["average"]["choices"] == ["macro", "micro", "weighted"]
    assert data["input_format"]["required_columns"] == ["id", "label"]
    text = run("scorers", "describe", "regression_rmse")
    assert text.exit_code == 0 and "lower is better" in text.stdout

    out = run("scorers", "describe", "nope")
    assert out.exit_code == 2
    assert out.stderr.count("\n") == 1 and "[SCORER_NOT_FOUND]" in out.stderr
    assert "classification_f1" in out.stderr
    err = json.loads(run("scorers", "describe", "nope", "--json").stdout)
    assert set(BUILTINS) <= set(err["error"]["details"]["available"])


def test_scorer_test_passes_and_writes_nothing(ws: Path) -> None:
    out = run(
        "scorers", "test", "classification_f1", ws, "--params", '{"average": "micro"}', "--json"
    )
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert data["scorer"] == "classification_f1" and data["test_status"] == "passed"
    assert data["result"]["summary"]["score"] == pytest.approx(0.5)
    assert data["result"]["metrics"]["accuracy"] == pytest.approx(0.5)
    assert data["validation"] == {
        "workspace_valid": True,
        "data_format_valid": True,
        "parameters_valid": True,
    }
    assert data["performance"]["memory_usage"].endswith("MB")
    assert 0 < data["performance"]["cpu_time"] < 60 and data["execution_time"] > 0
    assert not (ws / "output" / "result.json").exists()
    text = run("scorers", "test", "classification_f1", ws)
    assert text.exit_code == 0 and "passed" in text.stdout


def test_scorer_test_failures(ws: Path) -> None:
    bad_param = run(
        "scorers", "test", "classification_f1", ws, "--params", '{"average": "x"}', "--json"
    )
    assert bad_param.exit_code == 2
    data = json.loads(bad_param.stdout)
    assert data["test_status"] == "failed" and data["validation"]["parameters_valid"] is False

    (ws / "output" / "pred.csv").write_text("id,label\n1,a\n7,a\n")
    bad_data = json.loads(run("scorers", "test", "classification_f1", ws, "--json").stdout)
    assert bad_data["validation"]["data_format_valid"] is False
    assert bad_data["error"]["code"] == "UNKNOWN_ID"
    text = run("scorers", "test", "classification_f1", ws)
    assert text.exit_code == 2 and "[UNKNOWN_ID]" in text.stdout

    only = json.loads(
        run("scorers", "test", "classification_f1", ws, "--validate-only", "--json").stdout
    )
    assert only["test_status"] == "passed" and only["result"] is None  # rows not checked

    not_json = run("scorers", "test", "classification_f1", ws, "--params", "[1]")
    assert not_json.exit_code == 2 and "must be a JSON object" in not_json.stderr


def test_load_and_reload(scorer_file: Path) -> None:
    out = run("scorers", "load", scorer_file, "--json")
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert data["total_loaded"] == 1 and data["watch_enabled"] is False
    assert data["loaded_scorers"][0]["name"] == "test_cli_file_scorer"

    assert json.loads(run("scorers", "reload", scorer_file, "--json").stdout) == {
        "reloaded_scorers": [],
        "total_reloaded": 0,
        "unchanged_scorers": [{"name": "test_cli_file_scorer", "version": "1.0.0"}],
        "message": "unchanged: the file's content is already loaded",
    }
    scorer_file.write_text(source("1.1.0"))
    out = run("scorers", "reload", scorer_file, "--name", "test_cli_file_scorer")
    assert out.exit_code == 0 and "1.0.0 -> 1.1.0" in out.stdout

    scorer_file.write_text(source("1.2.0", "\nraise ValueError('nope')\n"))
    failed = run("scorers", "reload", scorer_file)
    assert failed.exit_code == 2
    assert f"{scorer_file}:14: ValueError: nope" in failed.stderr
    assert "still serving the previous version" in failed.stderr
    err = json.loads(run("scorers", "reload", scorer_file, "--json").stdout)["error"]
    assert err["details"]["line"] == 14 and err["details"]["kept"] == {
        "test_cli_file_scorer": "1.1.0"
    }


def test_load_missing_file(tmp_path: Path) -> None:
    out = run("scorers", "load", tmp_path / "nope.py")
    assert out.exit_code == 2 and "[RESOURCE_NOT_FOUND]" in out.stderr


def test_load_watch_reloads_while_running(scorer_file: Path) -> None:
    def edit() -> None:
        time.sleep(0.8)
        scorer_file.write_text(source("2.0.0"))

    editor = threading.Thread(target=edit)
    editor.start()
    out = run(
        "scorers", "load", scorer_file, "--watch", "--interval", "0.1", "--watch-seconds", "4"
    )
    editor.join()
    assert out.exit_code == 0, out.output
    assert "loaded test_cli_file_scorer 1.0.0" in out.stdout
    assert "reloaded test_cli_file_scorer: 1.0.0 -> 2.0.0" in out.stdout
