"""Models for the social app (built by its own issue)."""
