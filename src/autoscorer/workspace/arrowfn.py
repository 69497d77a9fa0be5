"""The pyarrow compute kernels of the valid-data path, without importing ``pyarrow.compute``.

Importing ``pyarrow.compute`` generates a Python wrapper for every kernel (~300 of them):
about 70 ms of CPU, a large share of a one-workspace ``autoscorer score``. These call the
same kernels through ``call_function`` with their default options, which is what the
wrappers do when given no options. Error paths (rare) still use ``pyarrow.compute``.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
from pyarrow._compute import call_function

# Large tables are read into the C library's malloc, not pyarrow's default mimalloc pool:
# glibc hands big blocks back to the system when they are freed, mimalloc keeps them, and
# the peak RSS of a 10M-row string-keyed run was 20% higher with it (same time).
POOL = pa.system_memory_pool()


def min_max(values: Any) -> Any:
    return call_function("min_max", [values])


def minimum(values: Any) -> Any:
    return call_function("min", [values])


def binary_length(values: Any) -> Any:
    return call_function("binary_length", [values])


def all_true(values: Any) -> Any:
    return call_function("all", [values])


def less(left: Any, right: Any) -> Any:
    return call_function("less", [left, right])


def dictionary_encode(values: Any) -> Any:
    return call_function("dictionary_encode", [values], None, POOL)


def take(values: Any, indices: Any) -> Any:
    # not ``values.take(...)``: the method imports ``pyarrow.compute`` on first use
    return call_function("take", [values, indices])
