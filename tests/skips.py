"""The deliberate skips: the only ones a CI run (``CI=true``) accepts.

Any other skip in CI -- a missing Docker engine, bwrap, PostgreSQL, Redis, RabbitMQ,
node, a renamed module -- fails the test instead, so a broken set-up can never pass
as a green run with fewer tests. Each entry is a substring of the skip reason and
why skipping there is right.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

ALLOWED: dict[str, str] = {
    "needs sparse files": "the platform has no os.truncate (never on Linux, where CI runs)",
}


def allowed(reason: str) -> bool:
    return any(key in reason for key in ALLOWED)


IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
SKIPS: Counter[str] = Counter()


def _skip_reason(report: pytest.TestReport) -> str:
    longrepr: Any = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome: Any = yield
    report: pytest.TestReport = outcome.get_result()
    if not report.skipped or hasattr(report, "wasxfail"):
        return
    reason = _skip_reason(report)
    SKIPS[reason] += 1
    if IN_CI and not allowed(reason):
        report.outcome = "failed"
        report.longrepr = (
            f"skipped in CI: {reason!r}. Under CI=true a skip for a missing service, tool or "
            "module is a failure; start what is missing (scripts/services) or, if the skip is "
            "deliberate, list it in tests/skips.py with its reason."
        )


def pytest_terminal_summary(terminalreporter: Any) -> None:
    total = sum(SKIPS.values())
    terminalreporter.write_line(f"skips: {total} (CI={'on' if IN_CI else 'off'})")
    for reason, count in SKIPS.most_common():
        terminalreporter.write_line(f"  {count} x {reason}")
