"""python manage.py vault_rotate_key: re-seal every vault blob with the newest key in FIG_VAULT_KEYS.

Run after putting a new key first in FIG_VAULT_KEYS (keeping the old ones after
it). When it reports no failure, the old keys can be removed.
"""

from __future__ import annotations

from collections import Counter

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.db.models import Q

from consents.models import ConsentRecord
from fig_safety.vault import VaultError, current_key_id, vault_reseal_blob
from photos.models import Photo
from staff.services import audit_record

PHOTO_BLOBS = (
    ("original", "original_blob", "original_key_id"),
    ("thumbnail", "thumbnail_blob", "thumbnail_key_id"),
    ("incoming", "incoming_blob", "incoming_key_id"),
)
CONSENT_BLOBS = (
    ("signature", "signature_blob", "signature_key_id"),
    ("scan", "scan_blob", "scan_key_id"),
)
LABELS = ("original", "thumbnail", "incoming", "signature", "scan")


class Command(BaseCommand):
    help = (
        "Re-encrypt every photo, thumbnail, consent signature and scan in the vault with the newest key "
        "(the first in FIG_VAULT_KEYS). Safe to run again: blobs already on that key are left alone."
    )

    def handle(self, *args, **options) -> None:
        try:
            target = current_key_id()
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc)) from exc
        self.resealed: Counter[str] = Counter()
        self.current: Counter[str] = Counter()
        self.failures: list[str] = []

        photo_ids = Photo.objects.exclude(original_blob="", thumbnail_blob="", incoming_blob="").values_list(
            "pk", flat=True
        )
        for photo_id in photo_ids.iterator():
            self._rotate_photo(photo_id)

        # Signed consent rows are append-only: their key-id columns keep the key they were signed
        # under, and the blob's own header names the key that opens it now (see fig_safety.vault).
        records = ConsentRecord.objects.filter(~Q(signature_blob="") | ~Q(scan_blob="")).values_list(
            "pk", "signature_blob", "signature_key_id", "scan_blob", "scan_key_id"
        )
        for pk, signature, signature_key, scan, scan_key in records.iterator():
            for label, name, key_id in (("signature", signature, signature_key), ("scan", scan, scan_key)):
                if name:
                    self._reseal(f"consent record {pk} {label}", label, name, key_id)

        audit_record(
            action="vault.key_rotated",
            details={
                "key": target,
                "resealed": dict(self.resealed),
                "already_current": dict(self.current),
                "failures": len(self.failures),
            },
        )
        for label in LABELS:
            self.stdout.write(
                f"{label + 's':<11} re-sealed: {self.resealed[label]:>6}   already on {target}: {self.current[label]:>6}"
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

    def _rotate_photo(self, photo_id: int) -> None:
        # Under the photo's row lock, so processing or deletion cannot run alongside.
        with transaction.atomic():
            photo = Photo.objects.select_for_update().filter(pk=photo_id).first()
            if photo is None:
                return
            changed = []
            for label, blob_field, key_field in PHOTO_BLOBS:
                name, key_id = getattr(photo, blob_field), getattr(photo, key_field)
                now_on = self._reseal(f"photo {photo.public_id} {label}", label, name, key_id) if name else None
                if now_on is not None and now_on != key_id:
                    setattr(photo, key_field, now_on)
                    changed.append(key_field)
            if changed:
                photo.save(update_fields=changed)

    def _reseal(self, what: str, label: str, name: str, key_id: str) -> str | None:
        try:
            now_on, rewritten = vault_reseal_blob(name=name, key_id=key_id)
        except VaultError as exc:
            self.failures.append(f"{what}: {exc}")
            return None
        (self.resealed if rewritten else self.current)[label] += 1
        return now_on
