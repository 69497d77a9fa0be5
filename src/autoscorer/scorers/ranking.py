"""Rank (S/A/B/C/D/F) and pass/fail from the primary metric.

Thresholds are minimum scores for higher-is-better metrics and maximum scores
for lower-is-better ones. A scorer may declare defaults; ``meta.json``'s
``thresholds`` overrides them. Without thresholds, rank and pass are None.
"""

from __future__ import annotations

import math

from autoscorer.errors import InvalidParameter

RANKS = ("S", "A", "B", "C", "D")
DEFAULT_THRESHOLDS: dict[str, float] = {
    "S": 0.95,
    "A": 0.85,
    "B": 0.70,
    "C": 0.55,
    "D": 0.40,
    "pass": 0.60,
}


def _beats(score: float, limit: float, higher_is_better: bool) -> bool:
    return score >= limit if higher_is_better else score <= limit


def rank_and_pass(
    score: float | None, thresholds: dict[str, float] | None, higher_is_better: bool
) -> tuple[str | None, bool | None]:
    """``("A", True)`` etc.; ``(None, None)`` when there is no score or no thresholds."""
    if score is None or not thresholds or (isinstance(score, float) and math.isnan(score)):
        return None, None
    unknown = set(thresholds) - set(RANKS) - {"pass"}
    if unknown:
        raise InvalidParameter(
            f"unknown threshold key(s) {sorted(unknown)}; use {list(RANKS)} and 'pass'",
            field="thresholds",
        )
    rank: str | None = None
    if any(k in thresholds for k in RANKS):
        rank = "F"
        for name in RANKS:
            if name in thresholds and _beats(score, thresholds[name], higher_is_better):
                rank = name
                break
    passed = _beats(score, thresholds["pass"], higher_is_better) if "pass" in thresholds else None
    return rank, passed
