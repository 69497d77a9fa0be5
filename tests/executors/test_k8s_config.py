"""Settings reach the Kubernetes executor; the RBAC manifest is the code's; the fake is strict."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from exec_helpers import SOLVE, python
from k8s_fake import RBAC, FakeApiServer
from k8s_fake_pod import INF, Scenario

from autoscorer.executors.factory import KubernetesOptions, executor_options, make_executor
from autoscorer.executors.k8s_rbac import rbac_yaml
from autoscorer.executors.kubernetes import KubernetesExecutor
from autoscorer.pipeline.run import PipelineRequest, run_pipeline
from autoscorer.settings import Settings

WsFactory = Callable[..., Path]


@pytest.fixture
def fake(tmp_path: Path) -> Iterator[FakeApiServer]:
    with FakeApiServer(tmp_path) as server:
        yield server


def k8s_settings(fake: FakeApiServer, root: Path, **more: Any) -> Settings:
    return Settings(
        executor="kubernetes",
        workspace_roots=[str(root)],
        k8s_api_url=fake.url,
        k8s_poll_interval=0.02,
        k8s_termination_grace_seconds=1,
        **more,
    )


def test_rbac_yaml_is_generated_from_the_code() -> None:
    assert RBAC.read_text() == rbac_yaml()
    out = subprocess.run(
        [sys.executable, "-m", "autoscorer.cli.main", "k8s", "rbac"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout == RBAC.read_text()
    assert "networkpolicies" in out.stdout


def test_every_k8s_setting_is_read() -> None:
    """Changing any k8s_* setting changes the executor's options (k8s_enabled: the probe)."""
    base = Settings(workspace_roots=["/ws"])
    before = executor_options("kubernetes", base)
    changed = {
        "k8s_namespace": "other", "k8s_pvc": "claim", "k8s_workspace_root": "/pvc",
        "k8s_api_url": "http://127.0.0.1:1", "k8s_kubeconfig": "/kc", "k8s_in_cluster": True,
        "k8s_network_policy": False, "k8s_startup_timeout": 9.0,
        "k8s_termination_grace_seconds": 2, "k8s_run_as_user": 1000, "k8s_run_as_group": 1000,
        "k8s_fs_group": 2000, "k8s_service_account": "runner",
        "k8s_image_pull_secrets": ["reg"], "k8s_node_selector": {"gpu": "a100"},
        "k8s_poll_interval": 0.5, "k8s_watch": False, "k8s_watch_timeout": 60,
    }  # fmt: skip
    fields = {f for f in Settings.model_fields if f.startswith("k8s_")}
    assert fields - set(changed) == {"k8s_enabled"}  # read by the health probe (below)
    for field, value in changed.items():
        after = executor_options("kubernetes", base.model_copy(update={field: value}))
        assert after != before, field
    assert before["workspace_root"] == "/ws" and before["pvc"] == "autoscorer-workspaces"


