"""score(): result.json shape, atomic writes, provenance, params and failures."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, ClassVar

import pytest

from autoscorer import __version__
from autoscorer.errors import InvalidParameter, MissingFile, MissingParameter, ScorerNotFound
from autoscorer.pipeline.scoring import score
from autoscorer.scorers.base import Param, ScoreOutput, Scorer, ScoringContext
from autoscorer.scorers.ranking import DEFAULT_THRESHOLDS
from autoscorer.scorers.registry import registry


class _LineCount(Scorer):
    """Fraction of prediction lines equal to the ground truth's."""

    name = "test_line_match"
    task_type = "custom"
    primary_metric = "match"
    thresholds: ClassVar[dict[str, float] | None] = DEFAULT_THRESHOLDS
    parameters: ClassVar[dict[str, Param]] = {
        "mode": Param("string", "exact", choices=("exact", "lower"), description="compare mode"),
        "boom": Param("boolean", False, description="fail on purpose"),
    }

    def evaluate(self, ctx: ScoringContext) -> ScoreOutput:
        gt = ctx.gt_path.read_text().splitlines()
        pred = ctx.pred_path.read_text().splitlines()
        if self.params["mode"] == "lower":
            gt, pred = [g.lower() for g in gt], [p.lower() for p in pred]
        art = ctx.artifacts_dir / "diff.json"
        art.write_text(json.dumps([g == p for g, p in zip(gt, pred, strict=False)]))
        if self.params["boom"]:
            raise MissingFile("boom on purpose", field="x")
        same = sum(g == p for g, p in zip(gt, pred, strict=False))
        return ScoreOutput(
            metrics={"match": same / len(gt)}, artifacts={"diff": art}, data_size=len(gt)
        )


@pytest.fixture(autouse=True)
def _registered() -> Any:
    registry.register(_LineCount)
    yield
    registry.unregister(_LineCount.name)


def _workspace(tmp_path: Path, gt: str, pred: str, **meta: Any) -> Path:
    (tmp_path / "input").mkdir()
    (tmp_path / "output").mkdir()
    (tmp_path / "input" / "gt.csv").write_text(gt)
    (tmp_path / "output" / "pred.csv").write_text(pred)
    (tmp_path / "meta.json").write_text(
        json.dumps({"job_id": "j1", "scorer": "test_line_match", **meta})
    )
    return tmp_path


def test_result_json_has_every_block(tmp_path: Path) -> None:
    ws = _workspace(tmp_path, "a\nb\nc\nd\n", "a\nb\nx\nd\n")
    result = score(ws)
    data = json.loads((ws / "output" / "result.json").read_text())
    assert data == result.to_json_dict()
    assert data["summary"] == {
        "score": 0.75,
        "rank": "B",
        "pass": True,
        "message": "Evaluation completed successfully",
    }
    assert data["metrics"] == {"match": 0.75}
    assert data["versioning"]["scorer"] == "test_line_match"
    assert data["versioning"]["autoscorer_version"] == __version__
    assert data["metadata"]["job_id"] == "j1" and data["metadata"]["data_size"] == 4
    gt_hash = hashlib.sha256(b"a\nb\nc\nd\n").hexdigest()
    assert data["provenance"]["gt_sha256"] == gt_hash
    assert len(data["provenance"]["scorer_source_sha256"]) == 64
    art = data["artifacts"]["diff"]
    assert Path(art["path"]) == ws / "output" / "artifacts" / "diff.json"
    assert art["type"] == "application/json" and art["size"] > 0
    assert data["timing"]["total_time"] >= data["timing"]["scoring_time"] > 0
    assert data["error"] is None


def test_params_from_meta_then_call_override(tmp_path: Path) -> None:
    ws = _workspace(tmp_path, "A\nB\n", "a\nb\n", scorer_params={"mode": "lower"})
    assert score(ws).summary.score == 1.0
    assert score(ws, params={"mode": "exact"}).summary.score == 0.0


def test_meta_thresholds_override_scorer_defaults(tmp_path: Path) -> None:
    ws = _workspace(tmp_path, "a\nb\n", "a\nx\n", thresholds={"A": 0.5, "pass": 0.9})
    s = score(ws).summary
    assert (s.rank, s.pass_) == ("A", False)


@pytest.mark.parametrize(
    ("params", "exc", "field"),
    [
        ({"mode": "fuzzy"}, InvalidParameter, "mode"),
        ({"mode": 3}, InvalidParameter, "mode"),
        ({"nope": 1}, InvalidParameter, "nope"),
    ],
)
def test_bad_params(tmp_path: Path, params: dict[str, Any], exc: type, field: str) -> None:
    ws = _workspace(tmp_path, "a\n", "a\n")
    with pytest.raises(exc) as info:
        score(ws, params=params)
    assert info.value.field == field


def test_unknown_scorer_lists_available(tmp_path: Path) -> None:
    ws = _workspace(tmp_path, "a\n", "a\n")
    with pytest.raises(ScorerNotFound) as info:
        score(ws, scorer="no_such_scorer")
    assert "test_line_match" in info.value.details["available"]


def test_missing_scorer_name(tmp_path: Path) -> None:
    ws = _workspace(tmp_path, "a\n", "a\n")
    meta = json.loads((ws / "meta.json").read_text())
    del meta["scorer"]
    (ws / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(MissingParameter):
        score(ws)


def test_missing_prediction_names_the_file(tmp_path: Path) -> None:
    ws = _workspace(tmp_path, "a\n", "a\n")
    (ws / "output" / "pred.csv").unlink()
    with pytest.raises(MissingFile, match=r"output/pred\.csv"):
        score(ws)


def test_failure_keeps_previous_outputs(tmp_path: Path) -> None:
    ws = _workspace(tmp_path, "a\nb\n", "a\nb\n")
    score(ws)
    before = (ws / "output" / "result.json").read_bytes()
    art_before = (ws / "output" / "artifacts" / "diff.json").read_bytes()
    with pytest.raises(MissingFile):
        score(ws, params={"boom": True})
    assert (ws / "output" / "result.json").read_bytes() == before
    assert (ws / "output" / "artifacts" / "diff.json").read_bytes() == art_before
    assert not list((ws / "output").glob(".artifacts-*"))


def test_write_false_touches_nothing(tmp_path: Path) -> None:
    ws = _workspace(tmp_path, "a\n", "a\n")
    result = score(ws, write=False)
    assert result.summary.score == 1.0
    assert sorted(p.name for p in (ws / "output").iterdir()) == ["pred.csv"]
