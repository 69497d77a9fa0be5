"""The service image builds from deploy/Dockerfile and its CLI runs (real Docker engine)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TAG = "autoscorer:test"


def _engine_answers() -> bool:
    if shutil.which("docker") is None:
        return False
    return subprocess.run(["docker", "info"], capture_output=True).returncode == 0


pytestmark = [
    pytest.mark.docker,
    pytest.mark.slow,
    pytest.mark.skipif(not _engine_answers(), reason="no Docker engine answers"),
]


@pytest.fixture(scope="module")
def image() -> str:
    proc = subprocess.run(
        [str(ROOT / "scripts" / "service-image"), TAG],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return TAG


def _run(image: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["docker", "run", "--rm", "--network", "none", image, *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_version_runs_in_the_image(image: str) -> None:
    from autoscorer import __version__

    proc = _run(image, "--version")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"autoscorer {__version__}"


def test_image_runs_as_non_root_with_the_cli(image: str) -> None:
    proc = subprocess.run(
        ["docker", "run", "--rm", "--network", "none", "--entrypoint", "id", image, "-u"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.stdout.strip() == "10001"
    help_text = _run(image, "--help").stdout
    for command in ("score", "validate", "init-workspace"):
        assert command in help_text


def test_serve_and_worker_are_in_the_image(image: str) -> None:
    help_text = _run(image, "--help").stdout
    for command in ("serve", "worker", "submit", "pipeline"):
        assert command in help_text
    worker = _run(image, "worker", "--help")  # imports Celery and the job system
    assert worker.returncode == 0 and "--queues" in worker.stdout, worker.stderr


def test_the_image_scores_a_workspace(image: str, tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    shutil.copytree(ROOT / "examples" / "classification", ws)
    for sub in ("output", "logs"):
        (ws / sub).mkdir(exist_ok=True)
    for path in [ws, *ws.rglob("*")]:  # the image runs as uid 10001
        path.chmod(0o777 if path.is_dir() else 0o666)
    proc = subprocess.run(
        ["docker", "run", "--rm", "--network", "none", "-v", f"{ws}:/ws", image,
         "score", "/ws", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert '"score"' in proc.stdout
