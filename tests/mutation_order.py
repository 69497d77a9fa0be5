"""Pytest plugin for ``scripts/mutation``: run a module's test files in the selection's order.

mutmut hands pytest the tests of a mutant as a set (no fixed order) and stops at the first
failure (``-x``); this sorts them by the position of their file in
``AUTOSCORER_MUTATION_ORDER`` (comma-separated paths), so the fast exact-value tests listed
first kill most mutants before the slower comparisons run. Loaded with ``-p`` only by the
mutation runs; without the variable it changes nothing.
"""

from __future__ import annotations

import os

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    files = [f for f in os.environ.get("AUTOSCORER_MUTATION_ORDER", "").split(",") if f]
    if not files:
        return

    def rank(item: pytest.Item) -> int:
        path = item.nodeid.split("::", 1)[0]
        return files.index(path) if path in files else len(files)

    items.sort(key=rank)  # stable: the order within a file is kept
