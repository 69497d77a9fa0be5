"""Rank and pass thresholds."""

from __future__ import annotations

import math

import pytest

from autoscorer.errors import InvalidParameter
from autoscorer.scorers.ranking import DEFAULT_THRESHOLDS, rank_and_pass


@pytest.mark.parametrize(
    ("score", "rank", "passed"),
    [
        (1.0, "S", True),
        (0.95, "S", True),
        (0.9, "A", True),
        (0.7, "B", True),
        (0.6, "C", True),
        (0.59, "C", False),
        (0.4, "D", False),
        (0.1, "F", False),
    ],
)
def test_default_thresholds_higher_is_better(score: float, rank: str, passed: bool) -> None:
    assert rank_and_pass(score, DEFAULT_THRESHOLDS, True) == (rank, passed)


def test_lower_is_better_uses_maximums() -> None:
    th = {"S": 0.1, "A": 0.2, "B": 0.5, "pass": 0.5}
    assert rank_and_pass(0.05, th, False) == ("S", True)
    assert rank_and_pass(0.3, th, False) == ("B", True)
    assert rank_and_pass(0.9, th, False) == ("F", False)


def test_no_thresholds_or_no_score_gives_none() -> None:
    assert rank_and_pass(0.5, None, True) == (None, None)
    assert rank_and_pass(None, DEFAULT_THRESHOLDS, True) == (None, None)
    assert rank_and_pass(math.nan, DEFAULT_THRESHOLDS, True) == (None, None)


def test_pass_only() -> None:
    assert rank_and_pass(0.7, {"pass": 0.8}, True) == (None, False)


def test_unknown_key_is_rejected() -> None:
    with pytest.raises(InvalidParameter, match="unknown threshold"):
        rank_and_pass(0.5, {"Z": 0.1}, True)
