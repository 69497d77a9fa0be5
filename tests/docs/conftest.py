"""Prints how many doc blocks ran, passed, failed and were not run, at the end of the run."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

_RUN = Path(__file__).with_name("test_docs_run.py")


def pytest_terminal_summary(terminalreporter: Any) -> None:
    # pytest imports the test module under its own name (``docs.test_docs_run`` or
    # ``tests.docs.test_docs_run`` by import mode): find the copy that ran by its file
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None)
        if path and Path(path) == _RUN and module.COUNTS:
            for line in module.pytest_terminal_summary_lines():
                terminalreporter.write_line(line)
            return
