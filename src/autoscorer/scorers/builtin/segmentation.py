"""Built-in segmentation scorers (placeholder until implemented)."""
