"""Built-in scorers; importing this package registers them."""

from autoscorer.scorers.builtin import classification, detection, regression, segmentation

__all__ = ["classification", "detection", "regression", "segmentation"]
