"""Models for the consents app (built by its own issue)."""
