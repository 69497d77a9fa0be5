"""Process-local metrics: the helper functions, multiprocess mode across real
processes (helpers in separate interpreters, and uvicorn with two workers),
and the worker exporter."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from tests.live import free_port

from autoscorer.observability import (
    build_registry,
    count_webhook_failure,
    observe_container_start,
    render,
    start_worker_exporter,
)

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def local() -> Samples:
    return parse(render(build_registry(None))[0].decode())


def L(**labels: str) -> frozenset[tuple[str, str]]:
    return frozenset(labels.items())


def test_helpers_count_and_observe() -> None:
    before = local()
    count_webhook_failure("timeout")
    count_webhook_failure("timeout")
    count_webhook_failure("http 5xx\n")  # label values are cleaned, never raw text
    observe_container_start(0.3)
    observe_container_start(7.0, executor="kubernetes")
    after = local()

    def delta(name: str, labels: frozenset[tuple[str, str]]) -> float:
        return after.get((name, labels), 0.0) - before.get((name, labels), 0.0)

    failures = "autoscorer_webhook_delivery_failures_total"
    assert delta(failures, L(reason="timeout")) == 2
    assert delta(failures, L(reason="http_5xx")) == 1
    start = "autoscorer_container_start_seconds"
    assert delta(f"{start}_count", L(executor="docker")) == 1
    assert delta(f"{start}_bucket", L(executor="docker", le="0.5")) == 1
    assert delta(f"{start}_bucket", L(executor="kubernetes", le="5.0")) == 0
    assert delta(f"{start}_bucket", L(executor="kubernetes", le="10.0")) == 1
    assert delta(f"{start}_sum", L(executor="kubernetes")) == pytest.approx(7.0)


def _python(code: str, env: dict[str, str]) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_multiprocess_mode_sums_every_process(tmp_path: Path) -> None:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    work = (
        "from autoscorer.observability import count_webhook_failure, observe_container_start\n"
        "count_webhook_failure('connection'); observe_container_start(1.5)\n"
    )
    for _ in range(3):
        _python(work, env)
    out = _python(
        "import sys\nfrom autoscorer.observability import build_registry, render, "
        "multiprocess_enabled\nassert multiprocess_enabled()\n"
        "sys.stdout.write(render(build_registry(None))[0].decode())\n",
        env,
    )
    got = parse(out)
    assert got[("autoscorer_webhook_delivery_failures_total", L(reason="connection"))] == 3
    start = "autoscorer_container_start_seconds"
    assert got[(f"{start}_count", L(executor="docker"))] == 3
    assert got[(f"{start}_sum", L(executor="docker"))] == pytest.approx(4.5)
    assert len(list(tmp_path.glob("*.db"))) >= 3  # one file per process


@pytest.mark.slow
def test_uvicorn_with_two_workers_reports_all_requests(tmp_path: Path) -> None:
    port, mp = free_port(), tmp_path / "prom"
    mp.mkdir()
    env = {
        **os.environ,
        "PROMETHEUS_MULTIPROC_DIR": str(mp),
        "AUTOSCORER_DATABASE_URL": f"sqlite:///{tmp_path / 'jobs.db'}",
        "AUTOSCORER_WORKSPACE_ROOTS": str(tmp_path),
        "AUTOSCORER_SCORER_ROOTS": str(tmp_path),
        "AUTOSCORER_EXECUTOR": "local",
    }
    cmd = [sys.executable, "-m", "uvicorn", "autoscorer.api.main:app_from_env", "--factory",
           "--workers", "2", "--host", "127.0.0.1", "--port", str(port),
           "--log-level", "warning"]  # fmt: skip
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_up(url, proc)
        for _ in range(40):  # a new connection each time: both workers get some
            assert httpx.get(f"{url}/health", timeout=10).status_code == 200
        text = httpx.get(f"{url}/metrics", timeout=10).text
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    got = parse(text)
    health = ("autoscorer_http_request_duration_seconds_count",
              L(method="GET", route="/health", status="200"))  # fmt: skip
    assert got[health] >= 40  # + the readiness probes; every worker's requests are summed
    assert got[("autoscorer_job_store_up", L())] == 1.0


def _wait_up(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(proc.stderr.read().decode() if proc.stderr else "exited")
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError("uvicorn did not start")


def test_worker_exporter_serves_local_metrics_only() -> None:
    port = free_port()
    server, thread = start_worker_exporter(port, "127.0.0.1")
    try:
        count_webhook_failure("gave_up")
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
    got = parse(text)
    assert got[("autoscorer_webhook_delivery_failures_total", L(reason="gave_up"))] >= 1
    assert not [name for name, _ in got if name.startswith(("autoscorer_job", "autoscorer_queue"))]
