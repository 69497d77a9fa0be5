"""Suite-wide: every test starts with the logging set-up it would have in a fresh process.

``create_app`` and ``autoscorer worker`` call ``configure_logging``, which installs a root
handler; without this a later test (say, one reading a CLI's stderr) would see log lines
an earlier test's app configured. The baseline is taken when pytest starts, and put back
before and after every test, because a session-scoped fixture (a live server shared by a
module) configures logging outside any single test.

Under ``CI=true`` a skip whose reason is not listed in ``tests/skips.py`` fails the test:
a missing service or tool must not turn tests into silent skips. The run ends with the
count of skips by reason.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from tests.skips import pytest_runtest_makereport, pytest_terminal_summary

WATCHED = ("", "autoscorer", "uvicorn", "uvicorn.error", "uvicorn.access")
Snapshot = dict[str, tuple[list[logging.Handler], int, bool]]


def _snapshot() -> Snapshot:
    saved = {}
    for name in WATCHED:
        logger = logging.getLogger(name)
        saved[name] = (list(logger.handlers), logger.level, logger.propagate)
    return saved


def _restore(saved: Snapshot) -> None:
    for name, (handlers, level, propagate) in saved.items():
        logger = logging.getLogger(name)
        logger.handlers[:] = handlers
        logger.setLevel(level)
        logger.propagate = propagate


BASELINE = _snapshot()


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    _restore(BASELINE)
    yield
    _restore(BASELINE)


__all__ = ["pytest_runtest_makereport", "pytest_terminal_summary"]
