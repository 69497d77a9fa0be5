"""Start-up budget of the ``autoscorer`` command and scoring many workspaces at once.

Course staff call the CLI in loops over hundreds of folders, so a fresh process must not
import what the command does not use. ``python -X importtime`` lists every module a run
imported; the heavy libraries below must stay out of the lists that do not need them.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer import _click

from autoscorer.cli import fasthelp
from autoscorer.cli.commands import COMMANDS
from autoscorer.cli.lazy import build_module
from autoscorer.cli.main import app
from autoscorer.pipeline.batch import score_many

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
HEAVY = {"numpy", "pyarrow", "pandas", "docker", "requests", "fastapi", "sqlalchemy", "httpx"}
HEAVY |= {"pydantic", "rich", "PIL", "celery", "uvicorn", "markdown_it"}


# ``autoscorer ARGS`` as the console script runs it (``main()``, program name "autoscorer")
SCRIPT = "import sys; sys.argv[0] = 'autoscorer'; from autoscorer.cli.main import main; main()"


def imported(*args: str, full: bool = False, script: bool = False) -> set[str]:
    """Top-level packages (``full``: all modules) a fresh ``python -m autoscorer.cli.main
    ARGS`` (``script``: the console script's ``main()``) imports."""
    entry = ["-c", SCRIPT] if script else ["-m", "autoscorer.cli.main"]
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", *entry, *args],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "100"},
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    names = set()
    for line in proc.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            name = line.rsplit("|", 1)[1].strip()
            names.add(name if full else name.split(".")[0])
    assert "autoscorer" in {n.split(".")[0] for n in names}  # the trace is of our command
    return names


@pytest.mark.parametrize("args", [["--help"], ["--version"]])
def test_help_and_version_import_nothing_heavy(args: list[str]) -> None:
    assert imported(*args) & HEAVY == set()
    # through the console script they are answered before typer is imported
    assert imported(*args, script=True) & (HEAVY | {"typer", "click"}) == set()


def test_the_fast_help_is_typer_s_help_at_every_width() -> None:
    cmd = typer.main.get_command(app)
    for width in range(50, 131):
        ctx = _click.Context(cmd, info_name="autoscorer", terminal_width=width)
        assert fasthelp.help_text("autoscorer", width) == cmd.get_help(ctx), width
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, "--help"],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "64"},
        check=True,
    ).stdout
    assert (
        out == cmd.get_help(_click.Context(cmd, info_name="autoscorer", terminal_width=62)) + "\n"
    )


def test_the_command_table_is_what_the_modules_register() -> None:
    summaries: dict[str, str] = {}
    modules: dict[str, str] = {}
    for module in {entry.module for entry in COMMANDS.values()}:
        for name, cmd in build_module(module).items():
            assert cmd.help is not None and not cmd.short_help and not cmd.hidden, name
            summaries[name] = cmd.help.split("\n\n")[0]
            modules[name] = module
    assert summaries == {name: entry.summary for name, entry in COMMANDS.items()}
    assert modules == {name: entry.module for name, entry in COMMANDS.items()}


def test_a_command_imports_only_its_own_module() -> None:
    modules = imported("validate", "--help", full=True)
    assert "autoscorer.cli.workspace" in modules
    others = {f"autoscorer.cli.{entry.module}" for entry in COMMANDS.values()}
    assert modules & others == {"autoscorer.cli.workspace"}


def test_a_command_help_imports_nothing_heavy_but_typer_s_own_pydantic() -> None:
    # typer converts a command's parameters with pydantic as soon as a command is chosen
    assert imported("score", "--help") & HEAVY == {"pydantic"}


def test_scoring_a_classification_workspace_imports_only_what_it_uses(tmp_path: Path) -> None:
    ws = shutil.copytree(EXAMPLES / "classification", tmp_path / "ws")
    modules = imported("score", "--json", "--no-artifacts", str(ws), full=True)
    names = {m.split(".")[0] for m in modules}
    assert {"numpy", "pyarrow", "pydantic"} <= names  # the scorer's real work
    # its ~300 generated kernel wrappers cost ~70 ms; the valid-data path calls kernels directly
    assert "pyarrow.compute" not in modules
    # not pandas (pyarrow pulls it in when handed Python or numpy values), nor the
    # other scorers' libraries, nor anything of the server, the SDK or the executors
    assert names & {"pandas", "PIL", "docker", "fastapi", "sqlalchemy", "httpx", "rich"} == set()
    assert json.loads((ws / "output" / "result.json").read_text())["summary"]["score"] > 0
    # nor with artifacts on (``Array.take`` imports ``pyarrow.compute``; error cases use it)
    assert "pyarrow.compute" not in imported("score", "--json", str(ws), full=True)
    # the text summary into a pipe (a script's loop) is printed without rich too
    assert "rich" not in imported("score", "--no-artifacts", str(ws))


@pytest.mark.docker
def test_running_a_container_imports_nothing_of_the_server(tmp_path: Path) -> None:
    """``autoscorer run`` reads its settings (the database URL among them) but opens no
    database: SQLAlchemy alone was 0.13 s of a 0.2 s container's run."""
    ws = tmp_path / "ws"
    (ws / "output").mkdir(parents=True)
    meta = {
        "job_id": "startup",
        "time_limit": 60,
        "container": {
            "image": "autoscorer-test/busybox",
            "cmd": ["sh", "-c", "echo id,label > /workspace/output/pred.csv"],
            "pull_policy": "never",
        },
    }
    (ws / "meta.json").write_text(json.dumps(meta))
    names = imported("run", str(ws), "--executor", "docker")
    assert "docker" in names  # the trace is of a real run
    server = {"sqlalchemy", "alembic", "fastapi", "uvicorn", "celery", "httpx", "kubernetes"}
    assert names & (server | {"numpy", "pyarrow", "pandas", "PIL"}) == set()
    assert (ws / "output" / "pred.csv").read_text() == "id,label\n"


def _comparable(doc: dict) -> dict:
    """A result without what differs between any two runs (clock readings)."""
    doc = json.loads(json.dumps(doc))
    doc.pop("timing")
    doc["versioning"].pop("timestamp")
    return doc


def test_a_process_pool_gives_the_results_of_one_at_a_time(tmp_path: Path) -> None:
    sources = ["classification", "regression", "detection", "segmentation"]
    workspaces = []
    for i in range(12):
        ws = shutil.copytree(EXAMPLES / sources[i % 4], tmp_path / f"ws{i:02d}")
        workspaces.append(str(ws))
    broken = tmp_path / "broken"
    shutil.copytree(EXAMPLES / "classification", broken)
    (broken / "output" / "pred.csv").write_text("id,label\n1,cat\n1,cat\n")
    workspaces.insert(5, str(broken))

    serial = list(score_many(workspaces, jobs=1))
    files = {
        ws: json.loads((Path(ws) / "output" / "result.json").read_text())
        for ws in workspaces
        if ws != str(broken)
    }
    pooled = list(score_many(workspaces, jobs=2))

    assert [s.workspace for s in pooled] == workspaces  # order kept
    assert not pooled[5].ok and pooled[5].error == serial[5].error
    assert pooled[5].error is not None and pooled[5].error["code"] == "UNKNOWN_ID"
    for one, many in zip(serial, pooled, strict=True):
        if one.ok:
            assert many.result is not None and one.result is not None
            assert _comparable(many.result) == _comparable(one.result)
            written = json.loads((Path(many.workspace) / "output" / "result.json").read_text())
            assert _comparable(written) == _comparable(files[many.workspace])
