"""A document's world while its examples run: a folder, copies of the examples, a server."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.docs.blocks import REPO
from tests.docs.placeholders import META, WORKSPACES
from tests.live import free_port, stop, wait_healthy

MY_SCORER = '''
from autoscorer.scorers.base import ScoreOutput, Scorer
from autoscorer.scorers.registry import register_scorer


@register_scorer
class MyScorer(Scorer):
    """The docs' example scorer file: every prediction scores 1.0."""

    name = "my_scorer"
    version = "1.0.0"
    task_type = "custom"
    primary_metric = "done"

    def evaluate(self, ctx):
        return ScoreOutput(metrics={"done": 1.0})
'''


@dataclass
class DocEnv:
    root: Path
    cwd: Path
    port: int
    env: dict[str, str]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def values(self) -> dict[str, str]:
        return {"root": str(self.root), "url": self.url, "port": str(self.port)}


def _lay_out(root: Path) -> Path:
    cwd = root / "repo"
    shutil.copytree(
        REPO / "examples",
        cwd / "examples",
        ignore=shutil.ignore_patterns("result.json", "artifacts"),
    )
    for rel, example in WORKSPACES.items():
        shutil.copytree(cwd / "examples" / example, root / rel)
        if rel in META:
            meta = root / rel / "meta.json"
            meta.write_text(json.dumps({**json.loads(meta.read_text()), **META[rel]}))
    (root / "scorers").mkdir()
    (root / "scorers" / "my_scorer.py").write_text(MY_SCORER)
    return cwd


def _env(root: Path, cwd: Path, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTOSCORER_")}
    env.update(
        {
            "AUTOSCORER_DATABASE_URL": f"sqlite:///{root / 'db.sqlite'}",
            "AUTOSCORER_QUEUE": "inprocess",
            "AUTOSCORER_EXECUTOR": "local",
            "AUTOSCORER_WORKSPACE_ROOTS": f"{root},{cwd}",
            "AUTOSCORER_SCORER_ROOTS": f"{root},{cwd}",
            "AUTOSCORER_SERVER": f"http://127.0.0.1:{port}",
            "AUTOSCORER_LOG_LEVEL": "WARNING",
        }
    )
    return env


@contextmanager
def doc_env(tmp: Path, *, server: bool) -> Iterator[DocEnv]:
    """The folder, the example workspaces and (when asked) a live server for one document."""
    cwd = _lay_out(tmp)
    port = free_port()
    env = DocEnv(tmp, cwd, port, _env(tmp, cwd, port))
    if not server:
        yield env
        return
    log = (tmp / "server.log").open("wb")
    cmd = [sys.executable, "-m", "autoscorer.cli.main", "serve", "--port", str(port)]
    proc = subprocess.Popen(cmd, env=env.env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_healthy(env.url, proc, tmp / "server.log")
        yield env
    finally:
        stop(proc)
        log.close()
