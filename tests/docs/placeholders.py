"""What the docs' placeholders become when their examples run, kept beside the docs test.

The docs stay readable (``/data/ws1``, ``localhost:8000``, ``sk-...``); the test fills them
in from these tables. ``{root}``, ``{url}`` and ``{port}`` are the test's own folder and server.
"""

from __future__ import annotations

import re

# plain replacements, applied in this order (longest first where one contains another)
TEXT: list[tuple[str, str]] = [
    ("http://localhost:8000", "{url}"),
    ("localhost:8000", "127.0.0.1:{port}"),
    ("127.0.0.1:8000", "127.0.0.1:{port}"),
    ("/data/workspaces/ws1", "{root}/workspaces/ws1"),
    ("/data/ws/job-1", "{root}/ws/job-1"),
    ("/data/new-ws", "{root}/new-ws"),
    ("/data/ws1", "{root}/ws1"),
    ("/data/ws2", "{root}/ws2"),
    ("/srv/scorers/my_scorer.py", "{root}/scorers/my_scorer.py"),
    ("sqlite:///tmp/t.db", "sqlite:///{root}/t.db"),
    ("/tmp/autoscorer-prom", "{root}/prom"),
    ("init-workspace /tmp/ws", "init-workspace {root}/tmp-ws"),
]

# workspaces the examples name, copied from examples/ before a document runs
WORKSPACES = {
    "workspaces/ws1": "classification",
    "ws1": "classification",
    "ws2": "classification",
    "ws/job-1": "classification",
}
# meta.json keys added to some of them (a workspace with inference to run)
META = {
    "ws/job-1": {"container": {"image": "autoscorer-test/busybox", "cmd": ["sh", "-c", "true"]}},
}

# shell command lines that are not run, and why (each use is counted and printed)
NOT_RUN_LINES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"(^|\s)autoscorer serve\b"), "the docs test runs its own server"),
    (re.compile(r"(^|\s)autoscorer worker\b"), "a long-running worker; tests/jobs runs real ones"),
    (re.compile(r"^autoscorer scorers load \S+ --watch"), "watches until Ctrl-C"),
    (re.compile(r"^(python3 -m )?pip install\b"), "CI installs the package before the tests"),
    (re.compile(r"^\./scripts/(demo|test)\b"), "the whole demo / test suite: CI runs it itself"),
    (re.compile(r"^npm (ci|test)\b"), "the JS SDK's suite: CI runs it as its own step"),
    (re.compile(r"^npm install autoscorer-js-client\b"), "not on the npm registry yet"),
    (re.compile(r"^ruff check src tests bench"), "lint and types: CI's own first step"),
]


def fill(code: str, **values: str) -> str:
    for old, new in TEXT:
        code = code.replace(old, new.format(**values))
    return code
