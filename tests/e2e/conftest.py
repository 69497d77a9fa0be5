"""Fixtures of the end-to-end suite: one live server per executor (see helpers.py)."""

from __future__ import annotations

from typing import Any

import pytest
from tests.e2e.helpers import running_server


@pytest.fixture(scope="module", params=["docker", "local", "kubernetes"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The same tests against each executor (one live server each)."""
    with running_server(request.param, tmp_path_factory.mktemp(request.param)) as live:
        yield live


@pytest.fixture(scope="module")
def docker_server(tmp_path_factory: pytest.TempPathFactory) -> Any:
    with running_server("docker", tmp_path_factory.mktemp("docker-only")) as live:
        yield live
