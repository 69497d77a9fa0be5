"""Hot reload through the API: load, reload, watch; a broken edit keeps the old version."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from autoscorer.api.schemas import ScorersLoaded, ScorersReloaded, WatchStarted, WatchStatus

TEMPLATE = """\
from autoscorer.scorers.base import ScoreOutput, Scorer
from autoscorer.scorers.registry import register_scorer


@register_scorer
class Custom(Scorer):
    name = "{name}"
    version = "{version}"
    task_type = "classification"
    primary_metric = "const"

    def evaluate(self, ctx):
        return ScoreOutput(metrics={{"const": {value}}})
"""


@pytest.fixture()
def scorer_file(roots: dict) -> tuple[Path, str]:
    name = f"custom_{uuid.uuid4().hex[:8]}"
    path = roots["scorers"] / f"{name}.py"
    write(path, name, "1.0.0", 1.0)
    return path, name


def write(path: Path, name: str, version: str, value: float) -> None:
    path.write_text(TEMPLATE.format(name=name, version=version, value=value))


def score_with(h, client: TestClient, name: str) -> float:
    url = f"/api/v1/scorers/{name}/test"
    data = h.data_of(client.post(url, json={"workspace_path": "cls"}))
    assert data["test_status"] == "passed", data
    return float(data["result"]["summary"]["score"])


def test_load_then_reload_and_broken_edit(h, client: TestClient, scorer_file) -> None:
    path, name = scorer_file
    loaded = ScorersLoaded.model_validate(
        h.data_of(client.post("/api/v1/scorers/load", json={"file_path": path.name}))
    )
    assert [(s.name, s.version) for s in loaded.loaded_scorers] == [(name, "1.0.0")]
    assert loaded.watch_enabled is False and loaded.total_loaded == 1
    assert score_with(h, client, name) == 1.0
    assert h.data_of(client.get(f"/api/v1/scorers/{name}"))["source"] == str(path)

    write(path, name, "1.1.0", 2.0)
    body = {"file_path": str(path), "scorer_name": name}
    reloaded = ScorersReloaded.model_validate(
        h.data_of(client.post("/api/v1/scorers/reload", json=body))
    )
    assert [(r.old_version, r.new_version) for r in reloaded.reloaded_scorers] == [
        ("1.0.0", "1.1.0")
    ]
    assert score_with(h, client, name) == 2.0

    path.write_text(path.read_text().replace("return ScoreOutput", "return ScoreOutput(("))
    broken = client.post("/api/v1/scorers/reload", json=body)
    err = h.check_error(broken, 400, "INVALID_PARAMETER", "file_path")["errors"][0]
    assert err["details"]["line"] and err["details"]["kept"] == {name: "1.1.0"}
    assert score_with(h, client, name) == 2.0  # the old version keeps serving


def test_loading_twice_conflicts_only_with_other_sources(
    h, client: TestClient, scorer_file, roots: dict
) -> None:
    path, _ = scorer_file
    h.data_of(client.post("/api/v1/scorers/load", json={"file_path": path.name}))
    again = client.post("/api/v1/scorers/load", json={"file_path": path.name, "force_reload": True})
    assert h.data_of(again)["total_loaded"] == 1
    copy = roots["scorers"] / "copy.py"
    copy.write_text(path.read_text())
    h.check_error(
        client.post("/api/v1/scorers/load", json={"file_path": "copy.py"}), 409, "CONFLICT"
    )
    missing = client.post("/api/v1/scorers/load", json={"file_path": "missing.py"})
    h.check_error(missing, 404, "RESOURCE_NOT_FOUND", "file_path")


def wait_for_score(h, client: TestClient, name: str, expected: float) -> None:
    deadline = time.monotonic() + 15
    while score_with(h, client, name) != expected:
        assert time.monotonic() < deadline, f"watcher did not reload to {expected}"
        time.sleep(0.1)


def test_watch_reloads_on_edit_and_survives_a_broken_edit(
    h, client: TestClient, scorer_file
) -> None:
    path, name = scorer_file
    body = {"file_path": path.name, "auto_watch": True, "check_interval": 0.1}
    assert h.data_of(client.post("/api/v1/scorers/load", json=body))["watch_enabled"] is True
    status = WatchStatus.model_validate(h.data_of(client.get("/api/v1/scorers/watch")))
    assert [w.file_path for w in status.watched_files] == [str(path)]

    write(path, name, "1.1.0", 3.0)
    wait_for_score(h, client, name, 3.0)
    path.write_text("this is not python\n")
    deadline = time.monotonic() + 15
    while True:
        watched = h.data_of(client.get("/api/v1/scorers/watch"))["watched_files"][0]
        if watched["last_error"]:
            break
        assert time.monotonic() < deadline, "the broken edit was never noticed"
        time.sleep(0.1)
    assert watched["total_reloads"] >= 1
    assert score_with(h, client, name) == 3.0

    stopped = h.data_of(client.delete("/api/v1/scorers/watch", params={"file_path": path.name}))
    assert stopped["watch_stopped"] is True
    assert h.data_of(client.get("/api/v1/scorers/watch"))["total_watched"] == 0
    again = client.delete("/api/v1/scorers/watch", params={"file_path": path.name})
    h.check_error(again, 404, "RESOURCE_NOT_FOUND")


def test_watch_endpoint_and_bad_interval(h, client: TestClient, scorer_file) -> None:
    path, _ = scorer_file
    started = WatchStarted.model_validate(
        h.data_of(
            client.post(
                "/api/v1/scorers/watch", json={"file_path": path.name, "check_interval": 0.5}
            )
        )
    )
    assert started.watch_started and started.check_interval == 0.5
    bad = client.post("/api/v1/scorers/watch", json={"file_path": path.name, "check_interval": 0})
    h.check_error(bad, 400, "INVALID_PARAMETER", "check_interval")
