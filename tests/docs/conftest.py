"""Prints how many doc blocks ran, passed, failed and were not run, at the end of the run."""

from __future__ import annotations

from typing import Any


def pytest_terminal_summary(terminalreporter: Any) -> None:
    from tests.docs import test_docs_run

    if test_docs_run.COUNTS:
        for line in test_docs_run.pytest_terminal_summary_lines():
            terminalreporter.write_line(line)
