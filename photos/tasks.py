"""Celery tasks for the vault: thin wrappers that take ids and call services or sweeps."""

from __future__ import annotations

from celery import shared_task

from photos import sweeps
from photos.services import photo_process


@shared_task(name="photos.tasks.process_photo")
def process_photo(photo_id: int) -> str:
    return photo_process(photo_id=photo_id).status


@shared_task(name="photos.tasks.vault_sweep")
def vault_sweep() -> dict[str, int]:
    return sweeps.vault_sweep()
