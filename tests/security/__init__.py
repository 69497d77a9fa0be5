"""Security tests: one module per attack class, against real engines (issue 11)."""
