"""python manage.py vault_rotate_key: re-seal every vault blob with the newest key in FIG_VAULT_KEYS.

Run after putting a new key first in FIG_VAULT_KEYS (keeping the old ones after
it). When it reports no failure, the old keys can be removed. The blobs are the
ones a backup copies (fig_safety.vault_references), so none is left behind.
"""

from __future__ import annotations

from collections import Counter

from django.apps import apps
from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError
from django.db import models, transaction

from fig_safety.append_only import AppendOnlyModel
from fig_safety.vault import VaultError, current_key_id, vault_reseal_blob
from fig_safety.vault_references import BLOB_FIELDS, BLOB_LISTS, BlobReference, listed_blobs, vault_references
from staff.services import audit_record

# Every kind of blob, in the order they are reported ("original", …, "attachment").
KINDS = tuple(
    dict.fromkeys(
        [blob_field.removesuffix("_blob") for _label, blob_field, _key in BLOB_FIELDS]
        + [kind for _label, _field, kind in BLOB_LISTS]
    )
)
# How a kind reads in the report where adding an "s" would not do.
PLURALS = {"unidentifiable": "unidentifiable versions"}


class Command(BaseCommand):
    help = (
        "Re-encrypt every blob in the vault (photos, their thumbnails and blurred versions, consent signatures "
        "and scans, inbox attachments) with the newest key (the first in FIG_VAULT_KEYS). Safe to run again: "
        "blobs already on that key are left alone."
    )

    def handle(self, *args, **options) -> None:
        try:
            target = current_key_id()
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc)) from exc
        self.resealed: Counter[str] = Counter()
        self.current: Counter[str] = Counter()
        self.failures: list[str] = []

        for reference in vault_references():
            self._rotate(reference)

        audit_record(
            action="vault.key_rotated",
            details={
                "key": target,
                "resealed": dict(self.resealed),
                "already_current": dict(self.current),
                "failures": len(self.failures),
            },
        )
        for kind in KINDS:
            plural = PLURALS.get(kind, kind.replace("_", " ") + "s")
            self.stdout.write(
                f"{plural:<11} re-sealed: {self.resealed[kind]:>6}   already on {target}: {self.current[kind]:>6}"
            )
        self.stdout.write(
            f"Re-sealed {sum(self.resealed.values())} blob(s) with key {target}; "
            f"{sum(self.current.values())} were already on it."
        )
        if self.failures:
            for failure in self.failures:
                self.stderr.write(failure)
            raise CommandError(
                f"{len(self.failures)} blob(s) could not be re-sealed and are still on their old key: "
                "keep the old key in FIG_VAULT_KEYS."
            )

    def _rotate(self, reference: BlobReference) -> None:
        model = apps.get_model(reference.model)
        if issubclass(model, AppendOnlyModel):
            # Signed consent rows are append-only: their key-id columns keep the key they were signed
            # under, and the blob's own header names the key that opens it now (see fig_safety.vault).
            self._reseal(self._describe(model, reference), reference.kind, reference.name, reference.key_id)
            return
        # Under the row's lock, so processing, deletion or an attachment fetch cannot run alongside; what
        # the row names now is what is re-sealed, and the row records the key it is on.
        with transaction.atomic():
            row = model._base_manager.select_for_update().filter(pk=reference.pk).first()
            if row is None:  # deleted meanwhile, and its blobs with it
                return
            what = self._describe(model, reference, row)
            if reference.key_field:
                name, key_id = getattr(row, reference.field), getattr(row, reference.key_field)
                now_on = self._reseal(what, reference.kind, name, key_id) if name else None
                if now_on is not None and now_on != key_id:
                    setattr(row, reference.key_field, now_on)
                    row.save(update_fields=[reference.key_field])
                return
            entries = getattr(row, reference.field)
            entry = next((entry for _index, entry in listed_blobs(entries) if entry["blob"] == reference.name), None)
            if entry is None:
                return
            key_id = entry.get("key_id", "")
            now_on = self._reseal(what, reference.kind, reference.name, key_id)
            if now_on is not None and now_on != key_id:
                entry["key_id"] = now_on
                row.save(update_fields=[reference.field])

    @staticmethod
    def _describe(model: type[models.Model], reference: BlobReference, row: models.Model | None = None) -> str:
        """Which blob failed, as staff would find it: "photo <public id> original", "message 7 attachment 0"."""
        ident = getattr(row, "public_id", reference.pk)
        index = "" if reference.index is None else f" {reference.index}"
        return f"{model._meta.verbose_name} {ident} {reference.kind.replace('_', ' ')}{index}"

    def _reseal(self, what: str, kind: str, name: str, key_id: str) -> str | None:
        try:
            now_on, rewritten = vault_reseal_blob(name=name, key_id=key_id)
        except VaultError as exc:
            self.failures.append(f"{what}: {exc}")
            return None
        (self.resealed if rewritten else self.current)[kind] += 1
        return now_on
