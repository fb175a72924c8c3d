"""Celery tasks for consents: thin wrappers around the sweeps."""

from __future__ import annotations

from celery import shared_task

from consents.retention import retention_sweep as _retention_sweep
from consents.sweeps import consent_sweep as _consent_sweep


@shared_task(name="consents.tasks.consent_sweep")
def consent_sweep() -> dict[str, int]:
    return _consent_sweep()


@shared_task(name="consents.tasks.retention_sweep")
def retention_sweep() -> dict[str, int]:
    """Delete or minimise what is past its retention period, and carry out erasures past their review."""
    return _retention_sweep()
