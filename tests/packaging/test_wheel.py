"""The sdist and wheel: what they hold, and the wheel installed into a fresh venv.

The extras are installed one after another into the same venv by the last test, so
that the earlier tests see the wheel without any extra.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile
import zipfile
from email.parser import Parser

import pytest
from tests.jobs.helpers import PgDatabases
from tests.packaging.helpers import (
    ROOT,
    VERSION,
    Artifacts,
    Server,
    Venv,
    copy_example,
    example_score,
    run,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


def _tracked_package_files() -> list[str]:
    """Every file git tracks under src/, as a path inside the wheel."""
    out = run(["git", "ls-files", "src"], cwd=ROOT).stdout.split()
    return [p.removeprefix("src/") for p in out]


def test_the_wheel_holds_every_tracked_file_under_src(artifacts: Artifacts) -> None:
    names = set(zipfile.ZipFile(artifacts.wheel).namelist())
    missing = [p for p in _tracked_package_files() if p not in names]
    assert missing == []  # migrations, templates, schemas, console assets, py.typed ...
    assert "autoscorer/jobs/migrations/versions/0001_initial.py" in names
    assert not [n for n in names if n.startswith(("tests/", "bench/")) or "__pycache__" in n]


def test_the_wheel_metadata_carries_the_version_and_extras(artifacts: Artifacts) -> None:
    wheel = zipfile.ZipFile(artifacts.wheel)
    meta = Parser().parsestr(wheel.read(f"autoscorer-{VERSION}.dist-info/METADATA").decode())
    assert meta["Name"] == "autoscorer" and meta["Version"] == VERSION
    assert meta["License-Expression"] == "Apache-2.0"
    extras = set(meta.get_all("Provides-Extra") or []) - {"dev"}  # dev: the test tools
    assert extras == {*EXTRA_PROBES, "all"}  # a new extra needs its probe below
    entry_points = wheel.read(f"autoscorer-{VERSION}.dist-info/entry_points.txt").decode()
    assert "autoscorer = autoscorer.cli.main:main" in entry_points


def test_the_sdist_builds_the_same_package(artifacts: Artifacts) -> None:
    with tarfile.open(artifacts.sdist) as sdist:
        names = {n.split("/", 1)[1] for n in sdist.getnames() if "/" in n}
    assert {"pyproject.toml", "README.md"} <= names
    assert [p for p in _tracked_package_files() if f"src/{p}" not in names] == []


def test_the_venv_is_fresh(venv: Venv) -> None:
    probe = (
        "import sys, autoscorer, autoscorer_client; "
        "print(sys.prefix != sys.base_prefix, autoscorer.__file__, autoscorer_client.__file__)"
    )
    out = venv.run(venv.python, "-c", probe).stdout.split()
    assert out[0] == "True"
    for path in out[1:]:
        assert path.startswith(str(venv.root / "lib")), path
    missing = venv.run(
        venv.python, "-c", "import importlib.util as u; print(u.find_spec('docker'))"
    )
    assert missing.stdout.strip() == "None"  # no extra, no system site-packages


def test_version_is_the_same_everywhere(venv: Venv, served: Server) -> None:
    assert venv.run(venv.bin("autoscorer"), "--version").stdout.strip() == f"autoscorer {VERSION}"
    meta = venv.run(
        venv.python, "-c", "import importlib.metadata as m; print(m.version('autoscorer'))"
    )
    assert meta.stdout.strip() == VERSION
    probe = (
        "import json, sys; from autoscorer_client import AutoScorerClient; "
        "c = AutoScorerClient(base_url=sys.argv[1]); "
        "print(json.dumps([c.health().version, c.status().system['version']]))"
    )
    answer = venv.run(venv.python, "-c", probe, served.url).stdout
    assert json.loads(answer) == [VERSION, VERSION]


def test_score_an_example_from_the_wheel(venv: Venv) -> None:
    ws = copy_example(venv.home / "score-ws")
    proc = venv.run(venv.bin("autoscorer"), "score", str(ws), "--json")
    answer = json.loads(proc.stdout)
    assert answer["success"] is True
    assert answer["result"]["summary"]["score"] == pytest.approx(example_score())
    assert (ws / "output" / "result.json").is_file()


def test_the_contract_python_example_against_the_served_wheel(venv: Venv, served: Server) -> None:
    script = f"""
from autoscorer_client import AutoScorerClient

client = AutoScorerClient(base_url={served.url!r})
job = client.submit_job(
    job_id="sdk-test-001",
    task_type="classification",
    scorer="classification_f1",
    workspace_path={str(served.home / "ws")!r},
)
result = client.wait_for_completion(job.job_id, timeout=300)
if result.success:
    print(f"Score: {{result.data.result.summary.score}}")
else:
    print(f"Job failed: {{result.errors}}")
"""
    out = venv.run(venv.python, "-c", script, timeout=400).stdout.strip()
    assert out.startswith("Score: "), out + "\n" + served.log.read_text()[-3000:]
    assert float(out.removeprefix("Score: ")) == pytest.approx(example_score())


EXTRA_PROBES = {
    # each extra: the modules that need it, imported from the installed package
    "docker": "import docker, autoscorer.executors.docker",
    "k8s": "import kubernetes, autoscorer.executors.kubernetes",
    "celery": "import celery, redis, autoscorer.jobs.queues.celery_app",
    "postgres": "import psycopg, sqlalchemy; sqlalchemy.create_engine('postgresql+psycopg://x@127.0.0.1/x')",
    "ratelimit": (
        "from limits.aio.storage import RedisStorage; "
        "from limits.aio.strategies import MovingWindowRateLimiter; import autoscorer.api.ratelimit"
    ),
}


def _importable(venv: Venv, probe: str) -> bool:
    proc = subprocess.run(
        [venv.python, "-c", probe],
        cwd=venv.home,
        capture_output=True,
        env={"PATH": "/usr/bin:/bin"},
    )
    return proc.returncode == 0


def test_each_extra_installs_and_brings_what_it_is_for(venv: Venv) -> None:
    """Last in this module: installs each extra (EXTRA_PROBES) in turn, then [all]."""
    for extra, probe in EXTRA_PROBES.items():
        assert not _importable(venv, probe), f"{extra} already importable before its extra"
        venv.install(f"{venv.wheel}[{extra}]")
        assert _importable(venv, probe), f"[{extra}] installed but `{probe}` fails"
    venv.install(f"{venv.wheel}[all]")
    run([sys.executable, "-m", "pip", "--python", venv.python, "check"])
    worker = venv.run(venv.bin("autoscorer"), "worker", "--help")
    assert "--queues" in worker.stdout


@pytest.mark.postgres
def test_the_wheels_migrations_build_a_postgresql_store(venv: Venv) -> None:
    """[postgres]: the migrations shipped in the wheel create the store on PostgreSQL."""
    venv.install(f"{venv.wheel}[postgres]")
    dbs = PgDatabases()
    url = dbs.create()
    try:
        probe = (
            "import sys; from autoscorer.jobs.store import JobStore; "
            "from autoscorer.jobs.records import NewJob; "
            "s = JobStore(sys.argv[1]); "
            "s.add(NewJob(job_id='pkg-1', workspace_path='/w', executor='local')); "
            "print(s.get('pkg-1').status.value); s.close()"
        )
        assert venv.run(venv.python, "-c", probe, url).stdout.strip() == "submitted"
    finally:
        dbs.drop_all()
