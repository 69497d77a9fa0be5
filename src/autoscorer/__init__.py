"""AutoScorer: sandboxed inference and exact scoring for ML competitions."""

__version__ = "0.1.0"

__all__ = ["__version__"]
