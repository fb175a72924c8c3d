"""A family's subject access export: what FiG holds about one family, in one folder or one zip file.

The processed photos (decrypted), the consent records with the exact text shown and their evidence, each
photo's tagged children, the uses it allows now and who looked at it, and a manifest.json describing it
all. `manage.py vault_export` writes it into a folder; a coordinator downloads it as a zip from the family
page. Either way the export is recorded in each photo's access log and in the audit trail before any byte
is read.

To add something to the export: add a key to the manifest in `family_export` (a small function per
section, like `_carer`), and write its files through `into.write(relative_path, data)`.
"""

from __future__ import annotations

import hashlib
import json
import mimetypes
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Protocol

from django.db import transaction
from django.db.models import Prefetch
from django.http import HttpRequest
from django.utils import timezone

from consents.models import Carer, Child, ConsentRecord, Family
from consents.selectors import consents_for_children, coordinators_of
from fig_safety.vault import VaultError, vault_read
from photos.models import Photo, PhotoAccess
from photos.selectors import in_families, uses_for_photos
from staff.models import User
from staff.services import audit_record, client_ip

EXPORT_FORMAT = "fig-safety family export, version 1"


class ExportTarget(Protocol):
    """Where the export's files go: `relative` is a path like "photos/<id>.jpg"."""

    def write(self, relative: str, data: bytes) -> None: ...


class FolderTarget:
    """Files in a folder only their owner can read (the folder itself is prepared by the caller)."""

    def __init__(self, out: Path) -> None:
        self.out = out

    def write(self, relative: str, data: bytes) -> None:
        path = self.out / relative
        if not path.parent.exists():
            path.parent.mkdir(parents=True, mode=0o700)
        path.write_bytes(data)
        path.chmod(0o600)


class ZipTarget:
    """Files in an open zip file. Photos, signatures and scans are compressed already: stored as they are."""

    _COMPRESSED = (".jpg", ".jpeg", ".png", ".pdf", ".webp")

    def __init__(self, archive: zipfile.ZipFile) -> None:
        self.archive = archive

    def write(self, relative: str, data: bytes) -> None:
        stored = relative.lower().endswith(self._COMPRESSED)
        self.archive.writestr(relative, data, compress_type=zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED)


@dataclass
class FamilyExport:
    manifest: dict[str, Any]
    problems: list[str] = field(default_factory=list)

    @property
    def photos_written(self) -> int:
        return sum(1 for p in self.manifest["photos"] if p["file"])


def _iso(value: datetime | date | None) -> str | None:
    """A time or day as the manifest records it: ISO 8601, for machines (fig_safety.times.when is for people)."""
    return value.isoformat() if value is not None else None


def family_export(
    *, family: Family, into: ExportTarget, by: User | None, where: str, request: HttpRequest | None = None
) -> FamilyExport:
    """Write everything FiG holds about `family` into `into`, manifest.json last. `where` says where the export
    went, for the audit trail (a folder, or a download). Files the vault cannot read are listed in the
    manifest's "problems" (and in the result's), not raised: the rest of the export is still written."""
    exported_at = timezone.now()
    # A group photo belongs to the family of every child tagged in it (in_families): each family's export has it.
    theirs = in_families([family.pk])
    ready = list(Photo.objects.filter(theirs, status=Photo.Status.READY).values_list("pk", flat=True))
    ip_address = client_ip(request)
    with transaction.atomic():
        # Recorded before any byte is read: an export that fails half-way has still looked.
        PhotoAccess.objects.bulk_create(
            [
                PhotoAccess(
                    photo_id=pk, user=by, action=PhotoAccess.Action.EXPORT, at=exported_at, ip_address=ip_address
                )
                for pk in ready
            ]
        )
        audit_record(
            action="family.exported",
            actor=by,
            target=family,
            request=request,
            details={"photos": len(ready), "out": where},
        )

    problems: list[str] = []
    manifest: dict[str, Any] = {
        "format": EXPORT_FORMAT,
        "exported_at": _iso(exported_at),
        "exported_by": by.email if by else None,
        "family": {"reference": family.reference, "created_at": _iso(family.created_at)},
        "children": [],
        "carers": [_carer(carer) for carer in Carer.objects.filter(family=family).order_by("pk")],
        "consent_records": [],
        "photos": [],
    }
    children = list(Child.objects.filter(family=family).order_by("pk"))
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
        ConsentRecord.objects.filter(child__family=family)
        .select_related("carer", "form_version", "recorded_by")
        .order_by("signed_at", "pk")
    )
    for record in records:
        manifest["consent_records"].append(_consent(record, into, problems))

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
    coordinators = set(coordinators_of(family).values_list("pk", flat=True))
    for photo in photos:
        manifest["photos"].append(_photo(photo, uses.get(photo.pk), into, problems, family, coordinators))

    manifest["problems"] = problems
    into.write("manifest.json", (json.dumps(manifest, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))
    return FamilyExport(manifest=manifest, problems=problems)


def _photo(
    photo: Photo,
    uses: frozenset[str] | None,
    into: ExportTarget,
    problems: list[str],
    family: Family,
    coordinators: set[int],
) -> dict[str, Any]:
    file = blurred = None
    if photo.status == Photo.Status.READY:
        file = _write(
            into,
            f"photos/{photo.public_id}.jpg",
            photo.original_blob,
            photo.original_key_id,
            problems,
            f"photo {photo.public_id}",
        )
        if photo.unidentifiable_blob:
            blurred = _write(
                into,
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


def _consent(record: ConsentRecord, into: ExportTarget, problems: list[str]) -> dict[str, Any]:
    signature = scan = None
    if record.signature_blob:
        signature = _write(
            into,
            f"consents/{record.pk}-signature.png",
            record.signature_blob,
            record.signature_key_id,
            problems,
            f"consent record {record.pk} signature",
        )
    if record.scan_blob:
        extension = mimetypes.guess_extension(record.scan_content_type or "") or ".bin"
        scan = _write(
            into,
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


def _write(
    into: ExportTarget, relative: str, name: str, key_id: str, problems: list[str], what: str
) -> dict[str, str] | None:
    try:
        data = vault_read(name=name, key_id=key_id)
    except VaultError as exc:
        problems.append(f"{what}: {exc}")
        return None
    into.write(relative, data)
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
