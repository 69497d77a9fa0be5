"""The import contracts of pyproject.toml (docs/architecture.md, "Layers"): they hold on
this tree, every top-level module has a place in them, and they catch a broken layer."""

from __future__ import annotations

import os
import pkgutil
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import autoscorer

SRC = Path(autoscorer.__file__).resolve().parents[1]
PYPROJECT = SRC.parent / "pyproject.toml"
# the lint-imports command of this interpreter's import-linter, wherever its script lives
LINT_IMPORTS = [sys.executable, "-c", "from importlinter.cli import lint_imports_command as c; c()"]
SDK = "autoscorer.client"


def contracts() -> dict[str, dict[str, Any]]:
    config = tomllib.loads(PYPROJECT.read_text())["tool"]["importlinter"]
    return {c["id"]: c for c in config["contracts"]}


def lint_imports(src: Path) -> subprocess.CompletedProcess[str]:
    """``lint-imports`` on the package found in ``src``, with this checkout's contracts."""
    env = {**os.environ, "PYTHONPATH": str(src)}
    cmd = [*LINT_IMPORTS, "--no-cache", "--no-logo", str(PYPROJECT)]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)


def top_level_modules() -> set[str]:
    return {f"autoscorer.{m.name}" for m in pkgutil.iter_modules(autoscorer.__path__)}


def test_every_top_level_module_has_a_layer_and_is_forbidden_to_the_sdk() -> None:
    layers = contracts()["layers"]["layers"]
    placed = {name.strip() for layer in layers for name in layer.replace(":", "|").split("|")}
    assert placed | {SDK} == top_level_modules()
    forbidden = set(contracts()["client-independent"]["forbidden_modules"])
    assert forbidden == top_level_modules() - {SDK}


def test_the_contracts_hold() -> None:
    done = lint_imports(SRC)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Contracts: 2 kept, 0 broken." in done.stdout


def test_an_upward_import_and_an_sdk_import_of_the_server_break_them(tmp_path: Path) -> None:
    for package in ("autoscorer", "autoscorer_client"):
        shutil.copytree(SRC / package, tmp_path / package, ignore=shutil.ignore_patterns("*.pyc"))
    with (tmp_path / "autoscorer" / "executors" / "auto.py").open("a") as fh:
        fh.write("\nfrom autoscorer.observability import metrics  # noqa: E402\n")
    with (tmp_path / "autoscorer" / "client" / "_retry.py").open("a") as fh:
        fh.write("\nfrom autoscorer import errors  # noqa: E402\n")
    done = lint_imports(tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Contracts: 0 kept, 2 broken." in done.stdout
    assert "autoscorer.executors.auto -> autoscorer.observability" in done.stdout
    assert "autoscorer.client._retry -> autoscorer.errors" in done.stdout
