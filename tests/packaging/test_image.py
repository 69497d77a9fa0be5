"""The service image: built from the wheel (scripts/service-image), run with ``docker run``.

``serve`` and ``worker`` run in two containers of the image on the host network, bound
to 127.0.0.1, sharing a SQLite file and Redis on 127.0.0.1 (the Docker engine here has
no bridge); a job submitted to the served API is run by the worker container.
"""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.live import free_port, wait_healthy
from tests.packaging.helpers import (
    VERSION,
    Artifacts,
    Venv,
    copy_example,
    example_score,
    run,
)

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(900)]
REDIS_URL = "redis://127.0.0.1:6379/14"  # the job tests use 9


@pytest.fixture(scope="module")
def image(artifacts: Artifacts, wheelhouse: Path) -> Iterator[str]:
    """The image of this session's wheel, under a tag of its own (removed at the end)."""
    tag = f"autoscorer:check-{uuid.uuid4().hex[:8]}"
    root = Path(__file__).resolve().parents[2]
    run([str(root / "scripts" / "service-image"), tag, str(artifacts.wheel)], timeout=900)
    yield tag
    subprocess.run(["docker", "rmi", tag], capture_output=True)


def _docker(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)


def _open_to_the_image_user(folder: Path) -> Path:
    for path in [folder, *folder.rglob("*")]:  # the image runs as uid 10001
        path.chmod(0o777 if path.is_dir() else 0o666)
    return folder


def test_the_image_is_the_wheels_version(image: str) -> None:
    proc = _docker("run", "--rm", "--network", "none", image, "--version")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"autoscorer {VERSION}"
    ids = {
        _docker("image", "inspect", "-f", "{{.Id}}", t).stdout
        for t in (image, f"autoscorer:{VERSION}")
    }
    assert len(ids) == 1  # also tagged with the version


def test_the_image_holds_the_wheel_not_the_source_tree(image: str) -> None:
    probe = (
        "id -u; ls /src /tmp/dist /tmp/wheelhouse 2>&1 | grep -c 'No such file'; "
        "ls /opt/autoscorer/lib/python3*/site-packages | grep -E '^autoscorer'"
    )
    proc = _docker("run", "--rm", "--network", "none", "--entrypoint", "sh", image, "-c", probe)
    lines = proc.stdout.split()
    assert lines[0] == "10001"  # not root
    assert lines[1] == "3"  # no source tree, no leftovers of the build
    assert set(lines[2:]) == {"autoscorer", f"autoscorer-{VERSION}.dist-info", "autoscorer_client"}


def test_the_image_scores_a_workspace(image: str, tmp_path: Path) -> None:
    ws = _open_to_the_image_user(copy_example(tmp_path / "ws"))
    proc = _docker(
        "run", "--rm", "--network", "none", "-v", f"{ws}:/ws", image, "score", "/ws", "--json"
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert json.loads(proc.stdout)["result"]["summary"]["score"] == pytest.approx(example_score())


@pytest.fixture
def serve_and_worker(image: str, tmp_path: Path) -> Iterator[tuple[str, str, Path]]:
    """``serve`` and ``worker`` containers; yields (API URL, routing key, workspace)."""
    (tmp_path / "state").mkdir()
    state = _open_to_the_image_user(tmp_path / "state")
    ws = _open_to_the_image_user(copy_example(tmp_path / "ws"))
    lane, port = f"pkgcheck-{uuid.uuid4().hex[:8]}", free_port()
    common = [
        "run", "-d", "--network", "host", "-v", f"{state}:/state", "-v", f"{ws}:{ws}",
        "-e", "AUTOSCORER_QUEUE=celery", "-e", f"AUTOSCORER_BROKER_URL={REDIS_URL}",
        "-e", "AUTOSCORER_DATABASE_URL=sqlite:////state/jobs.db",
        "-e", f"AUTOSCORER_WORKSPACE_ROOTS={ws}", "-e", "AUTOSCORER_EXECUTOR=local",
    ]  # fmt: skip
    names: list[str] = []
    try:
        for args in (
            ["serve", "--host", "127.0.0.1", "--port", str(port)],
            ["worker", "--queues", lane, "--concurrency", "1", "--pool", "solo"],
        ):
            started = _docker(*common, image, *args)
            assert started.returncode == 0, started.stderr
            names.append(started.stdout.strip())
        url = f"http://127.0.0.1:{port}"
        log = tmp_path / "containers.log"
        log.write_text("")
        wait_healthy(url, None, log)
        yield url, lane, ws
    finally:
        for name in names:
            logs = _docker("logs", name)
            print(f"--- {name[:12]}\n{logs.stdout[-3000:]}{logs.stderr[-3000:]}")
            _docker("rm", "-f", name)


def test_serve_and_worker_containers_run_a_job(
    serve_and_worker: tuple[str, str, Path], venv: Venv
) -> None:
    url, lane, ws = serve_and_worker
    script = """
import json, sys
from autoscorer_client import AutoScorerClient

url, ws, lane = sys.argv[1:]
client = AutoScorerClient(base_url=url)
job = client.submit_job(workspace_path=ws, config={"queue": lane}, async_=True)
outcome = client.wait_for_completion(job.job_id, timeout=240)
status = client.get_job_status(job.job_id)
print(json.dumps({
    "version": client.health().version, "success": outcome.success,
    "score": outcome.data.result.summary.score if outcome.success else None,
    "errors": [e.message for e in outcome.errors], "executor": status.executor,
}))
"""
    answer = json.loads(venv.run(venv.python, "-c", script, url, str(ws), lane, timeout=300).stdout)
    assert answer["version"] == VERSION
    assert answer["success"] is True, answer
    assert answer["score"] == pytest.approx(example_score())
