"""Built-in regression scorers (placeholder until implemented)."""
