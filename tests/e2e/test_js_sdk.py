"""The JS SDK (``clients/js``, built to ``dist/``) on the user's path: node against the
live server on Docker. What node prints is what the SDK handed back."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from tests.e2e.helpers import Server, solve_cmd

JS = Path(__file__).parents[2] / "clients" / "js"
INDEX = JS / "dist" / "esm" / "index.js"


def test_js_sdk_completes_downloads_and_follows(docker_server: Server) -> None:
    if shutil.which("node") is None or not INDEX.exists():
        pytest.skip("the JS SDK is not built (cd clients/js && npm ci && npm run build)")
    ok = docker_server.workspace("js-ok", solve_cmd())
    tick = ["sh", "-c", "for i in 1 2 3; do echo tick $i; sleep 1; done"]
    follow = docker_server.workspace("js-follow", tick)
    argv = ["node", str(Path(__file__).with_name("js_user_path.mjs")), INDEX.as_uri()]
    argv += [docker_server.url, docker_server.key, str(ok), str(follow)]
    run = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 0, run.stderr
    got = json.loads(run.stdout)
    assert got["health"] == "healthy"
    assert got["success"] is True and got["score"] == 1.0
    written = ok / "output" / "artifacts"
    for name, art in got["artifacts"].items():
        assert base64.b64decode(art["base64"]) == (written / art["filename"]).read_bytes(), name
    assert len(got["artifacts"]) == 4
    assert [line for line, _ in got["arrivals"]] == ["tick 1", "tick 2", "tick 3"]
    assert got["arrivals"][0][1] == "running" and got["arrivals"][1][1] == "running"
