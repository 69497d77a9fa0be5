"""Failures of the platform are system faults, the submission's own are participant faults.

Against the fake API server: its nodes evict, preempt, lose pods and fail to
schedule or pull exactly as scripted by a :class:`Scenario`, while the pod's
command runs as a real process.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from exec_helpers import SOLVE, python
from k8s_fake import FakeApiServer, role_rules
from k8s_fake_pod import INF, Scenario

from autoscorer.executors import get_executor
from autoscorer.executors.kubernetes import KubernetesExecutor
from autoscorer.executors.outcome import RunOutcome
from autoscorer.executors.spec import build_spec
from autoscorer.workspace.layout import Workspace

WsFactory = Callable[..., Path]
NOT_FOUND = 'rpc error: code = NotFound desc = failed to pull image "nope:1": not found'


@pytest.fixture
def fake(tmp_path: Path) -> Iterator[FakeApiServer]:
    with FakeApiServer(tmp_path) as server:
        yield server


def run(fake: FakeApiServer, root: Path, **config: Any) -> RunOutcome:
    options = {"poll_interval": 0.02, "termination_grace_seconds": 1, **config}
    ex = get_executor("kubernetes", host=fake.url, workspace_root=str(root.parent), **options)
    assert isinstance(ex, KubernetesExecutor)
    with ex:
        ws = Workspace.at(root)
        return ex.run(build_spec(ws, ws.load_meta()))


@pytest.mark.parametrize(
    ("disruption", "code", "reason"),
    [
        ("evicted", "EVICTED", "Evicted"),
        ("evicted-storage", "DISK_QUOTA_EXCEEDED", "Evicted"),
        ("evicted-node-disk", "EVICTED", "Evicted"),
        ("preempted", "EVICTED", "PreemptionByScheduler"),
        ("node-lost", "NODE_LOST", "PodDeleted"),
    ],
)
def test_disruptions_are_system_faults(
    fake: FakeApiServer, workspace: WsFactory, disruption: str, code: str, reason: str
) -> None:
    fake.cluster.scenario = Scenario(disruption=disruption, disrupt_after=0.3)
    outcome = run(fake, workspace(["sleep", "20"]))
    assert outcome.error is not None and outcome.error.code == code, outcome.error
    # the pod's own ephemeral-storage limit (resources.disk) is the submission's doing
    own_limit = disruption == "evicted-storage"
    assert outcome.error.fault == ("participant" if own_limit else "system")
    assert outcome.error.details["reason"] == reason
    resources = {"evicted": "memory", "evicted-node-disk": "ephemeral-storage"}
    if disruption.startswith("evicted"):
        expected = "ephemeral-storage" if own_limit else resources[disruption]
        assert outcome.error.details["resource"] == expected
    assert outcome.duration < 5


def test_node_lost_is_read_from_failure_target_without_the_pod(
    fake: FakeApiServer, workspace: WsFactory
) -> None:
    """The pod is gone (garbage-collected); the Job's FailureTarget comes long before Failed."""
    fake.cluster.scenario = Scenario(disruption="node-lost", failure_target_lag=30)
    outcome = run(fake, workspace(["sleep", "20"]))
    assert outcome.error is not None and outcome.error.code == "NODE_LOST"
    assert outcome.duration < 5
    (job,) = fake.cluster.jobs.values()
    # the fake's controller adds FailureTarget after it has killed the container's processes,
    # which on a loaded machine can come after the executor has already read NODE_LOST
    deadline = time.monotonic() + 5
    while not job.conditions and time.monotonic() < deadline:
        time.sleep(0.02)
    assert [c["type"] for c in job.conditions] == ["FailureTarget"]  # Failed is 30 s away


def test_unschedulable_ends_at_the_startup_limit(fake: FakeApiServer, workspace: WsFactory) -> None:
    fake.cluster.scenario = Scenario(schedulable=False)
    outcome = run(fake, workspace(["true"], resources={"gpus": 1}), startup_timeout=0.6)
    assert outcome.error is not None and outcome.error.code == "UNSCHEDULABLE"
    assert outcome.error.fault == "system"
    assert "Insufficient nvidia.com/gpu" in outcome.error.message
    assert fake.cluster.deletions  # the Job is removed


