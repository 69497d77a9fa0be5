"""The packaging checks' artifacts and fresh environments (scripts/package-check runs them).

Everything here is built from the tree once per session -- the sdist and wheel
(``python -m build``), the npm tarball (``npm pack``), the service image -- and then
used only as a user would: the wheel installed into a new virtual environment (no
system site-packages, no ``PYTHONPATH``, run from a temporary folder), the tarball into
new npm projects, the image with ``docker run``. Dependency wheels come from
deploy/wheelhouse (``scripts/wheelhouse``), so the installs need no index.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.live import free_port, wait_healthy
from tests.packaging.helpers import (
    ROOT,
    VERSION,
    Artifacts,
    Server,
    Venv,
    clean_env,
    copy_example,
    run,
)


@pytest.fixture(scope="session")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Artifacts:
    out = tmp_path_factory.mktemp("dist")
    epoch = run(["git", "log", "-1", "--format=%ct"], cwd=ROOT).stdout.strip()
    run([sys.executable, "-m", "build", "--outdir", str(out), str(ROOT)],
        env=clean_env(SOURCE_DATE_EPOCH=epoch), timeout=600)  # fmt: skip
    return Artifacts(
        wheel=out / f"autoscorer-{VERSION}-py3-none-any.whl",
        sdist=out / f"autoscorer-{VERSION}.tar.gz",
    )


@pytest.fixture(scope="session")
def wheelhouse(artifacts: Artifacts) -> Path:
    run([str(ROOT / "scripts" / "wheelhouse"), str(artifacts.wheel)], cwd=ROOT, timeout=900)
    return ROOT / "deploy" / "wheelhouse"


@pytest.fixture(scope="session")
def venv(artifacts: Artifacts, wheelhouse: Path, tmp_path_factory: pytest.TempPathFactory) -> Venv:
    """The wheel alone (no extras) in a new venv; test_wheel adds the extras at its end."""
    base = tmp_path_factory.mktemp("venv")
    run([sys.executable, "-m", "venv", "--without-pip", str(base / "env")])
    env = Venv(root=base / "env", wheel=artifacts.wheel, home=base / "home")
    env.home.mkdir()
    env.install(str(artifacts.wheel))
    return env


@pytest.fixture(scope="session")
def served(venv: Venv) -> Iterator[Server]:
    """``autoscorer serve`` from the venv on its embedded defaults (only the port given)."""
    home = venv.home / "server"
    home.mkdir()
    copy_example(home / "ws")
    port = free_port()
    log = home / "serve.log"
    with log.open("w") as fh:
        proc = subprocess.Popen(
            [venv.bin("autoscorer"), "serve", "--port", str(port)],
            cwd=home, env=clean_env(), stdout=fh, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        wait_healthy(url, proc, log)
        yield Server(url=url, home=home, log=log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
