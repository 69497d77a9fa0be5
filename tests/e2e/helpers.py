"""The end-to-end suite's helpers and servers: a real ``uvicorn`` process per executor.

``docker``: the real engine (images from ``scripts/docker-setup``); ``local``: bwrap;
``kubernetes``: the fake API server of ``tests/executors`` with the ConfigMap of
``deploy/k8s/config.yaml`` in the server's environment. Store: a temp SQLite file; queue:
in-process with 4 slots (so a batch's ``max_parallel`` below 4 is the only limit).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "executors"))  # k8s_fake

from tests.client.conftest import ADMIN_KEY, _api_keys
from tests.live import free_port, stop, wait_healthy

PY_IMAGE = "autoscorer-test/python"
LABELS = ["cat", "dog"]
# a correct submission: the label of s<i> is LABELS[i % 2]; prints a line per id
SOLVE = """
import os, sys, time
ids = open('/workspace/input/data/ids.txt').read().split()
print('predicting', len(ids), 'ids', flush=True)
with open(os.path.join(os.environ['AUTOSCORER_OUTPUT'], 'pred.csv'), 'w') as f:
    f.write('id,label\\n' + ''.join(f"{i},{['cat', 'dog'][int(i[1:]) % 2]}\\n" for i in ids))
"""


@dataclass
class Server:
    executor: str
    url: str
    workspaces: Path
    process: subprocess.Popen[bytes]
    key: str = ADMIN_KEY

    def workspace(self, name: str, cmd: list[str], n: int = 12, **meta: Any) -> Path:
        """input/gt.csv, input/data/ids.txt and meta.json whose container runs ``cmd``."""
        root = self.workspaces / name
        (root / "input" / "data").mkdir(parents=True)
        ids = [f"s{i}" for i in range(n)]
        gt = "id,label\n" + "".join(f"{i},{LABELS[int(i[1:]) % 2]}\n" for i in ids)
        (root / "input" / "gt.csv").write_text(gt)
        (root / "input" / "data" / "ids.txt").write_text("\n".join(ids) + "\n")
        doc: dict[str, Any] = {
            "job_id": name,
            "task_type": "classification",
            "scorer": "classification_f1",
            "time_limit": 30,
            "resources": {"cpu": 1, "memory": "128Mi"},
            "container": {"image": PY_IMAGE, "cmd": cmd, "pull_policy": "never"},
        }
        doc.update(meta)
        (root / "meta.json").write_text(json.dumps(doc))
        return root


def solve_cmd() -> list[str]:
    return ["python3", "-u", "-c", SOLVE]


def _require(executor: str) -> None:
    if executor == "local" and shutil.which("bwrap") is None:
        pytest.skip("bwrap is not installed (apt install bubblewrap)")
    if executor == "docker":
        out = subprocess.run(
            ["docker", "image", "inspect", PY_IMAGE], capture_output=True, check=False
        )
        if shutil.which("docker") is None or out.returncode != 0:
            pytest.skip("no Docker engine with the test images (run scripts/docker-setup)")


def _base_env(root: Path, workspaces: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTOSCORER_")}
    env.update(
        AUTOSCORER_DATABASE_URL=f"sqlite:///{root / 'db.sqlite'}",
        AUTOSCORER_QUEUE="inprocess",
        AUTOSCORER_QUEUE_CONCURRENCY="4",
        AUTOSCORER_WORKSPACE_ROOTS=json.dumps([str(workspaces)]),
        AUTOSCORER_API_KEYS=_api_keys(),
        AUTOSCORER_SYNC_WAIT_SECONDS="60",
        AUTOSCORER_LOG_FORMAT="text",
    )
    return env


@contextlib.contextmanager
def _kubernetes(root: Path, env: dict[str, str]) -> Iterator[Path]:
    from k8s_fake import FakeApiServer
    from test_k8s_job_api import deploy_env

    volume = root / "workspaces"
    volume.mkdir()
    deployed = deploy_env()
    assert deployed["AUTOSCORER_EXECUTOR"] == "kubernetes"
    ns, pvc = deployed["AUTOSCORER_K8S_NAMESPACE"], deployed["AUTOSCORER_K8S_PVC"]
    with FakeApiServer(volume, ns, pvc) as fake:
        env.update(deployed)
        env.update(_base_env(root, volume))  # store, queue, keys: as in the other servers
        env["AUTOSCORER_EXECUTOR"] = "kubernetes"
        env["AUTOSCORER_K8S_WORKSPACE_ROOT"] = str(volume)
        env["AUTOSCORER_K8S_API_URL"] = fake.url
        yield volume


def _start(root: Path, env: dict[str, str]) -> tuple[str, subprocess.Popen[bytes]]:
    port = free_port()
    cmd = [sys.executable, "-m", "uvicorn", "autoscorer.api.main:app_from_env", "--factory"]
    cmd += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    log = root / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, env=env, cwd=root, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    wait_healthy(url, proc, log)
    return url, proc


@contextlib.contextmanager
def running_server(executor: str, root: Path) -> Iterator[Server]:
    _require(executor)
    with contextlib.ExitStack() as stack:
        if executor == "kubernetes":
            env: dict[str, str] = {}
            workspaces = stack.enter_context(_kubernetes(root, env))
        else:
            workspaces = root / "ws"
            workspaces.mkdir()
            env = _base_env(root, workspaces)
            env["AUTOSCORER_EXECUTOR"] = executor
        url, proc = _start(root, env)
        stack.callback(stop, proc)
        yield Server(executor, url, workspaces, proc)


def api(server: Server, method: str, path: str, **kw: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {server.key}"}
    return httpx.request(method, server.url + path, headers=headers, timeout=30, **kw)


def data(resp: httpx.Response) -> Any:
    assert resp.status_code < 300, resp.text
    return resp.json()["data"]


def wait_until(check: Any, timeout: float, what: str, step: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")
