"""Models for the photos app (built by its own issue)."""
