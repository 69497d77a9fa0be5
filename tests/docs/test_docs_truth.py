"""Every doc tells the truth today: settings, error codes, CLI commands and flags exist,
and the Chinese README shows the same commands as the English one."""

from __future__ import annotations

import re

import pytest
from tests.docs.blocks import REPO, Block, all_blocks, blocks, doc_files, shell_commands
from typer.main import get_command

from autoscorer.cli.main import app
from autoscorer.errors import AutoScorerError, _all_subclasses
from autoscorer.settings import Settings

# AUTOSCORER_* names that are not server settings, and where they come from
NOT_SETTINGS = {
    "AUTOSCORER_SERVER": "the SDKs' and CLI's default server URL",
    "AUTOSCORER_API_KEY": "the SDKs' and CLI's default API key",
    "AUTOSCORER_CONFIG": "the YAML settings file serve reads",
    "AUTOSCORER_WORKSPACES": "deploy/compose.yaml's host folder for workspaces",
    "AUTOSCORER_JOB_ID": "set inside the sandbox",
    "AUTOSCORER_WORKSPACE": "set inside the sandbox",
    "AUTOSCORER_INPUT": "set inside the sandbox",
    "AUTOSCORER_OUTPUT": "set inside the sandbox",
    "AUTOSCORER_LOGS": "set inside the sandbox",
}
# upper-case words in backticks that are not error codes
NOT_CODES = {
    "PROMETHEUS_MULTIPROC_DIR",
    "RLIMIT_NPROC",
    "RLIMIT_CPU",
    "RLIMIT_FSIZE",
    "BASE_IMAGE",
    "IDEMPOTENCY_HEADER",
    "O_NOFOLLOW",
    "O_EXCL",
    "O_CREAT",
    "CAP_SYS_ADMIN",
}
TEXT_LANGS = {
    "text",
    "mermaid",
    "yaml",
    "toml",
    "promql",
    "json",
    "ini",
    "dockerfile",
    "diff",
    "python",
    "bash",
    "javascript",
    "typescript",
    "http",
}


def _doc_text() -> str:
    return "\n".join(f.read_text(encoding="utf-8") for f in doc_files())


def test_every_block_names_its_language() -> None:
    bare = [b.where for b in all_blocks() if b.lang not in TEXT_LANGS]
    assert not bare, f"fenced blocks without a known language (use ```text for output): {bare}"


def test_every_setting_named_in_the_docs_exists() -> None:
    settings = {f"AUTOSCORER_{name.upper()}" for name in Settings.model_fields}
    named = set(re.findall(r"AUTOSCORER_[A-Z0-9_]+[A-Z0-9]", _doc_text()))
    unknown = sorted(named - settings - set(NOT_SETTINGS))
    assert not unknown, f"settings named in the docs that Settings does not have: {unknown}"


def test_every_error_code_named_in_the_docs_exists() -> None:
    codes = {cls.code for cls in _all_subclasses(AutoScorerError)}
    named = set(re.findall(r"`([A-Z][A-Z0-9]*_[A-Z0-9_]*[A-Z0-9])`", _doc_text()))
    unknown = sorted(n for n in named - codes - NOT_CODES if not n.startswith("AUTOSCORER_"))
    assert not unknown, f"error codes named in the docs that the error tree lacks: {unknown}"


def _cli_lines() -> list[tuple[Block, list[str]]]:
    out = []
    for block in all_blocks():
        if block.lang != "bash":
            continue
        for line in shell_commands(block.code):
            for part in re.split(r"&&|\|\||;|\|", line):
                words = part.strip().rstrip("&").split()
                if words and words[0] == "autoscorer":
                    out.append((block, words))
    return out


def _resolve(words: list[str]) -> tuple[object, list[str]]:
    """The click command a command line names, and the flags it passes."""
    cmd = get_command(app)
    rest = words[1:]
    while rest and hasattr(cmd, "commands") and rest[0] in cmd.commands:  # type: ignore[attr-defined]
        cmd = cmd.commands[rest[0]]  # type: ignore[attr-defined]
        rest = rest[1:]
    flags = [w.split("=")[0] for w in rest if w.startswith("-") and w not in ("-", "--")]
    return cmd, flags


def test_every_cli_command_and_flag_in_the_docs_exists() -> None:
    problems = []
    for block, words in _cli_lines():
        cmd, flags = _resolve(words)
        if hasattr(cmd, "commands") and len(words) > 1 and not words[1].startswith("-"):
            problems.append(f"{block.where}: unknown command {' '.join(words[:3])!r}")
            continue
        known = {o for p in cmd.params for o in (*p.opts, *p.secondary_opts)}  # type: ignore[attr-defined]
        known |= {"--help"}
        problems += [
            f"{block.where}: {' '.join(words[:2])} has no {f}" for f in flags if f not in known
        ]
    assert not problems, "\n".join(problems)


def _commands(path: str) -> set[str]:
    """The first two words of every shell command in a README's code blocks."""
    out = set()
    for block in blocks(REPO / path):
        if block.lang == "bash":
            out |= {" ".join(cmd.split()[:2]) for cmd in shell_commands(block.code)}
    return out


def test_the_chinese_readme_shows_the_same_commands() -> None:
    en, zh = _commands("README.md"), _commands("README.zh-CN.md")
    assert en == zh, (
        f"only in README.md: {sorted(en - zh)}; only in README.zh-CN.md: {sorted(zh - en)}"
    )


@pytest.mark.parametrize("path", ["docs/webhooks.md"])
def test_no_stale_status_note(path: str) -> None:
    text = (REPO / path).read_text(encoding="utf-8")
    for stale in ("not yet", "until the first lands", "no setting for a server-wide default"):
        assert stale not in text, f"{path} still says {stale!r}"
