"""The CI skip gate: an unlisted skip fails under CI=true and passes as a skip otherwise."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PROBE = """
import pytest
from tests.skips import pytest_runtest_makereport, pytest_terminal_summary

def test_missing_service():
    pytest.skip("no Docker engine answers")

def test_deliberate():
    pytest.skip("needs sparse files")
"""


def _run(tmp_path: Path, ci: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "conftest.py").write_text(PROBE.split("def test_")[0])
    (tmp_path / "test_probe.py").write_text(
        "import pytest\n\ndef test_" + PROBE.split("def test_", 1)[1]
    )
    env = {
        **os.environ,
        "CI": ci,
        "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
    }
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--rootdir",
            str(tmp_path),
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )


def test_unlisted_skip_fails_in_ci(tmp_path: Path) -> None:
    out = _run(tmp_path, "true")
    assert out.returncode == 1, out.stdout
    assert "1 failed, 1 skipped" in out.stdout
    assert "skipped in CI: 'no Docker engine answers'" in out.stdout
    assert "skips: 2 (CI=on)" in out.stdout


def test_skips_stay_skips_outside_ci(tmp_path: Path) -> None:
    out = _run(tmp_path, "")
    assert out.returncode == 0, out.stdout
    assert "2 skipped" in out.stdout
    assert "1 x no Docker engine answers" in out.stdout
