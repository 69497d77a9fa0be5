"""/metrics after a batch of real jobs through the API: prometheus-client's parser reads
the right counts (completed, failed by error code, cancelled, durations)."""

from __future__ import annotations

import json
import time

from prometheus_client.parser import text_string_to_metric_families
from tests.api.conftest import data_of, write_classification


def _samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_metrics_count_a_batch_of_jobs(client, roots) -> None:
    base = roots["workspaces"]
    jobs = []
    for i in range(5):
        write_classification(base / f"ok{i}")
        jobs.append({"job_id": f"ok{i}", "workspace_path": str(base / f"ok{i}")})
    for i in range(2):  # no predictions: fails with MISSING_FILE
        ws = write_classification(base / f"bad{i}")
        (ws / "output" / "pred.csv").unlink()
        jobs.append({"job_id": f"bad{i}", "workspace_path": str(ws)})
    slow = write_classification(base / "slow")
    meta = json.loads((slow / "meta.json").read_text())
    meta["container"] = {"image": "local", "cmd": ["sh", "-c", "sleep 30"]}
    (slow / "meta.json").write_text(json.dumps(meta))
    jobs.append({"job_id": "slow", "workspace_path": str(slow)})
    data_of(client.post("/api/v1/jobs/batch", json={"jobs": jobs}), 202)
    data_of(client.delete("/api/v1/jobs/slow"))
    deadline = time.monotonic() + 30
    while data_of(client.get("/api/v1/status"))["metrics"]["active_jobs"]:
        assert time.monotonic() < deadline
        time.sleep(0.05)

    got = _samples(client.get("/metrics").text)
    scorer = frozenset({("scorer", "classification_f1")})
    assert got[("autoscorer_jobs_submitted_total", scorer)] == 8
    assert got[("autoscorer_jobs_completed_total", scorer)] == 5
    failed = frozenset({("scorer", "classification_f1"), ("error_code", "MISSING_FILE")})
    assert got[("autoscorer_jobs_failed_total", failed)] == 2
    assert got[("autoscorer_jobs_cancelled_total", frozenset())] == 1
    assert got[("autoscorer_jobs_running", frozenset())] == 0
    assert got[("autoscorer_job_duration_seconds_count", frozenset())] == 7
    assert got[("autoscorer_job_duration_seconds_sum", frozenset())] > 0
