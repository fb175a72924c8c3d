"""FiG Safety project package: settings, URLs and the Celery app."""

from fig_safety.celery import app as celery_app

__all__ = ["celery_app"]