def test_settings_from_the_environment_build_the_executor(
    fake: FakeApiServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUTOSCORER_K8S_API_URL", fake.url)
    monkeypatch.setenv("AUTOSCORER_WORKSPACE_ROOTS", json.dumps([str(tmp_path)]))
    monkeypatch.setenv("AUTOSCORER_K8S_NAMESPACE", "autoscorer")
    monkeypatch.setenv("AUTOSCORER_K8S_PVC", "autoscorer-workspaces")
    monkeypatch.setenv("AUTOSCORER_K8S_IMAGE_PULL_SECRETS", "a,b")
    monkeypatch.setenv("AUTOSCORER_K8S_NODE_SELECTOR", '{"pool": "eval"}')
    with make_executor("k8s") as ex:
        assert isinstance(ex, KubernetesExecutor)
        assert ex.workspace_root == tmp_path.resolve()
        assert ex.settings.image_pull_secrets == ["a", "b"]
        assert ex.settings.node_selector == {"pool": "eval"}
        assert ex.health()["status"] == "healthy"


def test_the_pipeline_builds_kubernetes_from_settings(
    fake: FakeApiServer, tmp_path: Path, workspace: WsFactory
) -> None:
    """On main the pipeline built the executor by name only: TypeError (no workspace_root)."""
    root = workspace(python(SOLVE))
    request = PipelineRequest(workspace=str(root), executor="kubernetes")
    result = run_pipeline(request, settings=k8s_settings(fake, tmp_path))
    assert result.error is None, result.error
    assert result.summary.score == 1.0 and len(fake.cluster.jobs) == 1


def test_health_probe_uses_the_settings(fake: FakeApiServer, tmp_path: Path) -> None:
    from autoscorer.api.runtime import Runtime

    runtime = Runtime()
    health = asyncio.run(runtime.executor_health(k8s_settings(fake, tmp_path)))
    assert health["k8s"] == {
        "status": "healthy",
        "server_version": "v1.31.0-fake",
        "namespace": "autoscorer",
    }
    asyncio.run(runtime.stop())
    probe = Runtime()
    enabled = Settings(k8s_enabled=True, k8s_api_url=fake.url, workspace_roots=[str(tmp_path)])
    assert asyncio.run(probe.executor_health(enabled))["k8s"]["status"] == "healthy"
    asyncio.run(probe.stop())


def test_in_cluster_configuration_is_used_inside_a_pod(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kubernetes.client import Configuration
    from kubernetes.config import incluster_config

    token, cert = tmp_path / "token", tmp_path / "ca.crt"
    token.write_text("sa-token")
    cert.write_text("not checked before a request")
    monkeypatch.setattr(incluster_config, "SERVICE_TOKEN_FILENAME", str(token))
    monkeypatch.setattr(incluster_config, "SERVICE_CERT_FILENAME", str(cert))
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "6443")
    monkeypatch.setattr(Configuration, "_default", None)
    with make_executor("kubernetes", Settings(workspace_roots=[str(tmp_path)])) as ex:
        assert isinstance(ex, KubernetesExecutor)
        cfg = ex.api.configuration
        assert cfg.host == "https://127.0.0.1:6443"
        assert cfg.api_key["BearerToken"].endswith("sa-token")


def test_no_configuration_at_all_is_executor_unavailable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from autoscorer.errors import ExecutorUnavailable

    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "absent"))
    with pytest.raises(ExecutorUnavailable, match="k8s_api_url"):
        make_executor("kubernetes", Settings(workspace_roots=[str(tmp_path)]))


def test_options_record_is_typed() -> None:
    opts = KubernetesOptions.from_settings(Settings(workspace_roots=["/a", "/b"]))
    assert opts.workspace_root == "/a" and opts.in_cluster is None
    with pytest.raises(Exception, match="k8s_workspace_root"):
        KubernetesOptions.from_settings(Settings(workspace_roots=[]))


# -- the fake itself behaves like an API server where it matters --


