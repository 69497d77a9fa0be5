"""A job is prepared once: the effective meta (meta.json + the request's config) reaches the
scorer, ``result.metadata.job_id`` is the job's id, and a run reads meta.json once."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from tests.api.conftest import bearer, check_error, data_of, write_classification

from autoscorer.pipeline.run import PipelineRequest, run_pipeline
from autoscorer.workspace.layout import Workspace


def _submit(http: Any, body: dict[str, Any], status: int = 200) -> dict[str, Any]:
    return data_of(http.post("/api/v1/jobs", json=body, headers=bearer("submitter")), status)


def test_the_request_config_reaches_the_scorer_and_the_job_id_the_result(live, roots, h) -> None:
    http = live(api_keys=h.api_keys())
    ws = roots["workspaces"] / "cls"  # meta.json says job_id "cls"
    plain = _submit(http, {"job_id": "plan-1", "workspace_path": str(ws)})
    assert plain["result"]["metadata"]["job_id"] == "plan-1"
    assert plain["result"]["summary"]["score"] == pytest.approx(0.9, abs=1e-12)
    body = {
        "job_id": "plan-2",
        "workspace_path": str(ws),
        "config": {"scorer_params": {"labels": ["cat", "dog", "bird"], "zero_division": 0}},
    }
    tuned = _submit(http, body)
    assert tuned["status"] == "completed", tuned
    # macro F1 over three labels, "bird" never seen: (0.9 + 0.9 + 0) / 3
    assert tuned["result"]["summary"]["score"] == pytest.approx(0.6, abs=1e-12)
    stored = json.loads((ws / "output" / "result.json").read_text())
    assert stored["metadata"]["job_id"] == "plan-2"
    assert json.loads((ws / "meta.json").read_text())["job_id"] == "cls"  # untouched


def test_a_bad_override_or_missing_scorer_is_refused_at_submit(live, roots, h) -> None:
    http = live(api_keys=h.api_keys())
    ws = roots["workspaces"] / "cls"
    bad = {"workspace_path": str(ws), "config": {"resources": {"memory": "lots"}}}
    resp = http.post("/api/v1/jobs", json=bad, headers=bearer("submitter"))
    check_error(resp, 400, "INVALID_PARAMETER")
    bare = write_classification(roots["workspaces"] / "bare")
    meta = json.loads((bare / "meta.json").read_text())
    del meta["scorer"]
    (bare / "meta.json").write_text(json.dumps(meta))
    resp = http.post(
        "/api/v1/jobs", json={"workspace_path": str(bare)}, headers=bearer("submitter")
    )
    check_error(resp, 400, "MISSING_PARAMETER", "scorer")
    listed = data_of(http.get("/api/v1/jobs", headers=bearer("reader")))
    assert listed["jobs"] == []  # nothing was stored


def test_a_run_reads_meta_json_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ws = write_classification(tmp_path / "once")
    meta = json.loads((ws / "meta.json").read_text())
    pred = (ws / "output" / "pred.csv").read_text()
    meta["container"] = {"image": "local", "cmd": ["sh", "-c", f"printf '{pred}' > pred.csv"]}
    meta["container"]["working_dir"] = "/workspace/output"
    (ws / "meta.json").write_text(json.dumps(meta))
    reads: list[Path] = []
    original = Workspace.load_meta

    def counting(self: Workspace) -> Any:
        reads.append(self.root)
        return original(self)

    monkeypatch.setattr(Workspace, "load_meta", counting)
    request = PipelineRequest(
        workspace=str(ws), executor="local", job_id="once-1", overrides={"time_limit": 30}
    )
    result = run_pipeline(request)
    assert result.error is None, result.error
    assert result.metadata is not None and result.metadata.job_id == "once-1"
    assert result.timing.inference_time is not None and result.timing.inference_time > 0
    assert reads == [ws.resolve()]
