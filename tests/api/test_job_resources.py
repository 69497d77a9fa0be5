"""Job status ``resources``: the sandbox's live use while it runs (cpu_usage, memory_usage,
gpu_usage), the last reading and the peaks once it has ended."""

from __future__ import annotations

import json
import time
from typing import Any

from tests.api.conftest import bearer, data_of, write_classification

from autoscorer.workspace.models import parse_memory


def _status(http: Any, job_id: str) -> dict[str, Any]:
    got: dict[str, Any] = data_of(
        http.get(f"/api/v1/jobs/{job_id}/status", headers=bearer("reader"))
    )
    return got


def test_resources_are_live_while_running_and_kept_after(live, roots, h) -> None:
    http = live(api_keys=h.api_keys())
    ws = write_classification(roots["workspaces"] / "busy")
    meta = json.loads((ws / "meta.json").read_text())
    pred = (ws / "output" / "pred.csv").read_text()
    busy = "end=$(($(date +%s)+6)); while [ $(date +%s) -lt $end ]; do :; done"
    cmd = f"{busy}; printf '{pred}' > /workspace/output/pred.csv"
    meta["container"] = {"image": "local", "cmd": ["sh", "-c", cmd]}
    (ws / "meta.json").write_text(json.dumps(meta))
    body = {"job_id": "busy-1", "workspace_path": str(ws), "async": True}
    data_of(http.post("/api/v1/jobs", json=body, headers=bearer("submitter")), 202)
    seen: dict[str, Any] | None = None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        st = _status(http, "busy-1")
        if st["status"] == "running" and (st.get("resources") or {}).get("memory_usage"):
            seen = st["resources"]
            break
        assert st["status"] in ("queued", "running"), st
        time.sleep(0.1)
    assert seen is not None, "no live resources while the job ran"
    assert seen["gpu_usage"] == 0  # none assigned
    assert parse_memory(seen["memory_usage"]) > 0
    while _status(http, "busy-1")["status"] == "running":
        time.sleep(0.1)
    final = _status(http, "busy-1")
    assert final["status"] == "completed", final
    res = final["resources"]
    assert {"cpu_usage", "memory_usage", "gpu_usage", "peak_cpu", "peak_memory"} <= set(res)
    assert res["peak_cpu"] > 0 and res["cpu_usage"] is not None  # a busy shell loop
    assert parse_memory(res["peak_memory"]) >= parse_memory(res["memory_usage"]) > 0
    result = data_of(http.get("/api/v1/jobs/busy-1/result", headers=bearer("reader")))
    assert result["result"]["resources"] == res
