"""What the routes do, as plain keyword-only functions (no FastAPI in here)."""
