"""One version: src/autoscorer/__init__.py, and every copy that cannot import it agrees.

(The wheel's metadata, ``autoscorer --version``, the API's version fields and the image
tag are checked from the built artifacts in the other modules of this folder.)
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tomllib
from pathlib import Path

from tests.packaging.helpers import ROOT, VERSION


def test_pyproject_reads_the_version_from_the_package() -> None:
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" not in meta["project"] and meta["project"]["dynamic"] == ["version"]
    assert meta["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "autoscorer.__version__"}


def test_the_js_sdk_has_the_same_version() -> None:
    js = ROOT / "clients" / "js"
    assert json.loads((js / "package.json").read_text())["version"] == VERSION
    lock = json.loads((js / "package-lock.json").read_text())
    assert lock["version"] == lock["packages"][""]["version"] == VERSION


def test_the_deployments_run_the_image_of_this_version() -> None:
    files = [ROOT / "deploy" / "compose.yaml", *sorted((ROOT / "deploy" / "k8s").glob("*.yaml"))]
    tags = {
        (path.name, tag)
        for path in files
        for tag in re.findall(r"image:\s*autoscorer:(\S+)", path.read_text())
    }
    assert {name for name, _ in tags} >= {"compose.yaml", "api.yaml", "worker.yaml"}
    assert {tag for _, tag in tags} == {VERSION}


def test_set_version_rewrites_every_copy(tmp_path: Path) -> None:
    """scripts/set-version on a copy of the tree: every place moves together."""
    tree = tmp_path / "tree"
    for name in ("scripts", "src/autoscorer/__init__.py", "deploy", "clients/js/package.json",
                 "clients/js/package-lock.json"):  # fmt: skip
        src, dest = ROOT / name, tree / name
        dest.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, dest, ignore=shutil.ignore_patterns("wheelhouse"))
        else:
            shutil.copy2(src, dest)
    proc = subprocess.run(
        [str(tree / "scripts" / "set-version"), "9.8.7"], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"{VERSION} -> 9.8.7"
    assert '__version__ = "9.8.7"' in (tree / "src/autoscorer/__init__.py").read_text()
    assert json.loads((tree / "clients/js/package.json").read_text())["version"] == "9.8.7"
    lock = json.loads((tree / "clients/js/package-lock.json").read_text())
    assert lock["version"] == lock["packages"][""]["version"] == "9.8.7"
    for name in ("compose.yaml", "k8s/api.yaml", "k8s/worker.yaml"):
        text = (tree / "deploy" / name).read_text()
        assert "image: autoscorer:9.8.7" in text and f"autoscorer:{VERSION}" not in text
