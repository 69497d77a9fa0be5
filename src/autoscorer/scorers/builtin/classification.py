"""Built-in classification scorers (placeholder until implemented)."""
