"""The npm tarball: packed from a clean copy of clients/js, installed into new projects.

contract-example.js (next to this file) is the contract's JavaScript SDK example as
written. The ESM app runs it with its placeholders filled (server URL, workspace path,
and a job id of its own); the CommonJS app also swaps the ``import`` for ``require`` and
wraps the top-level ``await``s in an async function, which CommonJS needs; the
TypeScript ``strict`` project compiles it unchanged.
"""

from __future__ import annotations

import json
import re
import shutil
import tarfile
from pathlib import Path

import pytest
from tests.packaging.helpers import ROOT, Server, example_score, run

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

EXAMPLE = (Path(__file__).parent / "contract-example.js").read_text()
IMPORT = "import { AutoScorerClient } from 'autoscorer-js-client';\n"
PACKAGE = json.loads((ROOT / "clients" / "js" / "package.json").read_text())
NPM = ["npm", "--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error"]


@pytest.fixture(scope="module")
def js_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of clients/js holding only its tracked files, after ``npm ci``."""
    src = tmp_path_factory.mktemp("js-src")
    for name in run(["git", "ls-files", "clients/js"], cwd=ROOT).stdout.split():
        dest = src / Path(name).relative_to("clients/js")
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, dest)
    run([*NPM, "ci"], cwd=src)
    assert not (src / "dist").exists()
    return src


@pytest.fixture(scope="module")
def tarball(js_copy: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``npm pack`` in the clean copy: its prepack script builds dist/ first."""
    out = tmp_path_factory.mktemp("js-pack")
    packed = run([*NPM, "pack", "--json", "--pack-destination", str(out)], cwd=js_copy).stdout
    return out / json.loads(packed[packed.index("[") :])[0]["filename"]


@pytest.fixture(scope="module")
def tsc(js_copy: Path) -> str:
    """The SDK's own pinned compiler (a tool: the projects resolve the SDK themselves)."""
    return str(js_copy / "node_modules" / ".bin" / "tsc")


def _project(root: Path, name: str, tarball: Path, manifest: dict[str, object]) -> Path:
    folder = root / name
    folder.mkdir()
    (folder / "package.json").write_text(json.dumps({"name": name, "private": True, **manifest}))
    run([*NPM, "install", str(tarball)], cwd=folder)
    return folder


def _filled(server: Server, job_id: str) -> str:
    text = EXAMPLE.replace("'http://localhost:8000'", repr(server.url))
    text = text.replace("'/path/to/workspace'", repr(str(server.home / "ws")))
    return text.replace("'js-test-001'", repr(job_id))


def _check_output(out: str) -> None:
    lines = out.splitlines()
    assert lines[0] == "Status: completed, Progress: 1%", out
    assert re.fullmatch(r"Score: [0-9.]+", lines[1]), out
    assert float(lines[1].removeprefix("Score: ")) == pytest.approx(example_score())
    assert len(lines) > 2 and all(re.match(r"\[.+\] [A-Z]+: ", line) for line in lines[2:]), out


def test_the_tarball_holds_the_esm_cjs_and_type_builds(tarball: Path) -> None:
    assert tarball.name == f"autoscorer-js-client-{PACKAGE['version']}.tgz"
    with tarfile.open(tarball) as tgz:
        names = set(tgz.getnames())
    for built in (
        "dist/esm/index.js", "dist/esm/client.js",
        "dist/cjs/index.js", "dist/cjs/client.js", "dist/cjs/package.json",
        "dist/types/index.d.ts", "dist/types/types.d.ts", "dist/cjs/index.d.ts",
        "README.md", "package.json",
    ):  # fmt: skip
        assert f"package/{built}" in names, built
    assert not [n for n in names if n.startswith(("package/src/", "package/test"))]


def test_the_contract_example_runs_in_an_esm_app(
    tarball: Path, served: Server, tmp_path: Path
) -> None:
    app = _project(tmp_path, "esm-app", tarball, {"type": "module"})
    (app / "index.mjs").write_text(_filled(served, "js-test-esm"))
    _check_output(run(["node", "index.mjs"], cwd=app, timeout=300).stdout)


def test_the_contract_example_runs_in_a_commonjs_app(
    tarball: Path, served: Server, tmp_path: Path
) -> None:
    app = _project(tmp_path, "cjs-app", tarball, {})
    body = _filled(served, "js-test-cjs").replace(IMPORT, "")
    require = "const { AutoScorerClient } = require('autoscorer-js-client');\n"
    (app / "index.js").write_text(f"{require}\n(async () => {{\n{body}\n}})();\n")
    _check_output(run(["node", "index.js"], cwd=app, timeout=300).stdout)


def _typescript_project(root: Path, name: str, tarball: Path, manifest: dict[str, object]) -> Path:
    app = _project(root, name, tarball, manifest)
    tsconfig = {
        "compilerOptions": {
            "strict": True, "noEmit": True, "skipLibCheck": False,
            "target": "ES2022", "module": "NodeNext", "moduleResolution": "NodeNext",
            "lib": ["ES2022", "DOM"], "types": [],
        },
        "files": ["example.ts"],
    }  # fmt: skip
    (app / "tsconfig.json").write_text(json.dumps(tsconfig))
    return app


def test_the_contract_example_compiles_under_typescript_strict(
    tarball: Path, tsc: str, tmp_path: Path
) -> None:
    """An ES module project: the package's ESM declarations, the example as written."""
    assert EXAMPLE.startswith(IMPORT)
    app = _typescript_project(tmp_path, "ts-app", tarball, {"type": "module"})
    (app / "example.ts").write_text(EXAMPLE)  # placeholders and all
    traced = run([tsc, "-p", ".", "--traceResolution"], cwd=app).stdout
    assert "autoscorer-js-client/dist/types/index.d.ts" in traced


def test_the_commonjs_declarations_compile_under_typescript_strict(
    tarball: Path, tsc: str, tmp_path: Path
) -> None:
    """A CommonJS project resolves the package's ``require`` declarations (dist/cjs)."""
    app = _typescript_project(tmp_path, "ts-cjs-app", tarball, {})
    body = EXAMPLE.replace(IMPORT, "")
    (app / "example.ts").write_text(f"{IMPORT}\n(async () => {{\n{body}\n}})();\n")
    traced = run([tsc, "-p", ".", "--traceResolution"], cwd=app).stdout
    assert "autoscorer-js-client/dist/cjs/index.d.ts" in traced
