"""The Kubernetes executor against the fake API server (tests/executors/k8s_fake.py).

No cluster runs here: the fake validates what it receives against the
Kubernetes schemas and deploy/k8s/rbac.yaml, and runs each pod's command as a
real process under the pod's uid/gid with its mounts, so a manifest that
would fail on a cluster fails here.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from exec_helpers import SOLVE, python
from k8s_fake import FakeApiServer
from k8s_fake_pod import Scenario

from autoscorer.executors import get_executor
from autoscorer.executors.kubernetes import KubernetesExecutor
from autoscorer.executors.outcome import RunOutcome
from autoscorer.executors.spec import build_spec
from autoscorer.pipeline.run import CancelToken, PipelineRequest, run_pipeline
from autoscorer.workspace.layout import Workspace

WsFactory = Callable[..., Path]


@pytest.fixture
def fake(tmp_path: Path) -> Iterator[FakeApiServer]:
    with FakeApiServer(tmp_path, namespace="scoring", pvc_name="ws-claim") as server:
        yield server


def make_k8s(fake: FakeApiServer, root: Path, **config: Any) -> KubernetesExecutor:
    options: dict[str, Any] = {
        "host": fake.url, "workspace_root": str(root), "namespace": "scoring", "pvc": "ws-claim",
        "poll_interval": 0.02, "termination_grace_seconds": 1, **config,
    }  # fmt: skip
    ex = get_executor("k8s", **options)
    assert isinstance(ex, KubernetesExecutor)
    return ex


@pytest.fixture
def k8s(fake: FakeApiServer, tmp_path: Path) -> Iterator[KubernetesExecutor]:
    ex = make_k8s(fake, tmp_path, image_pull_secrets=["regcred"], node_selector={"pool": "eval"})
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
    root = workspace(["true"], time_limit=90.4, resources={"cpu": 1.5, "gpus": 1, "disk": "100Mi"})
    outcome = run(k8s, root)
    assert outcome.error is not None and outcome.error.code == "NO_PREDICTIONS"  # `true` ran
    assert fake.cluster.denied == []
    job = the_job(fake)
    assert job["metadata"]["namespace"] == "scoring"
    assert job["metadata"]["name"].startswith("autoscorer-ws0-")
    labels = job["metadata"]["labels"]
    assert labels["autoscorer.io/network"] == "none" and labels["autoscorer.io/job-id"] == "ws0"
    spec = job["spec"]
    # the backstop deadline: start-up limit + time limit + grace + margin
    assert spec["activeDeadlineSeconds"] == round(300 + 90.4 + 1 + 60)
    assert spec["backoffLimit"] == 0 and spec["ttlSecondsAfterFinished"] == 300
    assert spec["podFailurePolicy"] == {
        "rules": [
            {
                "action": "FailJob",
                "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}],
            }
        ]
    }
    pod = spec["template"]["spec"]
    assert pod["terminationGracePeriodSeconds"] == 1
    assert pod["restartPolicy"] == "Never" and pod["automountServiceAccountToken"] is False
    assert pod["securityContext"] == {
        "runAsNonRoot": True,
        "runAsUser": 65534,
        "runAsGroup": 65534,
        "fsGroup": 65534,
        "fsGroupChangePolicy": "OnRootMismatch",
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    assert pod["imagePullSecrets"] == [{"name": "regcred"}]
    assert pod["nodeSelector"] == {"pool": "eval"}
    assert pod["volumes"][0] == {
        "name": "workspace",
        "persistentVolumeClaim": {"claimName": "ws-claim"},
    }
    (c,) = pod["containers"]
    assert c["args"] == ["true"] and "command" not in c
    limits = {
        "cpu": "1500m",
        "memory": str(256 * 1024**2),
        "ephemeral-storage": str(100 * 1024**2),
        "nvidia.com/gpu": "1",
    }
    assert c["resources"] == {"requests": limits, "limits": limits}
    assert c["securityContext"]["capabilities"] == {"drop": ["ALL"]}


def test_mounts_are_exactly_the_run_spec_mounts(
    k8s: KubernetesExecutor, fake: FakeApiServer, workspace: WsFactory
) -> None:
    """The pod sees each RunSpec mount as a subPath and nothing else: no ground truth."""
    root = workspace(["sh", "-c", "ls -aR /workspace/input; cat /workspace/input/gt.csv"])
    ws = Workspace.at(root)
    spec = build_spec(ws, ws.load_meta())
    outcome = k8s.run(spec)
    c = the_job(fake)["spec"]["template"]["spec"]["containers"][0]
    from_spec = [
        (m.target, f"ws0/{m.source.relative_to(root).as_posix()}", m.read_only) for m in spec.mounts
    ]
    on_volume = [
        (m["mountPath"], m["subPath"], m["readOnly"]) for m in c["volumeMounts"] if "subPath" in m
    ]
    assert on_volume == from_spec
    log = (root / "logs" / "container.log").read_text()
    assert "ids.txt" in log and "gt.csv" in log  # listed as missing by cat, never read
    assert "No such file" in log and "1,1" not in log
    assert outcome.error is not None and outcome.error.code == "EXIT_NONZERO"


def test_a_changed_mount_list_is_followed_and_a_mount_off_the_volume_refused(
    k8s: KubernetesExecutor, fake: FakeApiServer, workspace: WsFactory, tmp_path: Path
) -> None:
    """Whatever spec.py decides to mount (one file here) is what the pod gets; a source
    outside the workspace cannot be a subPath and is refused before anything is created."""
    from dataclasses import replace

    from autoscorer.executors.base import Mount

    root = workspace(["sh", "-c", "ls -R /workspace/input"])
    ws = Workspace.at(root)
    spec = build_spec(ws, ws.load_meta())
    ids = Mount(root / "input" / "data" / "ids.txt", "/workspace/input/ids.txt")
    one_file = replace(spec, mounts=[ids, *(m for m in spec.mounts if not m.read_only)])
    outcome = k8s.run(one_file)
    assert outcome.error is not None and outcome.error.code == "NO_PREDICTIONS"
    assert (root / "logs" / "container.log").read_text().split() == ["/workspace/input:", "ids.txt"]
    outside = tmp_path.parent / f"{tmp_path.name}-outside"
    outside.mkdir()
    bad = replace(spec, mounts=[Mount(outside, "/workspace/input/x"), *spec.mounts])
    outcome = k8s.run(bad)
    assert outcome.error is not None and outcome.error.code == "WORKSPACE_INVALID"
    assert len(fake.cluster.jobs) == 1


def test_the_pod_writes_output_as_a_non_root_user(
    k8s: KubernetesExecutor, fake: FakeApiServer, workspace: WsFactory
) -> None:
    """The worker hands output/ and logs/ to the pod's group; the process runs as 65534."""
    root = workspace(python(SOLVE + "\nimport os; print('ids', os.getuid(), os.getgroups())"))
    result = run_pipeline(PipelineRequest(workspace=str(root)), executor=k8s)
    assert result.error is None, result.error
    assert result.summary.score == 1.0
    pred = (root / "output" / "pred.csv").stat()
    assert (pred.st_uid, pred.st_gid) == (65534, 65534)
    assert (root / "output").stat().st_mode & 0o2070 == 0o2070  # setgid, group rwx
    assert "ids 65534 [65534]" in (root / "logs" / "container.log").read_text()
    info = json.loads((root / "logs" / "run_info.json").read_text())
    assert info["executor"] == "kubernetes" and info["exit_code"] == 0
    assert result.provenance is not None
    assert result.provenance.image_digest == "sha256:" + "ab" * 32


