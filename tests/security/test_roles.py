"""Roles confine requests: the role matrix (reader, two submitters, admin, no key) over
every job endpoint, against a real server process with API keys.

A submitter sees, reads, streams and cancels only its own jobs; another key's job is
"not found" (404), exactly like an unknown id. Every refused action is followed by a
look (as admin) that nothing changed: the other job still runs, nothing was created.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.security.live_server import Key, Server, start

GATED = '''
import time

from autoscorer.scorers.base import ScoreOutput, Scorer
from autoscorer.scorers.registry import register_scorer


@register_scorer
class Gated(Scorer):
    """Runs until output/release exists (at most 60 s), then scores 1.0."""

    name = "gated"
    version = "1.0.0"
    task_type = "custom"
    primary_metric = "done"

    def evaluate(self, ctx):
        gate = ctx.workspace.root / "output" / "release"
        deadline = time.monotonic() + 60
        while not gate.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        return ScoreOutput(metrics={"done": 1.0})
'''
GT = "id,label\n1,a\n2,b\n"
KEYS = [
    Key("reader", "reader"),
    Key("alice", "submitter"),
    Key("bob", "submitter"),
    Key("admin", "admin"),
]
ROLES = ["reader", "alice", "bob", "admin", None]
API = "/api/v1/jobs"


def write_ws(root: Path, name: str, *, released: bool = False, **meta: Any) -> str:
    ws = root / "ws" / name
    for sub in ("input", "output", "logs"):
        (ws / sub).mkdir(parents=True, exist_ok=True)
    (ws / "input" / "gt.csv").write_text(GT)
    (ws / "output" / "pred.csv").write_text(GT)
    meta = {"task_type": "custom", "scorer": "gated", "time_limit": 100, **meta}
    (ws / "meta.json").write_text(json.dumps(meta))
    if released:
        (ws / "output" / "release").write_text("go")
    return str(ws)


def release(path: str) -> None:
    (Path(path) / "output" / "release").write_text("go")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("roles")
    (root / "ws").mkdir()
    (root / "scorers").mkdir()
    (root / "scorers" / "gated.py").write_text(GATED)
    srv = start(
        root,
        KEYS,
        AUTOSCORER_WORKSPACE_ROOTS=str(root / "ws"),
        AUTOSCORER_SCORER_ROOTS=str(root / "scorers"),
        AUTOSCORER_QUEUE_CONCURRENCY="16",
        AUTOSCORER_SYNC_WAIT_SECONDS="30",
    )
    try:
        with srv.client("admin") as admin:
            body = {"file_path": str(root / "scorers" / "gated.py")}
            assert admin.post("/api/v1/scorers/load", json=body).status_code == 200
        yield srv
    finally:
        for ws in (root / "ws").iterdir():  # let every gated job end before stopping
            release(str(ws))
        srv.stop()


@pytest.fixture(scope="module")
def clients(server: Server) -> Iterator[dict[str | None, httpx.Client]]:
    made = {role: server.client(role) for role in ROLES}
    yield made
    for c in made.values():
        c.close()


def submit(c: httpx.Client, ws: str, **extra: Any) -> httpx.Response:
    return c.post(API, json={"workspace_path": ws, "async": True, **extra})


def submitted(c: httpx.Client, ws: str, **extra: Any) -> str:
    resp = submit(c, ws, **extra)
    assert resp.status_code == 202, resp.text
    return str(resp.json()["data"]["job_id"])


def status(admin: httpx.Client, job_id: str) -> str:
    resp = admin.get(f"{API}/{job_id}/status")
    assert resp.status_code == 200, resp.text
    return str(resp.json()["data"]["status"])


def wait_for(admin: httpx.Client, job_id: str, wanted: str) -> None:
    deadline = time.monotonic() + 30
    while status(admin, job_id) != wanted:
        assert time.monotonic() < deadline, f"{job_id} never became {wanted}"
        time.sleep(0.05)


def not_found(resp: httpx.Response, job_id: str) -> None:
    """The same answer an unknown id gets: 404 RESOURCE_NOT_FOUND on field job_id."""
    assert resp.status_code == 404, resp.text
    error = resp.json()["errors"][0]
    assert error["code"] == "RESOURCE_NOT_FOUND" and error["field"] == "job_id", error
    assert error["message"] == f"job {job_id} not found"


def code_of(resp: httpx.Response) -> str:
    return str(resp.json()["errors"][0]["code"])


def ids_listed(c: httpx.Client, **params: Any) -> set[str]:
    resp = c.get(API, params={"limit": 1000, **params})
    assert resp.status_code == 200, resp.text
    return {j["job_id"] for j in resp.json()["data"]["jobs"]}


@pytest.fixture()
def running(server: Server, clients: dict[str | None, httpx.Client]) -> Iterator[dict[str, str]]:
    """One running (gated) job of alice and one of bob."""
    tag = uuid.uuid4().hex[:6]
    ws_a = write_ws(server.root, f"a-{tag}")
    ws_b = write_ws(server.root, f"b-{tag}")
    jobs = {"alice": submitted(clients["alice"], ws_a), "bob": submitted(clients["bob"], ws_b)}
    for job_id in jobs.values():
        wait_for(clients["admin"], job_id, "running")
    yield jobs
    release(ws_a)
    release(ws_b)


def test_reads_of_another_submitters_job_answer_404(
    clients: dict[str | None, httpx.Client], running: dict[str, str]
) -> None:
    mine, theirs = running["bob"], running["alice"]
    bob = clients["bob"]
    unknown = bob.get(f"{API}/job-never-made/status")
    not_found(unknown, "job-never-made")
    for path in ("status", "result", "logs", "logs?follow=true", "logs?tail=5"):
        not_found(bob.get(f"{API}/{theirs}/{path}"), theirs)
    with bob.stream("GET", f"{API}/{theirs}/logs", params={"follow": "true"}) as resp:
        resp.read()
        not_found(resp, theirs)
    # its own job: status and logs 200, the result 409 while it runs
    assert bob.get(f"{API}/{mine}/status").json()["data"]["owner"] == "bob"
    assert bob.get(f"{API}/{mine}/logs").status_code == 200
    assert code_of(bob.get(f"{API}/{mine}/result")) == "CONFLICT"
    assert status(clients["admin"], theirs) == "running"


@pytest.mark.parametrize("role", ["reader", "admin", "alice"])
def test_readers_admins_and_the_owner_read_the_job(
    role: str, clients: dict[str | None, httpx.Client], running: dict[str, str]
) -> None:
    c, job_id = clients[role], running["alice"]
    data = c.get(f"{API}/{job_id}/status").json()["data"]
    assert data["job_id"] == job_id and data["owner"] == "alice"
    logs = c.get(f"{API}/{job_id}/logs")
    assert logs.status_code == 200 and logs.json()["data"]["total_lines"] >= 1
    assert code_of(c.get(f"{API}/{job_id}/result")) == "CONFLICT"  # running: no result yet
    ids = [job_id] if role == "alice" else [job_id, running["bob"]]
    batch = c.post(f"{API}/batch/status", json={"job_ids": ids})
    assert batch.status_code == 200 and batch.json()["data"]["summary"]["running"] == len(ids)


def test_no_key_reads_and_cancels_nothing_and_owners_are_recorded(
    clients: dict[str | None, httpx.Client], running: dict[str, str]
) -> None:
    anon, job_id = clients[None], running["alice"]
    calls = [
        anon.get(API),
        anon.get(f"{API}/{job_id}/status"),
        anon.get(f"{API}/{job_id}/result"),
        anon.get(f"{API}/{job_id}/logs", params={"follow": "true"}),
        anon.post(f"{API}/batch/status", json={"job_ids": [job_id]}),
        anon.request("DELETE", f"{API}/batch", json={"job_ids": [job_id]}),
        anon.delete(f"{API}/{job_id}"),
        anon.post(API, json={"workspace_path": "x", "async": True}),
        anon.post(f"{API}/batch", json={"jobs": [{"workspace_path": "x"}]}),
    ]
    assert [r.status_code for r in calls] == [401] * len(calls)
    assert status(clients["admin"], job_id) == "running"
    owners = clients["reader"].post(f"{API}/batch/status", json={"job_ids": list(running.values())})
    assert [j["owner"] for j in owners.json()["data"]["jobs"]] == ["alice", "bob"]


def test_lists_show_a_submitter_only_its_own_jobs(
    clients: dict[str | None, httpx.Client], running: dict[str, str]
) -> None:
    a, b = running["alice"], running["bob"]
    assert b in ids_listed(clients["bob"]) and a not in ids_listed(clients["bob"])
    assert a in ids_listed(clients["alice"]) and b not in ids_listed(clients["alice"])
    running_only = ids_listed(clients["bob"], status="running", sort="job_id", order="asc")
    assert b in running_only and a not in running_only
    for role in ("reader", "admin"):
        assert {a, b} <= ids_listed(clients[role])
    # the total counts only what the caller may see
    bob_page = clients["bob"].get(API, params={"limit": 1}).json()["data"]["pagination"]
    all_page = clients["admin"].get(API, params={"limit": 1}).json()["data"]["pagination"]
    assert bob_page["total"] < all_page["total"]
    assert bob_page["total"] == len(ids_listed(clients["bob"]))


def test_batch_status_refuses_any_job_of_another_key(
    clients: dict[str | None, httpx.Client], running: dict[str, str]
) -> None:
    bob, a, b = clients["bob"], running["alice"], running["bob"]
    ok = bob.post(f"{API}/batch/status", json={"job_ids": [b]})
    assert ok.status_code == 200 and [j["job_id"] for j in ok.json()["data"]["jobs"]] == [b]
    not_found(bob.post(f"{API}/batch/status", json={"job_ids": [a]}), a)
    not_found(bob.post(f"{API}/batch/status", json={"job_ids": [b, a]}), a)


def test_cancels_of_another_keys_job_change_nothing(
    clients: dict[str | None, httpx.Client], running: dict[str, str]
) -> None:
    admin, bob, a, b = clients["admin"], clients["bob"], running["alice"], running["bob"]
    not_found(bob.delete(f"{API}/{a}"), a)
    # a batch holding one job of another key cancels none of them, its own included
    not_found(bob.request("DELETE", f"{API}/batch", json={"job_ids": [b, a]}), a)
    assert code_of(clients["reader"].delete(f"{API}/{a}")) == "FORBIDDEN"
    body = {"job_ids": [a, b]}
    assert code_of(clients["reader"].request("DELETE", f"{API}/batch", json=body)) == "FORBIDDEN"
    time.sleep(0.3)
    assert status(admin, a) == "running" and status(admin, b) == "running"
    logs = admin.get(f"{API}/{a}/logs").json()["data"]["logs"]
    assert not any("cancel" in entry["message"].lower() for entry in logs)
    # the owner and an admin may cancel
    mine = bob.request("DELETE", f"{API}/batch", json={"job_ids": [b]})
    assert mine.status_code == 200 and mine.json()["data"]["total_cancelled"] == 1
    assert admin.delete(f"{API}/{a}").json()["data"]["status"] == "cancelled"


def test_the_owner_cancels_its_own_job_and_not_more(
    clients: dict[str | None, httpx.Client], running: dict[str, str]
) -> None:
    a, b = running["alice"], running["bob"]
    resp = clients["alice"].delete(f"{API}/{a}")
    assert resp.status_code == 200 and resp.json()["data"]["status"] == "cancelled"
    after = clients["admin"].get(f"{API}/{a}/status").json()["data"]
    assert (after["status"], after["owner"]) == ("cancelled", "alice")
    assert status(clients["admin"], b) == "running"


def test_result_of_a_finished_job_only_for_owner_reader_admin(
    server: Server, clients: dict[str | None, httpx.Client]
) -> None:
    ws = write_ws(server.root, f"done-{uuid.uuid4().hex[:6]}", released=True)
    resp = clients["alice"].post(API, json={"workspace_path": ws})
    assert resp.status_code == 200, resp.text
    job_id = resp.json()["data"]["job_id"]
    for role in ("alice", "reader", "admin"):
        got = clients[role].get(f"{API}/{job_id}/result", params={"include_logs": "true"})
        assert got.status_code == 200 and got.json()["data"]["status"] == "completed"
    for params in ({}, {"include_logs": "true"}):
        not_found(clients["bob"].get(f"{API}/{job_id}/result", params=params), job_id)
    assert clients[None].get(f"{API}/{job_id}/result").status_code == 401


def test_batch_submit_records_the_owner_of_every_item(
    server: Server, clients: dict[str | None, httpx.Client]
) -> None:
    tag = uuid.uuid4().hex[:6]
    items = [
        {"workspace_path": write_ws(server.root, f"bt{i}-{tag}", released=True)} for i in (1, 2)
    ]
    resp = clients["bob"].post(f"{API}/batch", json={"jobs": items})
    assert resp.status_code == 202, resp.text
    ids = [j["job_id"] for j in resp.json()["data"]["jobs"]]
    assert set(ids) <= ids_listed(clients["bob"])
    assert not set(ids) & ids_listed(clients["alice"])
    not_found(clients["alice"].post(f"{API}/batch/status", json={"job_ids": ids}), ids[0])
    for job_id in ids:
        assert clients["admin"].get(f"{API}/{job_id}/status").json()["data"]["owner"] == "bob"
    assert code_of(clients["reader"].post(f"{API}/batch", json={"jobs": items})) == "FORBIDDEN"


# -- config overrides -------------------------------------------------------------------
REFUSED_FOR_SUBMITTERS = [
    ({"expose_gt": True}, "config.expose_gt"),
    ({"network_policy": "bridge"}, "config.network_policy"),
    ({"scorer_params": {"x": 1}}, "config.scorer_params"),
    ({"env": {"A": "1"}}, "config.env"),
    ({"queue": "fast"}, "config.queue"),
    ({"keep_container": True}, "config.keep_container"),
    ({"time_limit": 101}, "config.time_limit"),
    ({"resources": {"memory": "8Gi"}}, "config.resources.memory"),
    ({"resources": {"cpu": 4}}, "config.resources.cpu"),
    ({"resources": {"pids": 100_000}}, "config.resources.pids"),
    ({"resources": {"gpus": 1}}, "config.resources.gpus"),
    ({"resources": {"disk": "1Gi"}}, "config.resources.disk"),  # meta sets no disk
]


@pytest.mark.parametrize(("config", "field"), REFUSED_FOR_SUBMITTERS)
def test_a_submitter_config_may_not_raise_limits_or_override_anything_else(
    config: dict[str, Any], field: str, server: Server, clients: dict[str | None, httpx.Client]
) -> None:
    ws = write_ws(server.root, f"cfg-{uuid.uuid4().hex[:6]}", released=True)
    before = ids_listed(clients["admin"])
    resp = submit(clients["alice"], ws, config=config)
    assert resp.status_code == 403, resp.text
    error = resp.json()["errors"][0]
    assert error["code"] == "FORBIDDEN" and error["field"] == field, error
    batch = clients["alice"].post(
        f"{API}/batch",
        json={"jobs": [{"workspace_path": ws}, {"workspace_path": ws, "config": config}]},
    )
    assert batch.status_code == 403 and batch.json()["errors"][0]["field"] == field
    assert ids_listed(clients["admin"]) == before  # nothing was stored


def test_stricter_limits_for_a_submitter_anything_for_an_admin(
    server: Server, clients: dict[str | None, httpx.Client]
) -> None:
    ws = write_ws(server.root, f"strict-{uuid.uuid4().hex[:6]}", released=True)
    stricter = {"time_limit": 50, "resources": {"cpu": 0.5, "memory": "1Gi", "pids": 64}}
    job_id = submitted(clients["alice"], ws, config=stricter)
    same = {"time_limit": 100, "resources": {"memory": "2Gi", "gpus": 0}}
    submitted(clients["alice"], ws, config=same)
    data = clients["admin"].get(f"{API}/{job_id}/status").json()["data"]
    assert data["owner"] == "alice"
    config = {"expose_gt": True, "time_limit": 500, "resources": {"memory": "8Gi"}}
    admins = submitted(clients["admin"], ws, config=config)
    assert clients["admin"].get(f"{API}/{admins}/status").json()["data"]["owner"] == "admin"


@pytest.mark.parametrize("role", ["alice", "admin"])
@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({"expose_ground_truth": True}, "config.expose_ground_truth"),
        ({"resources": {"gpu": 1}}, "config.resources.gpu"),
    ],
)
def test_unknown_config_keys_are_refused_for_everyone(
    role: str,
    config: dict[str, Any],
    field: str,
    server: Server,
    clients: dict[str | None, httpx.Client],
) -> None:
    ws = write_ws(server.root, f"unk-{uuid.uuid4().hex[:6]}", released=True)
    before = ids_listed(clients["admin"])
    resp = submit(clients[role], ws, config=config)
    assert resp.status_code == 400, resp.text
    error = resp.json()["errors"][0]
    assert error["code"] == "INVALID_PARAMETER" and error["field"] == field, error
    assert ids_listed(clients["admin"]) == before


def test_without_keys_every_caller_still_does_everything(tmp_path: Path) -> None:
    (tmp_path / "ws").mkdir()
    ws = tmp_path / "ws" / "open"
    for sub in ("input", "output", "logs"):
        (ws / sub).mkdir(parents=True)
    (ws / "input" / "gt.csv").write_text(GT)
    (ws / "output" / "pred.csv").write_text(GT)
    meta = {"task_type": "classification", "scorer": "classification_f1"}
    (ws / "meta.json").write_text(json.dumps(meta))
    srv = start(tmp_path, [], AUTOSCORER_WORKSPACE_ROOTS=str(tmp_path / "ws"))
    try:
        with srv.client(None) as anon:
            config = {"expose_gt": True, "time_limit": 99_999}
            job = anon.post(API, json={"workspace_path": str(ws), "config": config})
            assert job.status_code == 200, job.text
            job_id = job.json()["data"]["job_id"]
            assert job_id in {j["job_id"] for j in anon.get(API).json()["data"]["jobs"]}
            assert anon.get(f"{API}/{job_id}/result").status_code == 200
            bad = anon.post(API, json={"workspace_path": str(ws), "config": {"nope": 1}})
            assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "config.nope"
    finally:
        srv.stop()
