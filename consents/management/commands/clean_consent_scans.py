"""python manage.py clean_consent_scans: clean the scanned paper forms stored before scans were cleaned.

Each scan is put through the same cleaning as a new upload (consents.scans) and
written back under its own name: signed consent rows are append-only, so the
row still names the blob, and the audit trail records what was there and what
is there now. Scans already cleaned are left alone, so it is safe to run again.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.db.models import Q

from consents.models import ConsentRecord
from consents.scans import ScanRefused, scan_clean
from fig_safety.vault import VaultError, vault_read, vault_replace
from staff.models import AuditEvent
from staff.services import audit_record

CLEANED = "consent.scan_cleaned"


def _already_cleaned() -> set[int]:
    """Records whose scan the audit trail shows as cleaned: on upload, or by this command."""
    events = AuditEvent.objects.filter(target_type="consents.consentrecord").filter(
        Q(action=CLEANED) | Q(action="consent.recorded_offline", details__has_key="scan_received_sha256")
    )
    return {int(pk) for pk in events.values_list("target_id", flat=True)}


class Command(BaseCommand):
    help = (
        "Clean every scanned paper consent form stored before scans were cleaned (images re-encoded from their "
        "pixels, PDFs rewritten without metadata, scripts, actions or attached files). Safe to run again."
    )

    def handle(self, *args, **options) -> None:
        done = _already_cleaned()
        pending = ConsentRecord.objects.exclude(scan_blob="").exclude(pk__in=done).order_by("pk")
        cleaned, failures = 0, []
        for pk in pending.values_list("pk", flat=True).iterator():
            try:
                cleaned += self._clean(pk)
            except (ScanRefused, VaultError) as exc:
                failures.append(f"consent record {pk}: {exc}")
        self.stdout.write(f"Cleaned {cleaned} scan(s); {len(done)} already clean.")
        if failures:
            for failure in failures:
                self.stderr.write(failure)
            raise CommandError(f"{len(failures)} scan(s) could not be cleaned and are as they were.")

    @staticmethod
    def _clean(pk: int) -> bool:
        # The row lock keeps two runs from cleaning one scan twice; the audit row is written first, so a
        # failed write of the blob leaves neither (the old blob is put back by vault_replace).
        with transaction.atomic():
            record = ConsentRecord.objects.select_for_update().get(pk=pk)
            if AuditEvent.objects.filter(
                action=CLEANED, target_type="consents.consentrecord", target_id=str(pk)
            ).exists():
                return False  # another run cleaned it a moment ago
            clean = scan_clean(
                data=vault_read(name=record.scan_blob, key_id=record.scan_key_id),
                content_type=record.scan_content_type,
            )
            audit_record(
                action=CLEANED,
                target=record,
                details={
                    "content_type": clean.content_type,
                    "was_sha256": clean.received_sha256,
                    "sha256": clean.sha256,
                },
            )
            vault_replace(name=record.scan_blob, key_id=record.scan_key_id, data=clean.data)
        return True
