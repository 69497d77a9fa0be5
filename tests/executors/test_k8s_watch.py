"""The Kubernetes executor follows its Job and pod with the watch API, against the fake.

The fake's store gives every change a cluster-wide resourceVersion and streams it to
watches as it happens; it can compact its history (410 Gone) and cut connections.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from exec_helpers import SOLVE, python
from k8s_fake import FakeApiServer, role_rules
from k8s_fake_pod import Scenario

from autoscorer.executors import get_executor
from autoscorer.executors import k8s_watch as kw
from autoscorer.executors.k8s_sandbox import KubernetesSandbox
from autoscorer.executors.kubernetes import KubernetesExecutor
from autoscorer.executors.outcome import RunOutcome
from autoscorer.executors.spec import build_spec
from autoscorer.workspace.layout import Workspace

WsFactory = Callable[..., Path]
# reads of the polling path: none of them may happen while the watch works
POLLING = {("get", "jobs"), ("list", "pods"), ("list", "jobs")}


@pytest.fixture
def fake(tmp_path: Path) -> Iterator[FakeApiServer]:
    with FakeApiServer(tmp_path) as server:
        yield server


def run(
    fake: FakeApiServer, root: Path, logs: list[str] | None = None, **config: Any
) -> RunOutcome:
    options = {"poll_interval": 5.0, "termination_grace_seconds": 1, **config}
    ex = get_executor("kubernetes", host=fake.url, workspace_root=str(root.parent), **options)
    assert isinstance(ex, KubernetesExecutor)
    with ex:
        ws = Workspace.at(root)
        on_log = (lambda lvl, comp, msg: logs.append(f"{lvl} {msg}")) if logs is not None else None
        return ex.run(build_spec(ws, ws.load_meta()), on_log=on_log)


def count(fake: FakeApiServer, verb: str, resource: str) -> int:
    return fake.cluster.calls.count((verb, resource))


def when_running(fake: FakeApiServer, action: Callable[[], Any], after: float = 0.2) -> None:
    """Run ``action`` in a thread once the pod's container has run for ``after`` seconds."""

    def go() -> None:
        while not any(j.pod and j.pod.started for j in fake.cluster.jobs.values()):
            time.sleep(0.01)
        time.sleep(after)
        action()

    threading.Thread(target=go, daemon=True).start()


