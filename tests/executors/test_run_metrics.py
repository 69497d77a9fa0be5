"""Every executor's sandboxes reach the process metrics: executors only publish events
(executors/events.py) and the metrics subscribe when the app is built (observability/feeds.py).
Docker and local runs are read through a real app's ``GET /metrics``; Kubernetes runs on the
fake API server are read from the registry that endpoint renders."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path

from exec_helpers import SOLVE, python
from k8s_fake import FakeApiServer
from prometheus_client.parser import text_string_to_metric_families

from autoscorer.api.main import create_app
from autoscorer.executors import get_executor
from autoscorer.executors.base import Executor
from autoscorer.executors.outcome import RunOutcome
from autoscorer.executors.spec import build_spec
from autoscorer.observability import build_registry, install_metrics, render
from autoscorer.settings import Settings
from autoscorer.workspace.layout import Workspace

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]
STARTS = "autoscorer_container_start_seconds_count"
RUNS = "autoscorer_sandbox_runs_total"


def parse(text: str) -> Samples:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def delta(before: Samples, after: Samples, name: str, **labels: str) -> float:
    key = (name, frozenset(labels.items()))
    return after.get(key, 0.0) - before.get(key, 0.0)


def run(executor: Executor, root: Path) -> RunOutcome:
    ws = Workspace.at(root)
    return executor.run(build_spec(ws, ws.load_meta()))


def test_docker_and_local_runs_are_counted_on_get_metrics(
    kind: str, executor: Executor, workspace: Callable[..., Path], tmp_path: Path
) -> None:
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'jobs.db'}"))
    client = TestClient(app)  # no lifespan: no job service, the process metrics only

    def scrape() -> Samples:
        answer = client.get("/metrics")
        assert answer.status_code == 200, answer.text
        return parse(answer.text)

    before = scrape()
    assert run(executor, workspace(python(SOLVE))).ok
    failed = run(executor, workspace(python("raise SystemExit(3)")))
    assert failed.error is not None and failed.error.code == "EXIT_NONZERO"
    after = scrape()
    assert delta(before, after, STARTS, executor=kind) == 2
    assert delta(before, after, RUNS, executor=kind, result="ok") == 1
    assert delta(before, after, RUNS, executor=kind, result="EXIT_NONZERO") == 1


def test_kubernetes_runs_are_counted(workspace: Callable[..., Path], tmp_path: Path) -> None:
    install_metrics()  # what create_app and `autoscorer worker` do
    before = parse(render(build_registry(None))[0].decode())
    with FakeApiServer(tmp_path, namespace="scoring", pvc_name="ws-claim") as fake:
        ex = get_executor(
            "k8s", host=fake.url, workspace_root=str(tmp_path), namespace="scoring",
            pvc="ws-claim", poll_interval=0.02, termination_grace_seconds=1,
        )  # fmt: skip
        try:
            outcome = run(ex, workspace(python(SOLVE)))
        finally:
            ex.close()
    assert outcome.ok, (outcome.error, outcome.log_tail)
    after = parse(render(build_registry(None))[0].decode())
    assert delta(before, after, STARTS, executor="kubernetes") == 1
    assert delta(before, after, RUNS, executor="kubernetes", result="ok") == 1
