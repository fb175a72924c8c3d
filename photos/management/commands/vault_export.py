"""python manage.py vault_export: one family's photos, consents with their evidence, and access logs.

What a subject access request needs: the processed photos (decrypted), the signed
consent records with the exact text shown and their evidence, each photo's tagged
children, the uses it allows now and who looked at it. The export itself is
recorded in each photo's access log and in the audit trail.
"""

from __future__ import annotations

import hashlib
import json
import mimetypes
from datetime import date, datetime
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.db.models import Prefetch
from django.utils import timezone

from consents.models import Carer, Child, ConsentRecord, Family
from consents.selectors import consents_for_children, coordinators_of
from fig_safety.vault import VaultError, vault_read
from photos.models import Photo, PhotoAccess
from photos.selectors import in_families, uses_for_photos
from staff.models import User
from staff.services import audit_record


def _iso(value: datetime | date | None) -> str | None:
    """A time or day as the manifest records it: ISO 8601, for machines (fig_safety.times.when is for people)."""
    return value.isoformat() if value is not None else None


class Command(BaseCommand):
    help = (
        "Export one family's photos (decrypted, processed JPEGs), consent records with their evidence, "
        "each photo's allowed uses and access log into DIR, with a manifest.json. For subject access requests."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--family", required=True, metavar="REF", help="The family's reference.")
        parser.add_argument(
            "--out", required=True, type=Path, metavar="DIR", help="A new or empty folder to write the export into."
        )
        parser.add_argument(
            "--by", metavar="EMAIL", default="", help="The member of staff the export is made by, for the access log."
        )

    def handle(self, *args, family: str, out: Path, by: str, **options) -> None:
        the_family = Family.objects.filter(reference__iexact=family.strip()).first()
        if the_family is None:
            raise CommandError(f"There is no family with the reference {family!r}.")
        user = None
        if by:
            user = User.objects.filter(email__iexact=by.strip(), is_active=True).first()
            if user is None:
                raise CommandError(f"There is no active user with the email {by!r}.")
        if out.exists() and (not out.is_dir() or any(out.iterdir())):
            raise CommandError(f"{out} already exists and is not an empty folder; choose a new one.")
        try:
            (out / "photos").mkdir(parents=True, mode=0o700, exist_ok=True)
            (out / "unidentifiable").mkdir(mode=0o700, exist_ok=True)
            (out / "consents").mkdir(mode=0o700, exist_ok=True)
            out.chmod(0o700)
        except OSError as exc:
            raise CommandError(f"Cannot create {out}: {exc.strerror or exc}") from exc

        exported_at = timezone.now()
        # A group photo belongs to the family of every child tagged in it (in_families): each family's export has it.
        theirs = in_families([the_family.pk])
        ready = list(Photo.objects.filter(theirs, status=Photo.Status.READY).values_list("pk", flat=True))
        with transaction.atomic():
            # Recorded before any byte is read: an export that fails half-way has still looked.
            PhotoAccess.objects.bulk_create(
                [PhotoAccess(photo_id=pk, user=user, action=PhotoAccess.Action.EXPORT, at=exported_at) for pk in ready]
            )
            audit_record(
                action="family.exported",
                actor=user,
                target=the_family,
                details={"photos": len(ready), "out": str(out.resolve())},
            )

        problems: list[str] = []
        manifest = {
            "format": "fig-safety family export, version 1",
            "exported_at": _iso(exported_at),
            "exported_by": user.email if user else None,
            "family": {"reference": the_family.reference, "created_at": _iso(the_family.created_at)},
            "children": [],
            "carers": [_carer(carer) for carer in Carer.objects.filter(family=the_family).order_by("pk")],
            "consent_records": [],
            "photos": [],
        }
        children = list(Child.objects.filter(family=the_family).order_by("pk"))
        positions = consents_for_children([c.pk for c in children])
        for child in children:
            manifest["children"].append(
                {
                    "id": child.pk,
                    "first_name": child.first_name,
                    "last_name": child.last_name,
                    "date_of_birth": _iso(child.date_of_birth),
                    "consent_now": positions[child.pk].states,
                }
            )
        records = (
            ConsentRecord.objects.filter(child__family=the_family)
            .select_related("carer", "form_version", "recorded_by")
            .order_by("signed_at", "pk")
        )
        for record in records:
            manifest["consent_records"].append(self._consent(record, out, problems))

        photos = list(
            Photo.objects.filter(theirs)
            .exclude(status=Photo.Status.REFUSED)
            .select_related("uploaded_by", "marked_unidentifiable_by")
            .prefetch_related(
                "tags__child",
                Prefetch("accesses", queryset=PhotoAccess.objects.select_related("user").order_by("at", "pk")),
            )
            .order_by("uploaded_at", "pk")
        )
        uses = uses_for_photos([p for p in photos if p.status == Photo.Status.READY])
        coordinators = set(coordinators_of(the_family).values_list("pk", flat=True))
        for photo in photos:
            manifest["photos"].append(self._photo(photo, uses.get(photo.pk), out, problems, the_family, coordinators))

        manifest["problems"] = problems
        manifest_path = out / "manifest.json"
        manifest_path.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        manifest_path.chmod(0o600)

        written = sum(1 for p in manifest["photos"] if p["file"])
        self.stdout.write(
            f"Exported family {the_family.reference} to {out}: {written} photo(s), "
            f"{len(manifest['consent_records'])} consent record(s), manifest.json."
        )
        if problems:
            for problem in problems:
                self.stderr.write(problem)
            raise CommandError(f"The export is incomplete: {len(problems)} file(s) could not be read from the vault.")

    def _photo(
        self,
        photo: Photo,
        uses: frozenset[str] | None,
        out: Path,
        problems: list[str],
        family: Family,
        coordinators: set[int],
    ) -> dict[str, Any]:
        file = blurred = None
        if photo.status == Photo.Status.READY:
            file = self._write(
                out,
                f"photos/{photo.public_id}.jpg",
                photo.original_blob,
                photo.original_key_id,
                problems,
                f"photo {photo.public_id}",
            )
            if photo.unidentifiable_blob:
                blurred = self._write(
                    out,
                    f"unidentifiable/{photo.public_id}.jpg",
                    photo.unidentifiable_blob,
                    photo.unidentifiable_key_id,
                    problems,
                    f"photo {photo.public_id} unidentifiable version",
                )
        return {
            "id": str(photo.public_id),
            "file": file["path"] if file else None,
            "sha256": file["sha256"] if file else None,
            "faces_found": len(photo.faces),
            "faces_drawn": len(photo.drawn_faces),
            "face_boxes": photo.face_boxes,
            "faces_checked_at": _iso(photo.faces_checked_at),
            "blurred_only": photo.blurred_only,
            "unidentifiable_file": blurred["path"] if blurred else None,
            "unidentifiable_sha256": blurred["sha256"] if blurred else None,
            "unidentifiable_confirmed_by": (
                photo.marked_unidentifiable_by.email if photo.marked_unidentifiable_by else None
            ),
            "unidentifiable_confirmed_at": _iso(photo.marked_unidentifiable_at),
            "status": photo.status,
            "uploaded_at": _iso(photo.uploaded_at),
            "uploaded_by": photo.uploaded_by.email,
            "taken_at": _iso(photo.taken_at),
            "width": photo.width,
            "height": photo.height,
            "upload_sha256": photo.upload_sha256,
            "no_child_identifiable": photo.no_child_identifiable,
            # This family's children by name; a group photo's children of other families only counted.
            "tagged_children": [
                {
                    "id": tag.child_id,
                    "name": f"{tag.child.first_name} {tag.child.last_name}",
                    "tagged_at": _iso(tag.tagged_at),
                }
                for tag in sorted(photo.tags.all(), key=lambda t: t.child_id)
                if tag.child.family_id == family.pk
            ],
            "children_of_other_families": sum(1 for tag in photo.tags.all() if tag.child.family_id != family.pk),
            "allowed_uses_now": sorted(uses) if uses is not None else [],
            "device_deleted_at": _iso(photo.device_deleted_at),
            "deletion_due_at": _iso(photo.deletion_due_at),
            "deleted_at": _iso(photo.deleted_at),
            "deletion_reason": photo.deletion_reason,
            # Free text another family's coordinator wrote about a group photo may name their child: not here.
            "keep_reason": photo.keep_reason
            if not photo.keep_reason or photo.keep_recorded_by_id in coordinators
            else "Recorded by a coordinator of another family in this group photo.",
            "access_log": [
                {
                    "at": _iso(a.at),
                    "action": a.action,
                    "user": a.user.email if a.user else None,
                    "ip_address": a.ip_address,
                }
                for a in photo.accesses.all()
            ],
        }

    def _consent(self, record: ConsentRecord, out: Path, problems: list[str]) -> dict[str, Any]:
        signature = scan = None
        if record.signature_blob:
            signature = self._write(
                out,
                f"consents/{record.pk}-signature.png",
                record.signature_blob,
                record.signature_key_id,
                problems,
                f"consent record {record.pk} signature",
            )
        if record.scan_blob:
            extension = mimetypes.guess_extension(record.scan_content_type or "") or ".bin"
            scan = self._write(
                out,
                f"consents/{record.pk}-scan{extension}",
                record.scan_blob,
                record.scan_key_id,
                problems,
                f"consent record {record.pk} scan",
            )
        return {
            "id": record.pk,
            "child": record.child_id,
            "carer": {"id": record.carer_id, "full_name": record.carer.full_name},
            "kind": record.kind,
            "method": record.method,
            "identified_by": record.identified_by,
            "answers": record.answers,
            "signed_at": _iso(record.signed_at),
            "typed_name": record.typed_name,
            "confirmed_parental_responsibility": record.confirmed_parental_responsibility,
            "form_version": record.form_version.number if record.form_version else None,
            "request": record.request_id,
            "text_shown": record.text_shown,
            "text_sha256": record.text_sha256,
            "evidence_sha256": record.evidence_sha256,
            "ip_address": record.ip_address,
            "user_agent": record.user_agent,
            "taken_by": record.taken_by,
            "recorded_by": record.recorded_by.email if record.recorded_by else None,
            "reason": record.reason,
            "signature": signature,
            "scan": scan,
        }

    @staticmethod
    def _write(out: Path, relative: str, name: str, key_id: str, problems: list[str], what: str) -> dict | None:
        try:
            data = vault_read(name=name, key_id=key_id)
        except VaultError as exc:
            problems.append(f"{what}: {exc}")
            return None
        path = out / relative
        path.write_bytes(data)
        path.chmod(0o600)
        return {"path": relative, "sha256": hashlib.sha256(data).hexdigest()}


def _carer(carer: Carer) -> dict[str, Any]:
    return {
        "id": carer.pk,
        "full_name": carer.full_name,
        "relationship": carer.relationship,
        "email": carer.email,
        "phone": carer.phone,
        "has_parental_responsibility": carer.has_parental_responsibility,
    }
