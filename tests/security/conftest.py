"""Fixtures of the sandbox attack tests: the real Docker engine and the local bwrap sandbox.

The executor helpers of ``tests/executors`` (test images, session label, workspace
writer) are reused; the autouse check there (no container or process left behind)
is repeated here for the sandbox attacks.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent.parent / "executors"))

from exec_helpers import BUSYBOX_IMAGE, PY_IMAGE, SESSION, TEST_LABEL, ExactLines, make_executor

from autoscorer.executors.base import Executor
from autoscorer.scorers.registry import registry


@pytest.fixture(scope="session", autouse=True)
def _test_scorer() -> Iterator[None]:
    """The executor suite's test scorer (that suite's conftest may have registered it)."""
    mine = registry.replace(ExactLines) is None
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


@pytest.fixture(params=[pytest.param("docker", marks=pytest.mark.docker), "local"])
def kind(request: pytest.FixtureRequest, docker_client: Any) -> str:
    if request.param == "docker":
        if docker_client is None:
            pytest.skip("no Docker engine answers (start one with scripts/docker-setup)")
        for image in (PY_IMAGE, BUSYBOX_IMAGE):
            docker_client.images.get(image)  # missing: run scripts/docker-setup
    return str(request.param)


@pytest.fixture
def executor(kind: str, docker_client: Any) -> Iterator[Executor]:
    ex = make_executor(kind)
    yield ex
    ex.close()
    if docker_client is not None:
        left = docker_client.containers.list(all=True, filters={"label": f"{TEST_LABEL}={SESSION}"})
        assert [c.name for c in left] == [], "containers left behind"