def _post(fake: FakeApiServer, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    req = urllib.request.Request(
        fake.url + path, json.dumps(body).encode(), {"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_the_fake_rejects_what_a_cluster_rejects(fake: FakeApiServer) -> None:
    c = {"name": "x", "image": "i", "imagePulPolicy": "Never"}  # a typo: unknown field
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "j", "labels": {"id": "_bad_"}},
        "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [c]}}},
    }
    code, body = _post(fake, "/apis/batch/v1/namespaces/autoscorer/jobs", job)
    assert (code, body["reason"]) == (422, "Invalid") and "imagePulPolicy" in body["message"]
    c.pop("imagePulPolicy")
    code, body = _post(fake, "/apis/batch/v1/namespaces/autoscorer/jobs", job)
    assert code == 422 and "_bad_" in body["message"]
    code, body = _post(fake, "/apis/batch/v1/namespaces/other/jobs", job)
    assert (code, body["reason"]) == (403, "Forbidden")
    code, _ = _post(fake, "/api/v1/namespaces/autoscorer/pods", {})
    assert code == 403  # the Role has no pods create


def test_the_fake_log_endpoint_is_400_before_the_container_starts(
    fake: FakeApiServer, tmp_path: Path, workspace: WsFactory
) -> None:
    from autoscorer.executors.spec import build_spec
    from autoscorer.workspace.layout import Workspace

    fake.cluster.scenario = Scenario(waiting=[("ContainerCreating", "", INF)])
    root = workspace(["true"])
    with make_executor("kubernetes", k8s_settings(fake, tmp_path)) as ex:
        ws = Workspace.at(root)
        spec = build_spec(ws, ws.load_meta())
        assert isinstance(ex, KubernetesExecutor)
        body = ex.manifest(spec, "abc123")
        code, _ = _post(fake, "/apis/batch/v1/namespaces/autoscorer/jobs", body)
        assert code == 201
        while not fake.cluster.pods():
            time.sleep(0.02)
        (pod,) = fake.cluster.pods()
        url = f"{fake.url}/api/v1/namespaces/autoscorer/pods/{pod.name}/log?container=submission"
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(url, timeout=5)
        assert info.value.code == 400
        assert "is waiting to start: ContainerCreating" in json.loads(info.value.read())["message"]


# -- deploy/k8s and the cluster checklist agree with the code --

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "k8s"


def _docs(name: str) -> list[dict[str, Any]]:
    import yaml

    return [d for d in yaml.safe_load_all((DEPLOY / name).read_text()) if d]


def test_the_checklist_can_i_lines_cover_the_rbac_table() -> None:
    import re

    from autoscorer.executors.k8s_rbac import RULES

    text = (DEPLOY.parents[1] / "docs" / "deployment.md").read_text()
    found = set(
        re.findall(r"kubectl auth can-i --as=\$SA (\w+) (\S+)(?: --subresource=(\w+))?", text)
    )
    wanted = set()
    for rule in RULES:
        resource, _, sub = rule.resource.partition("/")
        name = f"{resource}.{rule.api_group}" if rule.api_group else resource
        wanted |= {(verb, name, sub) for verb in rule.verbs}
    assert found == wanted


def test_the_worker_deployment_fits_the_executor_settings() -> None:
    (cm,) = [d for d in _docs("config.yaml") if d["kind"] == "ConfigMap"]
    (pvc,) = [d for d in _docs("config.yaml") if d["kind"] == "PersistentVolumeClaim"]
    (worker,) = _docs("worker.yaml")
    env = cm["data"]
    settings = Settings(**{k.removeprefix("AUTOSCORER_").lower(): v for k, v in env.items()})
    pod = worker["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "autoscorer-worker"
    assert settings.k8s_fs_group in pod["securityContext"]["supplementalGroups"]
    assert pod["securityContext"]["runAsUser"] != 0 and pod["securityContext"]["runAsGroup"] != 0
    (claim,) = [v for v in pod["volumes"] if "persistentVolumeClaim" in v]
    assert (
        claim["persistentVolumeClaim"]["claimName"] == settings.k8s_pvc == pvc["metadata"]["name"]
    )
    mounts = {m["name"]: m["mountPath"] for m in pod["containers"][0]["volumeMounts"]}
    assert mounts[claim["name"]] == settings.k8s_workspace_root
    assert settings.k8s_workspace_root in settings.workspace_roots
    assert pvc["spec"]["accessModes"] == ["ReadWriteMany"]
    opts = KubernetesOptions.from_settings(settings)
    assert (opts.namespace, opts.in_cluster, opts.host) == ("autoscorer", None, None)


def test_the_cli_builds_kubernetes_from_the_environment(tmp_path: Path) -> None:
    """``autoscorer run -e kubernetes --dry-run`` prints the Job the settings describe."""
    import os

    from exec_helpers import write_workspace

    root = write_workspace(tmp_path / "ws", ["true"], scorer="classification_accuracy")
    env = {
        **os.environ,
        "AUTOSCORER_WORKSPACE_ROOTS": json.dumps([str(tmp_path)]),
        "AUTOSCORER_K8S_API_URL": "http://127.0.0.1:1",  # --dry-run sends nothing
        "AUTOSCORER_K8S_NAMESPACE": "evalns",
        "AUTOSCORER_K8S_PVC": "claim-x",
        "AUTOSCORER_K8S_FS_GROUP": "4242",
    }
    out = subprocess.run(
        [sys.executable, "-m", "autoscorer.cli.main", "run", str(root), "-e", "kubernetes",
         "--dry-run"],
        capture_output=True, text=True, env=env, check=True,
    )  # fmt: skip
    job = json.loads(out.stdout)["job"]
    assert job["metadata"]["namespace"] == "evalns"
    pod = job["spec"]["template"]["spec"]
    assert pod["volumes"][0]["persistentVolumeClaim"]["claimName"] == "claim-x"
    assert pod["securityContext"]["fsGroup"] == 4242


def test_the_k8s_settings_are_in_the_config_sections() -> None:
    from autoscorer.settings import apply_update, config_view

    change = {"k8s": {"node_selector": {"pool": "gpu"}, "startup_timeout": 60}}
    new, changes, restart = apply_update(Settings(), "executor", change)
    assert changes["k8s.node_selector"] == {"old": {}, "new": {"pool": "gpu"}} and restart
    shown = config_view(new, "executor")["executor"]["k8s"]
    assert shown["startup_timeout"] == 60 and shown["fs_group"] == 65534
