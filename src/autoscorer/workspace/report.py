"""The findings of ``validate``, rendered as the contract's response data."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CHECKS = ("structure", "data_format", "configuration")


@dataclass
class Report:
    """Accumulates findings; :meth:`finish` renders the contract's response data."""

    root: Path
    details: dict[str, dict[str, Any]] = field(default_factory=lambda: {c: {} for c in CHECKS})
    failed: set[str] = field(default_factory=set)
    errors: list[str] = field(default_factory=list)
    warnings: list[tuple[str, str]] = field(default_factory=list)
    suggestions: list[str] = field(default_factory=list)
    fixed: list[str] = field(default_factory=list)

    def error(self, check: str, message: str) -> None:
        self.failed.add(check)
        self.errors.append(message)

    def warn(self, check: str, message: str) -> None:
        self.warnings.append((check, message))

    def suggest(self, message: str) -> None:
        if message not in self.suggestions:
            self.suggestions.append(message)

    def finish(self, *, strict: bool, auto_fix: bool) -> dict[str, Any]:
        failed, errors = set(self.failed), list(self.errors)
        warnings = [msg for _, msg in self.warnings]
        if strict:
            failed |= {check for check, _ in self.warnings}
            errors += warnings
            warnings = []
        out: dict[str, Any] = {
            "workspace_path": str(self.root),
            "validation_status": "invalid" if failed else "valid",
            "checks": {
                c: {"status": "invalid" if c in failed else "valid", "details": self.details[c]}
                for c in CHECKS
            },
            "warnings": warnings,
            "errors": errors,
            "suggestions": self.suggestions,
        }
        if auto_fix:
            out["fixed"] = self.fixed
        return out