def test_a_missing_pvc_leaves_the_pod_pending(fake: FakeApiServer, workspace: WsFactory) -> None:
    outcome = run(fake, workspace(["true"]), pvc="no-such-claim", startup_timeout=0.5)
    assert outcome.error is not None and outcome.error.code == "UNSCHEDULABLE"
    assert 'persistentvolumeclaim "no-such-claim" not found' in outcome.error.message


def test_a_container_that_never_starts_is_a_startup_timeout(
    fake: FakeApiServer, workspace: WsFactory
) -> None:
    fake.cluster.scenario = Scenario(waiting=[("ContainerCreating", "", INF)])
    outcome = run(fake, workspace(["true"]), startup_timeout=0.5)
    assert outcome.error is not None and outcome.error.code == "STARTUP_TIMEOUT"
    assert outcome.error.fault == "system" and outcome.exit_code is None


def test_create_container_config_error_fails_fast(
    fake: FakeApiServer, workspace: WsFactory
) -> None:
    msg = 'secret "regcred" not found'
    fake.cluster.scenario = Scenario(waiting=[("CreateContainerConfigError", msg, INF)])
    outcome = run(fake, workspace(["true"]))
    assert outcome.error is not None and outcome.error.code == "SANDBOX_START_FAILED"
    assert outcome.error.fault == "system" and msg in outcome.error.message


def test_a_transient_pull_error_is_retried(fake: FakeApiServer, workspace: WsFactory) -> None:
    """Registry rate limits: ErrImagePull, back-off, then the pull works and the run scores."""
    fake.cluster.scenario = Scenario(
        waiting=[
            ("ErrImagePull", "429 Too Many Requests: toomanyrequests", 0.3),
            ("ImagePullBackOff", 'Back-off pulling image "autoscorer-test/python"', 0.3),
        ]
    )
    outcome = run(fake, workspace(python(SOLVE)))
    assert outcome.error is None, outcome.error
    assert outcome.prediction == "output/pred.csv"


def test_a_pull_that_keeps_failing_ends_at_the_startup_limit(
    fake: FakeApiServer, workspace: WsFactory
) -> None:
    fake.cluster.scenario = Scenario(waiting=[("ImagePullBackOff", "429 Too Many Requests", INF)])
    outcome = run(fake, workspace(["true"]), startup_timeout=0.5)
    assert outcome.error is not None and outcome.error.code == "IMAGE_NOT_FOUND"
    assert outcome.error.details["retried"] is True


@pytest.mark.parametrize(
    "waiting",
    [("ErrImagePull", NOT_FOUND), ("InvalidImageName", "couldn't parse image reference")],
)
def test_a_missing_image_fails_fast(
    fake: FakeApiServer, workspace: WsFactory, waiting: tuple[str, str]
) -> None:
    fake.cluster.scenario = Scenario(waiting=[(*waiting, INF)])
    outcome = run(fake, workspace(["true"]))
    assert outcome.error is not None and outcome.error.code == "IMAGE_NOT_FOUND"
    assert outcome.error.fault == "host" and outcome.duration < 3


@pytest.mark.parametrize(
    ("cmd", "scenario", "code"),
    [
        (["sh", "-c", "echo boom >&2; exit 3"], Scenario(), "EXIT_NONZERO"),
        (["true"], Scenario(oom=True), "OOM_KILLED"),
        (["true"], Scenario(), "NO_PREDICTIONS"),
    ],
    ids=["exit", "oom", "no-pred"],
)
def test_the_submission_own_failures_stay_participant_faults(
    fake: FakeApiServer, workspace: WsFactory, cmd: list[str], scenario: Scenario, code: str
) -> None:
    fake.cluster.scenario = scenario
    outcome = run(fake, workspace(cmd))
    assert outcome.error is not None and outcome.error.code == code
    assert outcome.error.fault == "participant"
    if code == "EXIT_NONZERO":
        assert outcome.exit_code == 3 and "boom" in outcome.error.details["log_tail"]


