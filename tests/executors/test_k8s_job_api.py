"""A job with ``executor: kubernetes`` through the API, end to end, against the fake cluster.

queue -> runner -> executor -> pod (a real process) -> pod logs -> scoring -> result, with
the settings of ``deploy/k8s/config.yaml`` in the environment. Only what cannot be the
same on this machine is changed: the workspace volume's mount path (a temporary folder
instead of ``/workspaces``), the API server's address (the fake instead of the in-cluster
service account) and the store and queue (SQLite and in-process instead of the Secret's
PostgreSQL and Celery; the job path after the queue is the same).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from k8s_fake import ROOT, FakeApiServer
from k8s_fake_pod import Scenario
from tests.jobs.helpers import REDIS_URL, unique, wait_for

from autoscorer.api.main import create_app
from autoscorer.settings import Settings

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

LABELS = ["cat", "dog"]
# the submission: label of s<i> is LABELS[i % 2], the ground truth it cannot see
SOLVE = """
import os
ids = open('/workspace/input/data/ids.txt').read().split()
print('predicting', len(ids), 'ids as', os.getuid(), flush=True)
with open(os.path.join(os.environ['AUTOSCORER_OUTPUT'], 'pred.csv'), 'w') as f:
    f.write('id,label\\n' + ''.join(f"{i},{['cat', 'dog'][int(i[1:]) % 2]}\\n" for i in ids))
"""


def deploy_env() -> dict[str, str]:
    """The ConfigMap of deploy/k8s/config.yaml, as the Deployments' envFrom sets it."""
    docs = yaml.safe_load_all((ROOT / "deploy" / "k8s" / "config.yaml").read_text())
    (cm,) = [d for d in docs if d and d["kind"] == "ConfigMap"]
    return {k: str(v) for k, v in cm["data"].items()}


def write_workspace(root: Path, n: int = 30) -> Path:
    (root / "input" / "data").mkdir(parents=True)
    ids = [f"s{i}" for i in range(n)]
    gt = "id,label\n" + "".join(f"{i},{LABELS[int(i[1:]) % 2]}\n" for i in ids)
    (root / "input" / "gt.csv").write_text(gt)
    (root / "input" / "data" / "ids.txt").write_text("\n".join(ids) + "\n")
    meta = {
        "job_id": root.name,
        "task_type": "classification",
        "scorer": "classification_accuracy",
        "time_limit": 30,
        "resources": {"cpu": 1, "memory": "256Mi"},
        "container": {"image": "registry.test/solve:1", "cmd": ["python3", "-u", "-c", SOLVE]},
    }
    (root / "meta.json").write_text(json.dumps(meta))
    return root


@pytest.fixture
def cluster(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeApiServer]:
    volume = tmp_path / "workspaces"  # the PVC, mounted at /workspaces in the Deployments
    volume.mkdir()
    env = deploy_env()
    assert env["AUTOSCORER_EXECUTOR"] == "kubernetes"
    assert json.loads(env["AUTOSCORER_WORKSPACE_ROOTS"]) == ["/workspaces"]
    assert env["AUTOSCORER_K8S_WORKSPACE_ROOT"] == "/workspaces"
    with FakeApiServer(volume, env["AUTOSCORER_K8S_NAMESPACE"], env["AUTOSCORER_K8S_PVC"]) as fake:
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        monkeypatch.setenv("AUTOSCORER_WORKSPACE_ROOTS", json.dumps([str(volume)]))
        monkeypatch.setenv("AUTOSCORER_K8S_WORKSPACE_ROOT", str(volume))
        monkeypatch.setenv("AUTOSCORER_K8S_API_URL", fake.url)
        monkeypatch.setenv("AUTOSCORER_QUEUE", "inprocess")
        monkeypatch.setenv("AUTOSCORER_DATABASE_URL", f"sqlite:///{tmp_path / 'jobs.db'}")
        monkeypatch.setenv("AUTOSCORER_LOG_FORMAT", "text")
        monkeypatch.delenv("AUTOSCORER_CONFIG", raising=False)
        yield fake


def submit_and_wait(client: TestClient, body: dict[str, Any], timeout: float = 60) -> Any:
    resp = client.post("/api/v1/jobs", json={**body, "async": True})
    assert resp.status_code == 202, resp.text
    job_id = resp.json()["data"]["job_id"]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = client.get(f"/api/v1/jobs/{job_id}/status").json()["data"]
        if status["status"] in ("completed", "failed", "cancelled"):
            return job_id, status
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not finish: {status}")


