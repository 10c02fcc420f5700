"""CLI commands (placeholder, being built)."""
