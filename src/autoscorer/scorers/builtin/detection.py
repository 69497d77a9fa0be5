"""Built-in detection scorers (placeholder until implemented)."""
