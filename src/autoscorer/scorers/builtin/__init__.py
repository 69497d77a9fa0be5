"""Built-in scorers; importing this package registers them."""
