"""Fixtures for the executor contract suite: real engines, real processes, a fake k8s API.

Docker tests need the engine and the images built by ``scripts/docker-setup``;
they are skipped (with the reason) only when no engine answers.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

sys.path.insert(0, str(Path(__file__).parent))  # the k8s_fake helper module

from exec_helpers import (
    BUSYBOX_IMAGE,
    PY_IMAGE,
    SESSION,
    TEST_LABEL,
    ExactLines,
    make_executor,
    write_workspace,
)

from autoscorer.executors.base import Executor
from autoscorer.scorers.registry import registry


@pytest.fixture(scope="session", autouse=True)
def _test_scorer() -> Iterator[None]:
    mine = registry.replace(ExactLines) is None  # tests/security may have registered it
    yield
    if mine:
        registry.unregister(ExactLines.name)


@pytest.fixture(scope="session")
def docker_client() -> Any:
    """A client of the running engine, or None when no engine answers."""
    try:
        import docker

        client = docker.from_env(timeout=30)
        client.ping()
    except Exception:
        return None
    return client


@pytest.fixture
def require_docker(docker_client: Any) -> Any:
    if docker_client is None:
        pytest.skip("no Docker engine answers (start one with scripts/docker-setup)")
    for image in (PY_IMAGE, BUSYBOX_IMAGE):
        try:
            docker_client.images.get(image)
        except Exception:
            pytest.fail(f"test image {image} is missing: run scripts/docker-setup")
    return docker_client


@pytest.fixture(params=[pytest.param("docker", marks=pytest.mark.docker), "local"])
def kind(request: pytest.FixtureRequest) -> str:
    if request.param == "docker":
        request.getfixturevalue("require_docker")
    return str(request.param)


@pytest.fixture
def executor(kind: str) -> Iterator[Executor]:
    ex = make_executor(kind)
    yield ex
    ex.close()


def _leftover_containers(client: Any) -> list[str]:
    found = client.containers.list(all=True, filters={"label": f"{TEST_LABEL}={SESSION}"})
    return [c.name for c in found]


def _live_children() -> list[psutil.Process]:
    out = []
    for p in psutil.Process().children(recursive=True):
        try:
            if p.status() != psutil.STATUS_ZOMBIE:
                out.append(p)
        except psutil.NoSuchProcess:
            continue
    return out


@pytest.fixture(autouse=True)
def no_leftovers(docker_client: Any) -> Iterator[None]:
    """After every test: no container with this session's label, no stray child process
    (children that existed before the test, e.g. another suite's session server, don't count)."""
    before = {p.pid for p in _live_children()}

    def new_children() -> list[psutil.Process]:
        return [p for p in _live_children() if p.pid not in before]

    yield
    if docker_client is not None:
        assert _leftover_containers(docker_client) == [], "containers left behind"
    deadline = time.monotonic() + 2
    while new_children() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert new_children() == [], "processes left behind"


@pytest.fixture
def workspace(tmp_path: Path) -> Callable[..., Path]:
    """``workspace(cmd, **meta)`` -> a fresh workspace directory."""
    counter = iter(range(1000))

    def make(cmd: list[str] | None, **meta: Any) -> Path:
        return write_workspace(tmp_path / f"ws{next(counter)}", cmd, **meta)

    return make