def test_root_user_or_group_is_refused(
    k8s: KubernetesExecutor, fake: FakeApiServer, workspace: WsFactory, tmp_path: Path
) -> None:
    from dataclasses import replace

    from autoscorer.errors import InvalidParameter

    root = workspace(["true"], container={"user": "65534:0"})
    ws = Workspace.at(root)
    with pytest.raises(InvalidParameter, match="gid 0"):  # spec.py refuses it first
        build_spec(ws, ws.load_meta())
    plain = Workspace.at(workspace(["true"]))
    spec = build_spec(plain, plain.load_meta())
    for user in ("65534:0", "0:65534", "0"):
        outcome = k8s.run(replace(spec, user=user))  # and so does the executor
        assert outcome.error is not None and outcome.error.code == "INVALID_PARAMETER"
    assert fake.cluster.jobs == {}
    for field in ("run_as_user", "run_as_group", "fs_group"):
        with pytest.raises(InvalidParameter, match=field):
            make_k8s(fake, tmp_path, **{field: 0})


def test_time_limit_counts_from_container_start(
    fake: FakeApiServer, tmp_path: Path, workspace: WsFactory
) -> None:
    """A slow image pull (1.5 s) does not eat the 1 s time limit of a 0.3 s run."""
    fake.cluster.scenario = Scenario(waiting=[("ContainerCreating", "pulling", 1.5)])
    root = workspace(python("import time; time.sleep(0.3)\n" + SOLVE), time_limit=1)
    with make_k8s(fake, tmp_path) as ex:
        result = run_pipeline(PipelineRequest(workspace=str(root)), executor=ex)
    assert result.error is None, result.error
    assert result.timing.inference_time is not None and result.timing.inference_time < 1.2


def test_time_limit_still_kills_a_slow_run(
    fake: FakeApiServer, tmp_path: Path, workspace: WsFactory
) -> None:
    root = workspace(["sleep", "30"], time_limit=0.5)
    with make_k8s(fake, tmp_path) as ex:
        outcome = run(ex, root)
    assert outcome.error is not None and outcome.error.code == "TIMEOUT_ERROR"
    assert outcome.error.fault == "participant"
    assert fake.cluster.deletions


