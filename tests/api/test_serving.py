"""What a served process does beyond ``create_app``: it freezes its start-up objects for
the garbage collector (a full collection over them paused every request 30-160 ms)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

PROBE = """
import gc
from fastapi.testclient import TestClient
from autoscorer.api.main import app_from_env, create_app

with TestClient(create_app()) as client:  # tests and embedders: nothing frozen
    assert client.get("/health").status_code == 200
    print("create_app", gc.get_freeze_count())
with TestClient(app_from_env()) as client:
    assert client.get("/health").status_code == 200
    print("app_from_env", gc.get_freeze_count())
"""


def test_served_app_freezes_start_up_objects(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "AUTOSCORER_DATABASE_URL": f"sqlite:///{tmp_path / 'jobs.db'}",
        "AUTOSCORER_WORKSPACE_ROOTS": str(tmp_path),
        "AUTOSCORER_EXECUTOR": "local",
    }
    out = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, cwd=tmp_path, capture_output=True, text=True,
        timeout=120, check=True,
    ).stdout  # fmt: skip
    counts = dict(line.split() for line in out.splitlines())
    assert counts["create_app"] == "0"
    assert int(counts["app_from_env"]) > 10_000  # FastAPI, pydantic, SQLAlchemy, scorers