def test_the_pod_transitions_arrive_by_watch_without_polling(
    fake: FakeApiServer, workspace: WsFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[str] = []
    update = kw.Follower._update

    def record(self: kw.Follower, name: str, obj: Any) -> None:
        if name == "pod" and obj is not None:
            cs = (obj.status.container_statuses or [None])[0]
            state = cs.state.to_dict() if cs is not None else {}
            seen.append(next((k for k, v in state.items() if v), obj.status.phase))
        update(self, name, obj)

    monkeypatch.setattr(kw.Follower, "_update", record)
    fake.cluster.scenario = Scenario(waiting=[("ContainerCreating", "", 0.3)])
    outcome = run(fake, workspace(python("import time; time.sleep(0.3)\n" + SOLVE)))
    assert outcome.error is None, outcome.error
    assert seen[0] == "Pending" and seen[-1] == "terminated"
    distinct = [s for i, s in enumerate(seen) if s != "Pending" and s not in seen[:i]]
    assert distinct == ["waiting", "running", "terminated"]
    assert count(fake, "watch", "jobs") == 1 and count(fake, "watch", "pods") == 1
    assert not POLLING & set(fake.cluster.calls), fake.cluster.calls
    time.sleep(0.1)
    assert [t.name for t in threading.enumerate() if t.name.startswith("watch-")] == []


def test_a_410_mid_run_lists_again_and_watches_on(
    fake: FakeApiServer, workspace: WsFactory
) -> None:
    """The history is compacted while the pod runs: both watches get ERROR 410 (Expired),
    list their object, and watch from the list's version; the exit is still seen."""
    when_running(fake, fake.cluster.store.compact)
    outcome = run(fake, workspace(python("import time; time.sleep(0.8)\n" + SOLVE)))
    assert outcome.error is None, outcome.error
    assert outcome.exit_code == 0 and outcome.prediction == "output/pred.csv"
    assert count(fake, "list", "jobs") == 1 and count(fake, "list", "pods") == 1
    assert count(fake, "watch", "jobs") == 2 and count(fake, "watch", "pods") == 2
    assert count(fake, "get", "jobs") == 0


def test_a_dropped_watch_resumes_from_its_last_version(
    fake: FakeApiServer, workspace: WsFactory
) -> None:
    """The connections are cut mid-stream; the re-watch starts where the last one ended, so
    the container's exit (after the cut) arrives with no list and no poll."""
    dropped: list[int] = []
    when_running(fake, lambda: dropped.append(fake.cluster.store.drop_watches()))
    t0 = time.monotonic()
    outcome = run(fake, workspace(python("import time; time.sleep(0.8)\n" + SOLVE)))
    assert outcome.error is None, outcome.error
    assert dropped == [2]
    assert count(fake, "watch", "jobs") == 2 and count(fake, "watch", "pods") == 2
    assert not POLLING & set(fake.cluster.calls)
    assert time.monotonic() - t0 < 4


def test_the_watch_is_resumed_after_its_timeout_seconds(
    fake: FakeApiServer, workspace: WsFactory
) -> None:
    fake.cluster.bookmark_every = 0.3
    outcome = run(
        fake, workspace(python("import time; time.sleep(2.5)\n" + SOLVE)), watch_timeout=1
    )
    assert outcome.error is None, outcome.error
    assert count(fake, "watch", "pods") >= 3 and count(fake, "watch", "jobs") >= 3
    assert not POLLING & set(fake.cluster.calls)


@pytest.mark.parametrize("broken", ["role-without-watch", "watch-ends-at-once"])
def test_a_watch_that_cannot_work_falls_back_to_polling(
    fake: FakeApiServer, workspace: WsFactory, broken: str
) -> None:
    """A Role without ``watch`` (403 at once), or a server (a proxy) that ends every watch
    at once, three times: the executor polls instead and says so in the job's log."""
    if broken == "role-without-watch":
        fake.cluster.rules = [
            {**r, "verbs": [v for v in r["verbs"] if v != "watch"]} for r in role_rules()
        ]
    else:
        fake.cluster.watch_cap = 0.0
    logs: list[str] = []
    outcome = run(fake, workspace(python("import time; time.sleep(0.5)\n" + SOLVE)), logs,
                  poll_interval=0.05)  # fmt: skip
    assert outcome.error is None, outcome.error
    denied = {(g, r) for g, r, verb in fake.cluster.denied if verb == "watch"}
    assert bool(denied) == (broken == "role-without-watch")
    assert any("WARNING watching the" in m and "polling every 0.05 s" in m for m in logs), logs
    assert count(fake, "get", "jobs") >= 3 and count(fake, "list", "pods") >= 3
    assert count(fake, "watch", "pods") + count(fake, "watch", "jobs") <= 6


def test_a_finished_container_is_noticed_within_200_ms(
    fake: FakeApiServer, workspace: WsFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """From the container's last instruction to the executor's verdict (polling every 5 s
    would take up to 5 s)."""
    noticed: list[float] = []
    wait = KubernetesSandbox.wait

    def timed(self: KubernetesSandbox, timeout: float) -> int | None:
        code = wait(self, timeout)
        if code is not None and not noticed:
            noticed.append(time.time())
        return code

    monkeypatch.setattr(KubernetesSandbox, "wait", timed)
    root = workspace(python(SOLVE + "\nimport time; time.sleep(0.5); print('end', time.time())"))
    outcome = run(fake, root)
    assert outcome.error is None, outcome.error
    (line,) = [x for x in (root / "logs" / "container.log").read_text().split("\n") if "end" in x]
    latency = noticed[0] - float(line.split()[1])
    print(f"exit noticed {latency * 1000:.0f} ms after the container's last instruction")
    assert 0 < latency < 0.2


def test_the_fake_answers_a_compacted_version_with_410_and_honours_timeout_seconds(
    fake: FakeApiServer,
) -> None:
    base = f"{fake.url}/apis/batch/v1/namespaces/autoscorer/jobs?watch=true"
    fake.cluster.store.compact()
    with urllib.request.urlopen(f"{base}&resourceVersion=1", timeout=5) as resp:
        (event,) = [json.loads(line) for line in resp.read().splitlines()]
    assert event["type"] == "ERROR" and event["object"]["code"] == 410
    assert event["object"]["reason"] == "Expired"
    t0 = time.monotonic()
    current = fake.cluster.store.rv
    query = f"&resourceVersion={current}&timeoutSeconds=1&allowWatchBookmarks=true"
    with urllib.request.urlopen(base + query, timeout=5) as resp:
        events = [json.loads(line) for line in resp.read().splitlines()]
    assert 0.9 < time.monotonic() - t0 < 2
    assert {e["type"] for e in events} == {"BOOKMARK"}
    assert events[0]["object"]["metadata"]["resourceVersion"] == str(current)