def test_a_role_without_networkpolicies_is_a_403(fake: FakeApiServer, workspace: WsFactory) -> None:
    """The Role main shipped (no networkpolicies) fails every run as EXECUTOR_UNAVAILABLE."""
    fake.cluster.rules = [r for r in role_rules() if r["resources"] != ["networkpolicies"]]
    outcome = run(fake, workspace(["true"]))
    assert outcome.error is not None and outcome.error.code == "EXECUTOR_UNAVAILABLE"
    assert "rbac.yaml" in outcome.error.message
    assert fake.cluster.denied == [("networking.k8s.io", "networkpolicies", "create")]


def test_a_namespace_outside_the_role_is_refused(fake: FakeApiServer, workspace: WsFactory) -> None:
    outcome = run(fake, workspace(["true"]), namespace="elsewhere")
    assert outcome.error is not None and outcome.error.code == "EXECUTOR_UNAVAILABLE"
    assert outcome.error.fault == "system"


def test_the_deploy_role_allows_every_call(fake: FakeApiServer, workspace: WsFactory) -> None:
    outcome = run(fake, workspace(python(SOLVE)))
    assert outcome.error is None, outcome.error
    assert fake.cluster.denied == [] and len(fake.cluster.policies) == 1
    methods = {m for m, _ in fake.cluster.requests}
    assert methods == {"GET", "POST", "DELETE"}


def test_pods_that_break_pod_security_restricted_are_never_created(
    fake: FakeApiServer, workspace: WsFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The executor's pods pass ``restricted``; a template without the seccomp profile gets
    no pod at all (FailedCreate), which ends as STARTUP_TIMEOUT, never blamed on the run."""
    from k8s_fake_psa import restricted_violations

    from autoscorer.executors import k8s_manifests

    root = workspace(["true"])
    ws = Workspace.at(root)
    spec = build_spec(ws, ws.load_meta())
    ex = get_executor("kubernetes", host=fake.url, workspace_root=str(root.parent))
    assert isinstance(ex, KubernetesExecutor)
    assert restricted_violations(ex.manifest(spec)["spec"]["template"]["spec"]) == []
    original = k8s_manifests.pod_spec

    def no_seccomp(*args: Any) -> dict[str, Any]:
        pod = original(*args)
        del pod["securityContext"]["seccompProfile"]
        return pod

    ex.close()
    monkeypatch.setattr(k8s_manifests, "pod_spec", no_seccomp)
    outcome = run(fake, root, startup_timeout=0.5)
    assert outcome.error is not None and outcome.error.code == "STARTUP_TIMEOUT"
    assert "seccompProfile" in fake.cluster.events[0]


def test_node_lost_is_told_from_the_deleted_pod_when_its_states_were_never_seen(
    fake: FakeApiServer, workspace: WsFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sandbox judges the latest state only; on a loaded machine the pod's Running and
    Failed states and its deletion can all arrive between two looks. The deletion's event
    still carries the pod's final state: the container ran, and its node was lost."""
    from autoscorer.executors import k8s_watch as kw

    looked = kw.Follower.next

    def late(self: kw.Follower, after: int, timeout: float) -> kw.Snapshot:
        deadline = time.monotonic() + 10  # look only once the pod's deletion has arrived
        while not ("pod" in self._seen and self._objects["pod"] is None):
            assert time.monotonic() < deadline, "the pod was never deleted"
            time.sleep(0.01)
        return looked(self, after, timeout)

    monkeypatch.setattr(kw.Follower, "next", late)
    fake.cluster.scenario = Scenario(disruption="node-lost", failure_target_lag=30)
    outcome = run(fake, workspace(["sleep", "20"]))
    assert outcome.error is not None and outcome.error.code == "NODE_LOST"
    assert outcome.error.details["reason"] == "PodDeleted"