def test_a_kubernetes_job_completes_through_the_api(cluster: FakeApiServer) -> None:
    volume = cluster.cluster.pvc_root
    ws = write_workspace(volume / "team-a")
    with TestClient(create_app(Settings())) as client:
        health = client.get("/health").json()["data"]
        assert health["components"]["k8s"] == "healthy"
        job_id, status = submit_and_wait(
            client, {"workspace_path": str(ws), "executor": "kubernetes"}
        )
        assert status["status"] == "completed", status
        result = client.get(f"/api/v1/jobs/{job_id}/result?include_logs=true").json()["data"]
        logs = client.get(f"/api/v1/jobs/{job_id}/logs").json()["data"]
    assert result["result"]["summary"]["score"] == 1.0
    assert result["result"]["provenance"]["image_digest"] == "sha256:" + "ab" * 32
    (job,) = cluster.cluster.jobs.values()
    assert job.manifest["metadata"]["namespace"] == "autoscorer"
    assert job.manifest["metadata"]["labels"]["autoscorer.io/job-id"] == job_id
    claim = job.manifest["spec"]["template"]["spec"]["volumes"][0]["persistentVolumeClaim"]
    assert claim == {"claimName": "autoscorer-workspaces"}
    assert "predicting 30 ids as 65534" in (ws / "logs" / "container.log").read_text()
    assert any("created" in str(entry) for entry in logs["logs"])
    assert cluster.cluster.denied == [] and cluster.cluster.deletions


@pytest.mark.parametrize(
    ("scenario", "code"),
    [
        (Scenario(schedulable=False), "UNSCHEDULABLE"),
        (Scenario(disruption="evicted", disrupt_after=0.5), "EVICTED"),
    ],
    ids=["unschedulable", "evicted"],
)
def test_a_lost_pod_fails_the_job_with_a_system_fault(
    cluster: FakeApiServer, monkeypatch: pytest.MonkeyPatch, scenario: Scenario, code: str
) -> None:
    monkeypatch.setenv("AUTOSCORER_K8S_STARTUP_TIMEOUT", "1.5")
    cluster.cluster.scenario = scenario
    ws = write_workspace(cluster.cluster.pvc_root / "team-b")
    meta = json.loads((ws / "meta.json").read_text())
    meta["container"]["cmd"] = ["sleep", "20"]
    (ws / "meta.json").write_text(json.dumps(meta))
    with TestClient(create_app(Settings())) as client:
        job_id, status = submit_and_wait(client, {"workspace_path": str(ws)})
        result = client.get(f"/api/v1/jobs/{job_id}/result").json()
    assert status["status"] == "failed"
    error = status.get("error") or result.get("error") or result["data"]["result"]["error"]
    assert error["code"] == code, error
    assert error["details"]["fault"] == "system"


class CeleryWorker:
    """``autoscorer worker`` with the Deployment's environment, in its own process group."""

    def __init__(self, env: dict[str, str], queue: str, log: Path) -> None:
        argv = [sys.executable, "-m", "autoscorer.cli.main", "worker", "-Q", queue]
        argv += ["-c", "1", "--pool", "solo", "--no-reaper", "--hostname", f"{queue}@%h"]
        self.name, self.log = queue, log
        with log.open("wb") as out:
            self.proc = subprocess.Popen(
                argv, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True, cwd=str(log.parent),
            )  # fmt: skip

    def wait_ready(self, app: Any) -> None:
        def ready() -> bool:
            assert self.proc.poll() is None, self.log.read_text(errors="replace")
            replies = app.control.ping(timeout=0.5) or []
            return any(name.startswith(f"{self.name}@") for r in replies for name in r)

        wait_for(ready, 60, "the celery worker to answer a ping", step=0.1)

    def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)


@pytest.mark.celery
@pytest.mark.slow
def test_a_kubernetes_job_runs_on_a_celery_worker_as_deployed(
    cluster: FakeApiServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The ConfigMap's queue too: the API publishes to Redis, an ``autoscorer worker``
    process (the worker Deployment's command) runs the Kubernetes Job."""
    lane = unique("k8s-lane")
    monkeypatch.setenv("AUTOSCORER_QUEUE", deploy_env()["AUTOSCORER_QUEUE"])
    monkeypatch.setenv("AUTOSCORER_BROKER_URL", REDIS_URL)
    env = {k: v for k, v in os.environ.items()}
    worker = CeleryWorker(env, lane, tmp_path / "worker.log")
    try:
        ws = write_workspace(cluster.cluster.pvc_root / "team-c")
        with TestClient(create_app(Settings())) as client:
            worker.wait_ready(client.app.state.runtime.service.queue.app)
            body = {"workspace_path": str(ws), "config": {"queue": lane}}
            job_id, status = submit_and_wait(client, body)
            result = client.get(f"/api/v1/jobs/{job_id}/result").json()["data"]
    finally:
        worker.stop()
    assert status["status"] == "completed", (status, worker.log.read_text(errors="replace"))
    assert status["worker_id"].startswith("celery@")
    assert result["result"]["summary"]["score"] == 1.0
    assert cluster.cluster.denied == [] and len(cluster.cluster.jobs) == 1
