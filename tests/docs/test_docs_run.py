"""Every example in the README files and docs/ runs (issue: docs that run).

Python blocks of a document run in order in one fresh interpreter, shell blocks in bash, and
JavaScript blocks in one Node module against the built SDK, each document against its own
server and copies of the examples (placeholders filled from ``placeholders.py``). JSON blocks
must parse. A block marked ``<!-- not-run: reason -->`` is counted; the budget below caps them.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from tests.docs.blocks import REPO, Block, all_blocks, blocks, doc_files
from tests.docs.environment import DocEnv, doc_env
from tests.docs.placeholders import fill
from tests.docs.runners import Outcome, run_bash, run_js, run_python, shell_script

RUNNABLE = {"python", "bash", "javascript"}
NOT_RUN_BUDGET = 12  # blocks marked not-run, over all documents
COUNTS: Counter[str] = Counter()
LINES_NOT_RUN: list[str] = []


def _runnable(path: Path) -> list[Block]:
    return [b for b in blocks(path) if b.lang in RUNNABLE and not b.not_run]


def _save_named_files(env: DocEnv, python: list[Block]) -> None:
    """A Python block whose first line is ``# name.py`` is saved there, as a reader would."""
    for block in python:
        first = block.code.splitlines()[0].strip()
        if first.startswith("# ") and first.endswith(".py") and " " not in first[2:]:
            (env.cwd / first[2:]).write_text(block.code)


def _run_document(path: Path, env: DocEnv) -> list[Outcome]:
    todo = _runnable(path)
    python = [b for b in todo if b.lang == "python"]
    _save_named_files(env, python)
    outcomes = run_python(python, [fill(b.code, **env.values()) for b in python], env.env, env.cwd)
    for block in (b for b in todo if b.lang == "bash"):
        script = shell_script(fill(block.code, **env.values()), LINES_NOT_RUN)
        outcomes.append(run_bash(block, script, env.env, env.cwd))
    js = [b for b in todo if b.lang == "javascript"]
    if js:
        outcomes += run_js(js, [fill(b.code, **env.values()) for b in js], env.env, env.cwd)
    return outcomes


DOCS = [f for f in doc_files() if _runnable(f)]


@pytest.mark.parametrize("path", DOCS, ids=[str(f.relative_to(REPO)) for f in DOCS])
def test_document_examples_run(path: Path, tmp_path: Path) -> None:
    with doc_env(tmp_path, server=True) as env:
        outcomes = _run_document(path, env)
    for o in outcomes:
        COUNTS[f"{o.block.lang} {'passed' if o.ok else 'failed'}"] += 1
    failed = [f"{o.block.where} ({o.block.lang}):\n{o.error}" for o in outcomes if not o.ok]
    assert not failed, "\n\n".join(failed)


def test_json_blocks_parse() -> None:
    bad = []
    for block in (b for b in all_blocks() if b.lang == "json"):
        try:
            json.loads(block.code)
            COUNTS["json passed"] += 1
        except json.JSONDecodeError as exc:
            bad.append(f"{block.where}: {exc}")
    assert not bad, bad


def test_not_run_blocks_stay_few_and_say_why() -> None:
    marked = [b for b in all_blocks() if b.not_run]
    COUNTS["marked not-run"] = len(marked)
    assert all(len(b.not_run or "") >= 10 for b in marked), "a not-run marker needs a reason"
    assert len(marked) <= NOT_RUN_BUDGET, [f"{b.where}: {b.not_run}" for b in marked]


def pytest_terminal_summary_lines() -> list[str]:
    lines = [f"docs blocks: {dict(sorted(COUNTS.items()))}"]
    lines += [f"  line not run: {line}" for line in LINES_NOT_RUN]
    return lines
