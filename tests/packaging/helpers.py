"""Helpers of the packaging checks: commands in a clean environment, the fresh venv, ports."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VERSION = re.search(
    r'^__version__ = "([^"]+)"', (ROOT / "src/autoscorer/__init__.py").read_text(), re.M
).group(1)  # type: ignore[union-attr]
EXAMPLE = ROOT / "examples" / "classification"


def example_score() -> float:
    """Macro F1 of examples/classification, computed by scikit-learn (the oracle)."""
    import pandas as pd
    from sklearn.metrics import f1_score

    gt = pd.read_csv(EXAMPLE / "input" / "gt.csv")
    pred = pd.read_csv(EXAMPLE / "output" / "pred.csv")
    both = gt.merge(pred, on="id", suffixes=("_gt", "_pred"))
    return float(f1_score(both["label_gt"], both["label_pred"], average="macro", zero_division=0))


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without anything that points into the source tree or a venv."""
    drop = ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP")
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env = {k: v for k, v in env.items() if not k.startswith("AUTOSCORER_")}
    return {**env, "PIP_DISABLE_PIP_VERSION_CHECK": "1", **extra}


def run(args: list[str], *, timeout: float = 600, **kw: object) -> subprocess.CompletedProcess[str]:
    """Run and fail the test with the command's output when it does not exit 0."""
    kw.setdefault("env", clean_env())
    proc = subprocess.run(args, capture_output=True, text=True, timeout=timeout, **kw)  # type: ignore[call-overload]
    out = f"$ {' '.join(map(str, args))}\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    assert proc.returncode == 0, out
    return proc


def copy_example(dest: Path) -> Path:
    """A writable copy of examples/classification (ground truth and predictions)."""
    shutil.copytree(EXAMPLE, dest, ignore=shutil.ignore_patterns("result.json", "artifacts"))
    for sub in ("output", "logs"):
        (dest / sub).mkdir(exist_ok=True)
    return dest


@dataclass(frozen=True)
class Artifacts:
    wheel: Path
    sdist: Path


@dataclass(frozen=True)
class Venv:
    """A fresh virtual environment with the wheel installed."""

    root: Path
    wheel: Path
    home: Path  # the folder commands run in (not the source tree)

    @property
    def python(self) -> str:
        return str(self.root / "bin" / "python")

    def bin(self, name: str) -> str:
        return str(self.root / "bin" / name)

    def install(self, requirement: str) -> None:
        run(
            [sys.executable, "-m", "pip", "--python", self.python, "install", "-q",
             "--no-compile", "--no-index", "--find-links", str(ROOT / "deploy" / "wheelhouse"),
             requirement],
            timeout=900,
        )  # fmt: skip

    def run(self, *args: str, **kw: object) -> subprocess.CompletedProcess[str]:
        kw.setdefault("cwd", self.home)
        return run(list(args), **kw)


@dataclass(frozen=True)
class Server:
    url: str
    home: Path  # its working folder: the default workspace root and SQLite file
    log: Path