def test_cancel_stops_the_pod_within_its_grace_period(
    fake: FakeApiServer, tmp_path: Path, workspace: WsFactory
) -> None:
    """terminationGracePeriodSeconds reaches the pod: a process ignoring SIGTERM dies in ~1 s."""
    root = workspace(["sh", "-c", "trap '' TERM; echo up; sleep 60"])
    token = CancelToken()
    box: list[RunOutcome] = []
    with make_k8s(fake, tmp_path) as ex:
        worker = threading.Thread(target=lambda: box.append(run(ex, root, token)))
        worker.start()
        while not any(j.pod and j.pod.started for j in fake.cluster.jobs.values()):
            time.sleep(0.02)
        time.sleep(0.3)
        token.cancel()
        worker.join(10)
    assert box[0].error is not None and box[0].error.code == "CANCELLED"
    (job,) = fake.cluster.jobs.values()
    deleted = fake.cluster.deletions[0]
    assert deleted["options"]["propagationPolicy"] == "Background"
    deadline = time.time() + 5
    while job.pod is not None and job.pod.process_ended_at is None and time.time() < deadline:
        time.sleep(0.05)
    assert job.pod is not None and job.pod.process_ended_at is not None
    assert job.pod.process_ended_at - deleted["at"] < 2.5


@pytest.mark.parametrize("job_id", ["_lead", "trail_", "a" * 70 + "_"])
def test_job_ids_become_valid_label_values(
    k8s: KubernetesExecutor, fake: FakeApiServer, workspace: WsFactory, job_id: str
) -> None:
    root = workspace(python(SOLVE))
    result = run_pipeline(PipelineRequest(workspace=str(root), job_id=job_id), executor=k8s)
    assert result.error is None, result.error
    label = the_job(fake)["metadata"]["labels"]["autoscorer.io/job-id"]
    assert label == job_id.strip("_")[:63].rstrip("_")


def test_the_log_stream_does_not_outlive_the_run(
    k8s: KubernetesExecutor, fake: FakeApiServer, workspace: WsFactory
) -> None:
    fake.cluster.scenario = Scenario(log_hangs=True)
    root = workspace(python(SOLVE))
    t0 = time.monotonic()
    outcome = run(k8s, root)
    assert outcome.error is None, outcome.error
    assert time.monotonic() - t0 < 4.0
    time.sleep(0.3)
    alive = [t.name for t in threading.enumerate() if t.name == "logs-ws0"]
    assert alive == []


def test_workspace_outside_the_volume_is_refused(fake: FakeApiServer, tmp_path: Path) -> None:
    from exec_helpers import write_workspace

    from autoscorer.errors import WorkspaceInvalid

    ex = make_k8s(fake, tmp_path / "pvc")
    root = write_workspace(tmp_path / "elsewhere", ["true"])
    ws = Workspace.at(root)
    with pytest.raises(WorkspaceInvalid, match="not on the Kubernetes workspace volume"):
        ex.describe(build_spec(ws, ws.load_meta()))


def test_output_writable_needs_the_worker_in_the_group(fake: FakeApiServer, tmp_path: Path) -> None:
    """A worker that cannot hand output/ to the pod's group fails as a system fault."""
    from exec_helpers import write_workspace

    pvc = Path(tempfile.mkdtemp(prefix="k8s-pvc-"))
    pvc.chmod(0o755)
    root = write_workspace(pvc / "ws", ["true"])
    (root / "logs").mkdir()
    for path in [root, *root.rglob("*")]:
        os.chown(path, 1234, 1234)
    pid = os.fork()
    if pid == 0:  # a non-root worker (uid 1234) outside group 4242
        try:
            os.setgroups([])
            os.setgid(1234)
            os.setuid(1234)
            outcome = run(make_k8s(fake, pvc, fs_group=4242), root)
            err = outcome.error
            ok = err is not None and err.code == "EXECUTOR_UNAVAILABLE" and err.fault == "system"
            os._exit(0 if ok and "supplementalGroups" in err.message else 1)
        finally:
            os._exit(2)
    _, status = os.waitpid(pid, 0)
    shutil.rmtree(pvc)
    assert os.waitstatus_to_exitcode(status) == 0
    assert fake.cluster.jobs == {}


def test_the_group_hand_over_never_follows_a_link(
    k8s: KubernetesExecutor, fake: FakeApiServer, workspace: WsFactory, tmp_path: Path
) -> None:
    """Links left in output/ point outside: their targets keep their owner, group and mode."""
    outside = tmp_path.parent / f"{tmp_path.name}-target"
    outside.mkdir()
    (outside / "secret.txt").write_text("host data\n")
    os.chmod(outside / "secret.txt", 0o600)
    before = [
        (p.stat().st_uid, p.stat().st_gid, p.stat().st_mode)
        for p in (outside, outside / "secret.txt")
    ]
    root = workspace(python(SOLVE))
    (root / "output" / "dir-link").symlink_to(outside)
    (root / "output" / "file-link").symlink_to(outside / "secret.txt")
    outcome = run(k8s, root)
    assert outcome.error is None, outcome.error
    after = [
        (p.stat().st_uid, p.stat().st_gid, p.stat().st_mode)
        for p in (outside, outside / "secret.txt")
    ]
    assert after == before
    assert (outside / "secret.txt").read_text() == "host data\n"
    shutil.rmtree(outside)
