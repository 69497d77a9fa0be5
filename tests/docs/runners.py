"""Running one document's blocks: Python in one fresh interpreter, shell blocks in bash,
JavaScript in one Node module against the built SDK. Blocks of a document share state in
that order, as a reader running them top to bottom would."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.docs.blocks import REPO, Block, shell_commands
from tests.docs.placeholders import NOT_RUN_LINES

BLOCK_TIMEOUT = 90

PY_DRIVER = r"""
import json, signal, sys, traceback
TIMEOUT = int(sys.argv[1])
blocks = json.load(sys.stdin)
ns = {"__name__": "__main__"}
def alarm(*_):
    raise TimeoutError("block took too long")
signal.signal(signal.SIGALRM, alarm)
for i, code in enumerate(blocks):
    signal.alarm(TIMEOUT)
    try:
        exec(compile(code, f"<block {i}>", "exec"), ns)
        print(json.dumps({"block": i, "ok": True}), flush=True)
    except BaseException:
        print(json.dumps({"block": i, "ok": False, "error": traceback.format_exc()[-3000:]}),
              flush=True)
    finally:
        signal.alarm(0)
"""


@dataclass
class Outcome:
    block: Block
    ok: bool
    error: str = ""


def _parse(blocks: list[Block], stdout: str, stderr: str) -> list[Outcome]:
    seen: dict[int, Outcome] = {}
    for line in stdout.splitlines():
        if line.startswith('{"block":'):
            rec = json.loads(line)
            seen[rec["block"]] = Outcome(blocks[rec["block"]], rec["ok"], rec.get("error", ""))
    return [
        seen.get(i, Outcome(b, False, f"did not run; stderr: {stderr[-2000:]}"))
        for i, b in enumerate(blocks)
    ]


def run_python(
    blocks: list[Block], codes: list[str], env: dict[str, str], cwd: Path
) -> list[Outcome]:
    out = subprocess.run(
        [sys.executable, "-c", PY_DRIVER, str(BLOCK_TIMEOUT)],
        input=json.dumps(codes),
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=BLOCK_TIMEOUT * len(codes) + 30,
    )
    return _parse(blocks, out.stdout, out.stderr)


def shell_script(code: str, skipped: list[str]) -> str:
    """The block with its not-run lines replaced by ``:`` (each recorded in ``skipped``)."""
    lines = []
    for line in re.sub(r"\\\n\s*", " ", code).splitlines():
        reason = next((why for pat, why in NOT_RUN_LINES if pat.search(line.strip())), None)
        if reason and shell_commands(line):
            skipped.append(f"{line.strip()[:60]!r}: {reason}")
            line = ": not run"
        lines.append(line)
    return "\n".join(lines) + "\n"


def run_bash(block: Block, code: str, env: dict[str, str], cwd: Path) -> Outcome:
    try:
        out = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", code],
            capture_output=True,
            text=True,
            env=env,
            cwd=cwd,
            timeout=BLOCK_TIMEOUT,
        )
    except subprocess.TimeoutExpired:
        return Outcome(block, False, f"timed out after {BLOCK_TIMEOUT} s")
    if out.returncode != 0:
        return Outcome(
            block, False, f"exit {out.returncode}\n{out.stdout[-1500:]}\n{out.stderr[-1500:]}"
        )
    return Outcome(block, True)


IMPORT = re.compile(r"^import\s[^;]*?\sfrom\s+['\"][^'\"]+['\"];?[^\n]*$", re.M)
TOP_DECL = re.compile(r"^(const|let)\s", re.M)
TOP_FUNC = re.compile(r"^(async\s+)?function\s+([A-Za-z_$][\w$]*)", re.M)


def js_module(codes: list[str]) -> str:
    """One ES module: imports hoisted, each block in try/catch, top-level names shared."""
    imports: list[str] = []
    bodies = []
    for i, code in enumerate(codes):
        imports += [m.group(0).strip() for m in IMPORT.finditer(code)]
        body = IMPORT.sub("", code)
        body = TOP_DECL.sub("var ", body)
        body = TOP_FUNC.sub(
            lambda m: f"var {m.group(2)} = {m.group(1) or ''}function {m.group(2)}", body
        )
        ok = f"console.log(JSON.stringify({{block: {i}, ok: true}}));"
        bad = (
            f"console.log(JSON.stringify({{block: {i}, ok: false, error: String(e?.stack ?? e)}}));"
        )
        bodies.append(f"try {{\n{body}\n{ok}\n}} catch (e) {{\n{bad}\n}}\n")
    return "\n".join(dict.fromkeys(imports)) + "\n" + "\n".join(bodies)


def run_js(blocks: list[Block], codes: list[str], env: dict[str, str], cwd: Path) -> list[Outcome]:
    sdk = REPO / "clients" / "js"
    assert (sdk / "dist").is_dir(), (
        "clients/js/dist is not built: run `npm ci && npm run build` there"
    )
    modules = cwd / "node_modules"
    modules.mkdir(exist_ok=True)
    link = modules / "autoscorer-js-client"
    if not link.exists():
        os.symlink(sdk, link)
    script = cwd / "doc_blocks.mjs"
    script.write_text(js_module(codes))
    out = subprocess.run(
        ["node", str(script)],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=BLOCK_TIMEOUT * len(codes) + 30,
    )
    return _parse(blocks, out.stdout, out.stderr)
