"""Configuration that cannot lock anyone out or open everything, against real servers.

Every ``PUT /api/v1/config`` that must be refused is refused with 400 naming the key, and
leaves the configuration as it was (a later PUT still works). An empty
``workspace_roots`` allows nothing and ``autoscorer serve`` says so at start. Numeric
query parameters and config values out of range are a 400, never a 500.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.live import stop
from tests.security.live_server import Key, Server, free_port, start

from autoscorer.settings import hash_key

KEYS = [Key("admin", "admin"), Key("reader", "reader"), Key("sub", "submitter")]
GT = "id,label\n1,a\n2,b\n"


def write_ws(root: Path) -> Path:
    for sub in ("input", "output", "logs"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    (root / "input" / "gt.csv").write_text(GT)
    (root / "output" / "pred.csv").write_text(GT)
    meta = {"task_type": "classification", "scorer": "classification_f1"}
    (root / "meta.json").write_text(json.dumps(meta))
    return root


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("config")
    write_ws(root / "ws" / "cls")
    (root / "scorers").mkdir()
    srv = start(
        root,
        KEYS,
        AUTOSCORER_WORKSPACE_ROOTS=str(root / "ws"),
        AUTOSCORER_SCORER_ROOTS=str(root / "scorers"),
    )
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def admin(server: Server) -> Iterator[httpx.Client]:
    with server.client("admin") as c:
        yield c


def key_entry(name: str, role: str) -> dict[str, str]:
    return {"name": name, "sha256": hash_key(f"sk-{name}-secret"), "role": role}


ADMIN_ENTRY = key_entry("admin", "admin")
REFUSED: list[tuple[str, dict[str, Any], str]] = [
    ("api", {"max_body_bytes": 20}, "config.api.max_body_bytes"),
    ("limits", {"max_body_bytes": 1000}, "config.limits.max_body_bytes"),
    ("queue", {"concurrency": 10**9}, "config.queue.concurrency"),
    ("queue", {"lease_seconds": 0.001}, "config.queue.lease_seconds"),
    ("queue", {"max_attempts": 10**6}, "config.queue.max_attempts"),
    ("queue", {"reaper_interval": 10**7}, "config.queue.reaper_interval"),
    ("queue", {"broker_url": "http://127.0.0.1/"}, "config.queue.broker_url"),
    ("queue", {"broker_url": "redis://127.0.0.1:port/0"}, "config.queue.broker_url"),
    ("redis", {"url": "not a url"}, "config.redis.url"),
    ("redis", {"max_connections": 10**9}, "config.redis.max_connections"),
    ("database", {"url": "not a url"}, "config.database.url"),
    ("database", {"url": "mysql://u@127.0.0.1/db"}, "config.database.url"),
    ("webhooks", {"default_url": "javascript:alert(1)"}, "config.webhooks.default_url"),
    ("webhooks", {"allowed_hosts": ["http://a.test/x"]}, "config.webhooks.allowed_hosts"),
    ("api", {"cors_origins": ["not an origin"]}, "config.api.cors_origins"),
    ("api", {"cors_origins": ["https://ui.test/path"]}, "config.api.cors_origins"),
    ("api", {"workers": 10**6}, "config.api.workers"),
    ("api", {"host": ""}, "config.api.host"),
    ("api", {"rate_limit": 10**12}, "config.api.rate_limit"),
    ("api", {"rate_limit_storage": "http://127.0.0.1:6379"}, "config.api.rate_limit_storage"),
    ("api", {"sync_wait_seconds": 10**9}, "config.api.sync_wait_seconds"),
    ("limits", {"max_file_bytes": 10}, "config.limits.max_file_bytes"),
    ("executor", {"k8s": {"namespace": "Not_A_Namespace"}}, "config.executor.k8s.namespace"),
    ("security", {"workspace_roots": [""]}, "config.security.workspace_roots"),
    # lock-outs and opening everything
    ("security", {"api_keys": []}, "config.security.api_keys"),
    ("security", {"api_keys": [key_entry("reader", "reader")]}, "config.security.api_keys"),
    (
        "security",
        {"api_keys": [ADMIN_ENTRY, {**ADMIN_ENTRY, "role": "reader"}]},
        "config.security.api_keys",
    ),
    ("security", {"anonymous_role": "admin"}, "config.security.anonymous_role"),
    ("security", {"scorer_loading": False}, "config.security.scorer_loading"),
]


@pytest.mark.parametrize(("section", "config", "field"), REFUSED)
def test_config_puts_that_cannot_work_are_refused_and_change_nothing(
    section: str, config: dict[str, Any], field: str, admin: httpx.Client
) -> None:
    before = admin.get("/api/v1/config").json()["data"]
    resp = admin.put("/api/v1/config", json={"section": section, "config": config})
    assert resp.status_code == 400, resp.text
    error = resp.json()["errors"][0]
    assert error["code"] == "INVALID_PARAMETER" and error["field"] == field, error
    assert admin.get("/api/v1/config").json()["data"] == before
    # still possible to change the configuration afterwards
    ok = admin.put("/api/v1/config", json={"section": "api", "config": {"sync_wait_seconds": 12}})
    assert ok.status_code == 200, ok.text


def test_the_smallest_body_limit_still_takes_a_config_put(admin: httpx.Client) -> None:
    small = {"section": "api", "config": {"max_body_bytes": 65_536}}
    assert admin.put("/api/v1/config", json=small).status_code == 200
    keys = [key_entry(k.name, k.role) for k in KEYS]
    keys += [key_entry(f"user{i}", "reader") for i in range(300)]
    resp = admin.put("/api/v1/config", json={"section": "security", "config": {"api_keys": keys}})
    assert resp.status_code == 200, resp.text
    back = {"section": "api", "config": {"max_body_bytes": 10 * 1024**2}}
    assert admin.put("/api/v1/config", json=back).status_code == 200


PAGES = [
    "offset=99999999999999999999",
    "offset=9223372036854775808",
    "offset=-1",
    "limit=99999999999999999999",
    "limit=0",
    "tail=99999999999999999999",
]


def test_numeric_query_parameters_out_of_range_are_400(server: Server, admin: httpx.Client) -> None:
    job = admin.post("/api/v1/jobs", json={"workspace_path": str(server.root / "ws" / "cls")})
    job_id = job.json()["data"]["job_id"]
    with server.client("reader") as c:
        for query in PAGES:
            path = f"/api/v1/jobs/{job_id}/logs" if query.startswith("tail") else "/api/v1/jobs"
            resp = c.get(f"{path}?{query}")
            assert resp.status_code == 400, (query, resp.text)
            assert resp.json()["errors"][0]["field"] == query.split("=")[0]
        assert c.get("/api/v1/jobs", params={"offset": 2**31 - 1}).status_code == 200
        assert c.get("/health").status_code == 200


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({"time_limit": 1e308}, "config.time_limit"),
        ({"resources": {"cpu": 1e300}}, "config.resources.cpu"),
        ({"resources": {"memory": "lots"}}, "config.resources.memory"),
    ],
)
def test_job_config_values_out_of_range_are_400(
    config: dict[str, Any], field: str, server: Server, admin: httpx.Client
) -> None:
    before = admin.get("/api/v1/jobs").json()["data"]["pagination"]["total"]
    body = {"workspace_path": str(server.root / "ws" / "cls"), "config": config, "async": True}
    resp = admin.post("/api/v1/jobs", json=body)
    assert resp.status_code == 400, resp.text
    assert resp.json()["errors"][0]["field"] == field
    assert admin.get("/api/v1/jobs").json()["data"]["pagination"]["total"] == before


def _refused_paths(c: httpx.Client, ws: Path) -> None:
    """Every workspace path is refused: validate, submit, batch, scorer test."""
    for path in (str(ws), "/", "cls", str(ws.parent)):
        body = {"workspace_path": path}
        resp = c.post("/api/v1/workspaces/validate", json=body)
        assert resp.status_code == 403, resp.text
        assert resp.json()["errors"][0]["field"] == "workspace_path"
    assert c.post("/api/v1/jobs", json={"workspace_path": str(ws)}).status_code == 403
    batch = {"jobs": [{"workspace_path": str(ws)}]}
    assert c.post("/api/v1/jobs/batch", json=batch).status_code == 403
    test = c.post("/api/v1/scorers/classification_f1/test", json={"workspace_path": str(ws)})
    assert test.status_code == 403, test.text
    assert c.get("/api/v1/jobs").json()["data"]["pagination"]["total"] == 0


def test_empty_workspace_roots_from_the_environment_allow_nothing(tmp_path: Path) -> None:
    ws = write_ws(tmp_path / "ws" / "cls")
    srv = start(tmp_path, KEYS, AUTOSCORER_WORKSPACE_ROOTS="")
    try:
        with srv.client("admin") as c:
            assert c.get("/api/v1/config").json()["data"]["security"]["workspace_roots"] == []
            _refused_paths(c, ws)
        assert "workspace_roots is empty" in srv.log.read_text()
    finally:
        srv.stop()


def test_empty_workspace_roots_from_a_config_put_allow_nothing(tmp_path: Path) -> None:
    ws = write_ws(tmp_path / "ws" / "cls")
    srv = start(tmp_path, KEYS, AUTOSCORER_WORKSPACE_ROOTS=str(tmp_path / "ws"))
    try:
        with srv.client("admin") as c:
            valid = c.post("/api/v1/workspaces/validate", json={"workspace_path": str(ws)})
            assert valid.status_code == 200, valid.text
            put = {"section": "security", "config": {"workspace_roots": []}}
            assert c.put("/api/v1/config", json=put).status_code == 200
            _refused_paths(c, ws)
    finally:
        srv.stop()


def test_serve_says_at_start_that_empty_roots_allow_nothing(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "AUTOSCORER_WORKSPACE_ROOTS": "", "AUTOSCORER_SCORER_ROOTS": ""}
    env["AUTOSCORER_DATABASE_URL"] = f"sqlite:///{tmp_path / 'db.sqlite'}"
    env.pop("AUTOSCORER_CONFIG", None)
    cmd = [sys.executable, "-m", "autoscorer.cli.main", "serve", "--port", str(port)]
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, env=env, cwd=tmp_path, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while "scorer_roots is empty" not in log.read_text():
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        text = log.read_text()
        assert "workspace_roots is empty: every workspace path is refused" in text
    finally:
        stop(proc)


def test_scorer_loading_turned_off_refuses_load_reload_and_watch(tmp_path: Path) -> None:
    (tmp_path / "scorers").mkdir()
    marker = tmp_path / "ran"
    source = tmp_path / "scorers" / "evil.py"
    source.write_text(f"open({str(marker)!r}, 'w').write('code ran at import')\n")
    srv = start(
        tmp_path,
        KEYS,
        AUTOSCORER_SCORER_ROOTS=str(tmp_path / "scorers"),
        AUTOSCORER_API_SCORER_LOADING="false",
    )
    try:
        with srv.client("admin") as c:
            body = {"file_path": str(source)}
            for path in ("load", "reload", "watch"):
                resp = c.post(f"/api/v1/scorers/{path}", json=body)
                assert resp.status_code == 403, resp.text
                assert resp.json()["errors"][0]["details"]["setting"] == "security.scorer_loading"
            assert c.get("/api/v1/scorers/watch").json()["data"]["watched_files"] == []
            put = {"section": "security", "config": {"scorer_loading": True}}
            assert c.put("/api/v1/config", json=put).status_code == 400
            assert c.get("/api/v1/config").json()["data"]["security"]["scorer_loading"] is False
        assert not marker.exists()
    finally:
        srv.stop()
