"""The Kubernetes executor against a fake API server (a real HTTP server on 127.0.0.1).

No cluster runs here: the fake records the objects it receives and plays the
pod phases. Manifests are asserted field by field.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from exec_helpers import SOLVE, python
from k8s_fake import FakeApiServer, Scenario

from autoscorer.errors import WorkspaceInvalid
from autoscorer.executors import get_executor
from autoscorer.executors.kubernetes import KubernetesExecutor
from autoscorer.executors.outcome import RunOutcome
from autoscorer.executors.spec import build_spec
from autoscorer.pipeline.run import CancelToken, PipelineRequest, run_pipeline
from autoscorer.workspace.layout import Workspace

WsFactory = Callable[..., Path]
CRASH_LOG = "Traceback\nValueError: bad\n"


@pytest.fixture
def fake() -> Iterator[FakeApiServer]:
    with FakeApiServer() as server:
        yield server


@pytest.fixture
def k8s(fake: FakeApiServer, tmp_path: Path) -> Iterator[KubernetesExecutor]:
    ex = get_executor(
        "k8s",
        host=fake.url,
        workspace_root=str(tmp_path),
        namespace="scoring",
        pvc="ws-claim",
        poll_interval=0.02,
        image_pull_secrets=["regcred"],
        node_selector={"pool": "eval"},
    )
    assert isinstance(ex, KubernetesExecutor)
    yield ex
    ex.close()


def run(ex: KubernetesExecutor, root: Path, cancel: CancelToken | None = None) -> RunOutcome:
    ws = Workspace.at(root)
    return ex.run(build_spec(ws, ws.load_meta()), cancel=cancel)


def the_job(fake: FakeApiServer) -> dict[str, Any]:
    (job,) = fake.cluster.jobs.values()
    return job.manifest


def test_job_manifest_field_by_field(
    k8s: KubernetesExecutor, fake: FakeApiServer, workspace: WsFactory
) -> None:
    root = workspace(["python3", "x.py"], time_limit=90.4, resources={"cpu": 1.5, "gpus": 1})
    outcome = run(k8s, root)
    assert outcome.exit_code == 0, outcome.error  # (the fake pod writes no predictions)
    job = the_job(fake)
    assert job["apiVersion"] == "batch/v1" and job["kind"] == "Job"
    assert job["metadata"]["namespace"] == "scoring"
    assert job["metadata"]["name"].startswith("autoscorer-ws0-")
    assert len(job["metadata"]["name"]) <= 63
    labels = job["metadata"]["labels"]
    assert labels["autoscorer.io/network"] == "none" and labels["autoscorer.io/job-id"] == "ws0"
    spec = job["spec"]
    assert spec["activeDeadlineSeconds"] == 90 and spec["backoffLimit"] == 0
    assert spec["ttlSecondsAfterFinished"] == 300
    pod = spec["template"]["spec"]
    assert spec["template"]["metadata"]["labels"] == labels
    assert pod["restartPolicy"] == "Never" and pod["automountServiceAccountToken"] is False
    assert pod["enableServiceLinks"] is False
    assert pod["securityContext"] == {
        "runAsNonRoot": True,
        "runAsUser": 65534,
        "runAsGroup": 65534,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    assert pod["imagePullSecrets"] == [{"name": "regcred"}]
    assert pod["nodeSelector"] == {"pool": "eval"}
    assert pod["volumes"][0] == {
        "name": "workspace",
        "persistentVolumeClaim": {"claimName": "ws-claim"},
    }
    assert pod["volumes"][1] == {
        "name": "tmp",
        "emptyDir": {"medium": "Memory", "sizeLimit": "256Mi"},
    }
    (c,) = pod["containers"]
    assert c["name"] == "submission" and c["image"] == "autoscorer-test/python"
    assert c["args"] == ["python3", "x.py"] and "command" not in c
    assert c["imagePullPolicy"] == "Never" and c["workingDir"] == "/workspace"
    assert {"name": "AUTOSCORER_INPUT", "value": "/workspace/input"} in c["env"]
    limits = {"cpu": "1500m", "memory": str(256 * 1024**2), "nvidia.com/gpu": "1"}
    limits["ephemeral-storage"] = str(1024**3)  # the default disk quota (settings)
    assert c["resources"] == {"requests": limits, "limits": limits}
    assert c["securityContext"] == {
        "runAsNonRoot": True,
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "privileged": False,
        "capabilities": {"drop": ["ALL"]},
    }

    def ws_mount(sub: str, read_only: bool) -> dict[str, Any]:
        path = f"/workspace/{sub}"
        return {
            "name": "workspace",
            "mountPath": path,
            "subPath": f"ws0/{sub}",
            "readOnly": read_only,
        }

    assert c["volumeMounts"] == [
        ws_mount("input/data", True),  # input/gt.csv is not mounted
        ws_mount("output", False),
        ws_mount("logs", False),
        {"name": "tmp", "mountPath": "/tmp"},
    ]


def test_network_policy_and_cleanup(
    k8s: KubernetesExecutor, fake: FakeApiServer, workspace: WsFactory
) -> None:
    run(k8s, workspace(["true"]))
    run(k8s, workspace(["true"]))
    (policy,) = fake.cluster.policies
    assert policy["kind"] == "NetworkPolicy" and policy["metadata"]["namespace"] == "scoring"
    assert policy["spec"] == {
        "podSelector": {"matchLabels": {"autoscorer.io/network": "none"}},
        "policyTypes": ["Ingress", "Egress"],
    }
    assert len(fake.cluster.deletions) == 2  # every Job deleted after its run
    for d in fake.cluster.deletions:
        assert d["options"]["propagationPolicy"] == "Background"
        assert d["options"]["gracePeriodSeconds"] == 0


def _write_pred_like_the_pod(tmp_path: Path) -> Callable[[dict[str, Any]], None]:
    """Simulates the pod's work: write pred.csv into the PVC subPath of output/."""

    def on_run(job: dict[str, Any]) -> None:
        mounts = job["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]
        out = next(m for m in mounts if m["mountPath"] == "/workspace/output")
        ids = range(1, 21)
        text = "id,label\n" + "".join(f"{i},{i % 3}\n" for i in ids)
        (tmp_path / out["subPath"] / "pred.csv").write_text(text)

    return on_run


def test_succeeded_pipeline_scores_with_logs(
    k8s: KubernetesExecutor, fake: FakeApiServer, workspace: WsFactory, tmp_path: Path
) -> None:
    fake.cluster.scenario = Scenario(on_run=_write_pred_like_the_pod(tmp_path), log="pod says hi\n")
    root = workspace(python(SOLVE))
    result = run_pipeline(PipelineRequest(workspace=str(root)), executor=k8s)
    assert result.error is None and result.summary.score == 1.0
    assert result.provenance.image_digest == "sha256:" + "ab" * 32
    assert (root / "logs" / "container.log").read_text() == "pod says hi\n"
    info = json.loads((root / "logs" / "run_info.json").read_text())
    assert info["executor"] == "kubernetes" and info["exit_code"] == 0
    assert info["started_at"].startswith("2025-01-01T00:00:00")


@pytest.mark.parametrize(
    ("scenario", "code", "fault"),
    [
        (Scenario(phase="Failed", exit_code=2, log=CRASH_LOG), "EXIT_NONZERO", "participant"),
        (Scenario(phase="OOMKilled"), "OOM_KILLED", "participant"),
        (Scenario(phase="DeadlineExceeded"), "TIMEOUT_ERROR", "participant"),
        (Scenario(phase="ImagePullBackOff"), "IMAGE_NOT_FOUND", "host"),
        (Scenario(phase="Succeeded"), "NO_PREDICTIONS", "participant"),
    ],
    ids=["failed", "oom", "deadline", "image", "no-pred"],
)  # fmt: skip
def test_pod_phases_map_to_the_taxonomy(
    k8s: KubernetesExecutor,
    fake: FakeApiServer,
    workspace: WsFactory,
    scenario: Scenario,
    code: str,
    fault: str,
) -> None:
    fake.cluster.scenario = scenario
    root = workspace(["true"])
    outcome = run(k8s, root)
    assert outcome.error is not None and outcome.error.code == code
    assert outcome.error.fault == fault
    if code == "EXIT_NONZERO":
        assert outcome.exit_code == 2 and "ValueError: bad" in outcome.error.details["log_tail"]
    if code == "OOM_KILLED":
        assert outcome.oom_killed
    assert [d["name"] for d in fake.cluster.deletions] == list(fake.cluster.jobs)


def test_cancel_deletes_the_job(
    k8s: KubernetesExecutor, fake: FakeApiServer, workspace: WsFactory
) -> None:
    fake.cluster.scenario = Scenario(phase="Running")
    token = CancelToken()
    box: list[RunOutcome] = []
    worker = threading.Thread(target=lambda: box.append(run(k8s, workspace(["true"]), token)))
    worker.start()
    while not fake.cluster.jobs:
        time.sleep(0.02)
    time.sleep(0.2)
    t0 = time.monotonic()
    token.cancel()
    worker.join(5)
    assert time.monotonic() - t0 < 2.0
    assert box[0].error is not None and box[0].error.code == "CANCELLED"
    assert fake.cluster.deletions[0]["options"]["propagationPolicy"] == "Background"


def test_time_limit_enforced_by_the_executor_too(
    k8s: KubernetesExecutor, fake: FakeApiServer, workspace: WsFactory
) -> None:
    fake.cluster.scenario = Scenario(phase="Running")
    root = workspace(["true"], time_limit=0.5)
    outcome = run(k8s, root)
    assert outcome.error is not None and outcome.error.code == "TIMEOUT_ERROR"
    assert fake.cluster.deletions


def test_workspace_outside_the_volume_is_refused(fake: FakeApiServer, tmp_path: Path) -> None:
    ex = get_executor("kubernetes", host=fake.url, workspace_root=str(tmp_path / "pvc"))
    from exec_helpers import write_workspace

    root = write_workspace(tmp_path / "elsewhere", ["true"])
    ws = Workspace.at(root)
    with pytest.raises(WorkspaceInvalid, match="not on the Kubernetes workspace volume"):
        ex.describe(build_spec(ws, ws.load_meta()))


def test_health_and_unreachable_api(fake: FakeApiServer, tmp_path: Path) -> None:
    ok = get_executor("kubernetes", host=fake.url, workspace_root=str(tmp_path))
    assert ok.health() == {
        "status": "healthy",
        "server_version": "v1.29.0-fake",
        "namespace": "autoscorer",
    }
    down = get_executor("kubernetes", host="http://127.0.0.1:1", workspace_root=str(tmp_path))
    assert down.health()["status"] == "unavailable"
    from exec_helpers import write_workspace

    root = write_workspace(tmp_path / "ws", ["true"])
    ws = Workspace.at(root)
    outcome = down.run(build_spec(ws, ws.load_meta()))
    assert outcome.error is not None and outcome.error.code == "EXECUTOR_UNAVAILABLE"
    assert outcome.error.fault == "system"
