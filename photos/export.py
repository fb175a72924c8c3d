"""A family's subject access export: what FiG holds about one family, in one folder or one zip file.

The processed photos (decrypted), the consent records with the exact text shown and their evidence, the
consent requests sent and answered, each photo's tagged children, the uses it allows now and who looked at
it, the posts that used the family's photos with their channels, the parents' removal requests, the
takedowns of those posts and of messages naming the family, the family's audit events, and a manifest.json
describing it all. `manage.py vault_export` writes it into a folder; a coordinator downloads it as a zip
from the family page. Either way the export is recorded in each photo's access log and in the audit trail
before any byte is read.

Nothing of another family goes in: a group photo's or a post's other children are counted, never named; a
parent of another child is "a parent or carer of another child"; free text written about something another
family shares (a group photo, a post with their photos, a message naming them too) is left out unless one
of this family's coordinators wrote it.

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
from django.db.models import Prefetch, Q
from django.http import HttpRequest
from django.utils import timezone

from consents.models import Carer, Child, ConsentRecord, ConsentRequest, ErasureRequest, Family, LapseNotice
from consents.selectors import consents_for_children, coordinators_of
from fig_safety.vault import VaultError, vault_read
from photos.models import Photo, PhotoAccess, UploadBatch
from photos.selectors import ORIGINAL, in_families, uses_for_photos
from social.models import Conversation, PhotoOnlineHold, Post, Takedown
from staff.models import AuditEvent, User
from staff.roles import is_staff_member
from staff.services import audit_record, client_ip

EXPORT_FORMAT = "fig-safety family export, version 2"
OTHER_PARENT = "A parent or carer of another child"
ANOTHER_CHILD = "another child"
WITHHELD = "Not included: written about something another family shares."


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
    people = _People(family)
    manifest: dict[str, Any] = {
        "format": EXPORT_FORMAT,
        "exported_at": _iso(exported_at),
        "exported_by": by.email if by else None,
        # What FiG calls the family and what its coordinators noted: personal data of the family, so theirs to see.
        "family": {
            "reference": family.reference,
            "name": family.display_name,
            "notes": family.notes,
            "created_at": _iso(family.created_at),
            "closed_at": _iso(family.closed_at),
        },
        "children": [],
        "carers": [_carer(carer) for carer in Carer.objects.filter(family=family).order_by("pk")],
        "consent_records": [],
        "consent_requests": [],
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
    consent_requests = (
        ConsentRequest.objects.filter(child__family=family)
        .select_related("carer", "form_version", "created_by")
        .order_by("created_at", "pk")
    )
    manifest["consent_requests"] = [_consent_request(r, exported_at) for r in consent_requests]

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
        manifest["photos"].append(_photo(photo, uses.get(photo.pk), into, problems, family, coordinators, people))

    # Posts, removal requests and takedowns: what FiG did online with the family's photos, and what it took down.
    own_photos = {photo.pk: photo for photo in photos}
    group_photos = {photo.pk for photo in photos if any(t.child.family_id != family.pk for t in photo.tags.all())}
    posts = _posts_of(own_photos)
    # A post another family shares: it has their photos, or a group photo with their child.
    shared_posts = {
        post.pk: any(p.pk not in own_photos or p.pk in group_photos for p in post.photos.all()) for post in posts
    }
    manifest["posts"] = [_post(post, own_photos, people) for post in posts]
    holds = list(
        PhotoOnlineHold.objects.filter(child__family=family)
        .select_related("photo", "child", "requested_by", "lifted_by")
        .order_by("requested_at", "pk")
    )
    manifest["removal_requests"] = [_hold(hold, people) for hold in holds]
    takedowns = _takedowns_of(family, shared_posts)
    manifest["takedowns"] = [_takedown(t, shared, people, coordinators) for t, shared in takedowns]

    manifest["audit_events"] = _audit_events(
        family=family,
        people=people,
        coordinators=coordinators,
        own_children={c.pk for c in children},
        group_photos=group_photos,
        targets={
            "consents.family": [family.pk],
            "consents.child": [c.pk for c in children],
            "consents.carer": [c["id"] for c in manifest["carers"]],
            "consents.consentrecord": [r["id"] for r in manifest["consent_records"]],
            "consents.consentrequest": [r["id"] for r in manifest["consent_requests"]],
            "consents.lapsenotice": LapseNotice.objects.filter(child__family=family).values_list("pk", flat=True),
            "consents.erasurerequest": ErasureRequest.objects.filter(family=family).values_list("pk", flat=True),
            "photos.photo": list(own_photos),
            "photos.uploadbatch": UploadBatch.objects.filter(family=family).values_list("pk", flat=True),
            "social.photoonlinehold": [hold.pk for hold in holds],
            "social.takedown": [t.pk for t, _shared in takedowns],
            "staff.user": people.carers,
        },
        posts=[post.pk for post in posts],
    )

    manifest["problems"] = problems
    into.write("manifest.json", (json.dumps(manifest, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))
    return FamilyExport(manifest=manifest, problems=problems)


class _People:
    """Who the people in the export are to the family. Members of staff and the family's own carers (their
    accounts, or accounts with their email) are named; anyone else, a parent of another child in a group
    photo or post, is only OTHER_PARENT."""

    def __init__(self, family: Family) -> None:
        carers = list(Carer.objects.filter(family=family).values_list("user_id", "email"))
        accounts = {user_id for user_id, _email in carers if user_id}
        emails = {email.lower() for _user_id, email in carers if email}
        self.carers = set(User.objects.filter(Q(pk__in=accounts) | Q(email__in=emails)).values_list("pk", flat=True))
        self._named: dict[int, bool] = {}

    def named(self, user: User) -> bool:
        if user.pk not in self._named:
            self._named[user.pk] = user.pk in self.carers or is_staff_member(user)
        return self._named[user.pk]

    def email(self, user: User | None) -> str | None:
        if user is None:
            return None
        return user.email if self.named(user) else OTHER_PARENT

    def person(self, user: User | None) -> dict[str, str | None] | None:
        if user is None:
            return None
        if self.named(user):
            return {"name": user.get_full_name(), "email": user.email}
        return {"name": OTHER_PARENT, "email": None}


def _photo(
    photo: Photo,
    uses: frozenset[str] | None,
    into: ExportTarget,
    problems: list[str],
    family: Family,
    coordinators: set[int],
    people: _People,
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
                "user": people.email(a.user),
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


def _consent_request(consent_request: ConsentRequest, now: datetime) -> dict[str, Any]:
    expired = consent_request.status == ConsentRequest.Status.PENDING and consent_request.expires_at <= now
    return {
        "id": consent_request.pk,
        "child": consent_request.child_id,
        "carer": {"id": consent_request.carer_id, "full_name": consent_request.carer.full_name},
        "form_version": consent_request.form_version.number,
        "status": ConsentRequest.Status.EXPIRED.value if expired else consent_request.status,
        "sent_at": _iso(consent_request.created_at),
        "sent_by": consent_request.created_by.email if consent_request.created_by else None,
        "reminder_sent_at": _iso(consent_request.reminder_sent_at),
        "expires_at": _iso(consent_request.expires_at),
        "answered_at": _iso(consent_request.answered_at),
        "renews_consent_record": consent_request.renews_id,
    }


def _posts_of(photos: dict[int, Photo]) -> list[Post]:
    """Every post that used one of the family's photos, drafts included, oldest first."""
    used = Post.photos.through.objects.filter(photo_id__in=list(photos)).values("post_id")
    return list(
        Post.objects.filter(pk__in=used)
        .select_related("author", "reviewed_by", "published_by")
        .prefetch_related(Prefetch("photos", queryset=Photo.objects.only("pk", "public_id")), "deliveries")
        .order_by("created_at", "pk")
    )


def _post(post: Post, photos: dict[int, Photo], people: _People) -> dict[str, Any]:
    theirs = sorted((p for p in post.photos.all() if p.pk in photos), key=lambda p: p.pk)
    deliveries = list(post.deliveries.all())
    down = [d.taken_down_at for d in deliveries if d.taken_down_at]
    return {
        "id": post.pk,
        "status": post.status,
        "text": post.text,
        "created_at": _iso(post.created_at),
        "submitted_at": _iso(post.submitted_at),
        "reviewed_at": _iso(post.reviewed_at),
        "scheduled_for": _iso(post.scheduled_for),
        "published_at": _iso(post.published_at),
        "taken_down_at": _iso(max(down)) if post.status == Post.Status.TAKEN_DOWN and down else None,
        "author": people.email(post.author),
        "reviewed_by": people.email(post.reviewed_by),
        "published_by": people.email(post.published_by),
        "published_url": post.published_url,
        "external_id": post.external_id,
        "channels": [
            {
                "channel": d.channel,
                "state": d.state,
                "by_hand": d.by_hand,
                "url": d.url,
                "external_id": d.external_id,
                "sent_at": _iso(d.sent_at),
                "taken_down_at": _iso(d.taken_down_at),
                "taken_down_how": d.taken_down_how,
            }
            for d in deliveries
        ],
        # Which of the family's photos it used, and which image of each: as taken, or with every face blurred.
        "photos": [{"id": str(p.public_id), "version": post.photo_versions.get(str(p.pk), ORIGINAL)} for p in theirs],
        "photos_of_other_families": len(post.photos.all()) - len(theirs),
    }


def _hold(hold: PhotoOnlineHold, people: _People) -> dict[str, Any]:
    """A parent's removal request that sticks: the photo is not used online for the child until lifted."""
    return {
        "id": hold.pk,
        "photo": str(hold.photo.public_id),
        "child": {"id": hold.child_id, "name": f"{hold.child.first_name} {hold.child.last_name}"},
        "post": hold.post_id,
        "requested_at": _iso(hold.requested_at),
        "requested_by": people.email(hold.requested_by),
        "lifted_at": _iso(hold.lifted_at),
        "lifted_by": people.email(hold.lifted_by),
    }


def _takedowns_of(family: Family, shared_posts: dict[int, bool]) -> list[tuple[Takedown, bool]]:
    """The takedowns of the family's posts and of messages flagged as naming the family, each with whether
    another family shares it (the post shows their photos too, or the message names them too)."""
    flagged = Conversation.objects.filter(flagged_families=family).values("pk")
    rows = list(
        Takedown.objects.filter(Q(post_id__in=list(shared_posts)) | Q(message_id__in=flagged))
        .select_related("message", "item", "requested_by", "opened_by", "removed_by")
        .order_by("opened_at", "pk")
    )
    naming_others = set(
        Conversation.flagged_families.through.objects.filter(
            conversation_id__in={t.message_id for t in rows if t.message_id}
        )
        .exclude(family_id=family.pk)
        .values_list("conversation_id", flat=True)
    )
    return [
        (t, shared_posts.get(t.post_id, False) or (t.message_id is not None and t.message_id in naming_others))
        for t in rows
    ]


def _takedown(takedown: Takedown, shared: bool, people: _People, coordinators: set[int]) -> dict[str, Any]:
    # A message takedown's reason names every family the message names; a post's, when FiG opened it, is a
    # fixed sentence. Staff's own words about something shared are kept only when the family's coordinator
    # wrote them, as for a group photo's keep reason.
    about_post = takedown.message_id is None
    reason_ok = not shared or (about_post and (takedown.opened_by_id is None or takedown.opened_by_id in coordinators))
    notes_ok = not shared or (about_post and (takedown.removed_by_id is None or takedown.removed_by_id in coordinators))
    item = takedown.item
    return {
        "id": takedown.pk,
        "post": takedown.post_id,
        "message": None
        if about_post
        else {
            "platform": takedown.message.platform,
            "kind": takedown.message.kind,
            "at": _iso(item.at) if item else None,
            "permalink": (item.permalink if item else "") or takedown.message.permalink,
            "text": WITHHELD if shared else (item.text if item else takedown.message.text),
            "names_another_family": shared,
            "removed_at": _iso(item.removed_at) if item else None,
        },
        "status": takedown.status,
        "opened_at": _iso(takedown.opened_at),
        "opened_by": people.email(takedown.opened_by),  # None: FiG Safety opened it itself
        "requested_by": people.email(takedown.requested_by),
        "reason": takedown.reason if reason_ok else WITHHELD,
        "due_at": _iso(takedown.due_at),
        "removed_at": _iso(takedown.removed_at),
        "removed_by": people.email(takedown.removed_by),
        "how": takedown.how,
        "notes": takedown.notes if notes_ok else WITHHELD,
    }


# Audit details that hold a child's id, or a list of them, and free text a person wrote.
_CHILD_LISTS = frozenset({"children", "before", "after"})
_FREE_TEXT = frozenset({"reason", "note", "notes", "text", "effects"})


def _audit_events(
    *,
    family: Family,
    people: _People,
    coordinators: set[int],
    own_children: set[int],
    group_photos: set[int],
    targets: dict[str, Any],
    posts: list[int],
) -> list[dict[str, Any]]:
    """The audit events about the family and its rows (`targets`: type -> ids), and the family's parents'
    requests to remove a post, oldest first. Another family's child in the details is ANOTHER_CHILD; free
    text about a group photo is kept only when FiG Safety or one of the family's coordinators wrote it."""
    condition = Q(
        target_type="social.post",
        target_id__in=[str(pk) for pk in posts],
        action="post.removal_requested",
        actor_id__in=people.carers,
    )
    for target_type, ids in targets.items():
        condition |= Q(target_type=target_type, target_id__in=[str(pk) for pk in ids])
    events = AuditEvent.objects.filter(condition).select_related("actor").order_by("occurred_at", "pk")
    found = []
    for event in events:
        shared = (
            event.target_type == "photos.photo"
            and int(event.target_id) in group_photos
            and event.actor_id is not None
            and event.actor_id not in coordinators
        )
        found.append(
            {
                "at": _iso(event.occurred_at),
                "action": event.action,
                "actor": people.person(event.actor),  # None: FiG Safety itself
                "target": {"type": event.target_type, "id": event.target_id, "description": event.target_repr},
                # A parent's own address is theirs; a member of staff's is not the family's data.
                "ip_address": event.ip_address if event.actor_id in people.carers else None,
                "details": _details(event.details, own_children, shared),
            }
        )
    return found


def _details(details: dict[str, Any], own_children: set[int], shared: bool) -> dict[str, Any]:
    def named(child_id: Any) -> Any:
        return child_id if child_id in own_children or not isinstance(child_id, int) else ANOTHER_CHILD

    cleaned = {}
    for key, value in details.items():
        if key == "child":
            value = named(value)
        elif key in _CHILD_LISTS and isinstance(value, list):
            value = [named(v) for v in value]
        elif key in _FREE_TEXT and shared:
            value = WITHHELD
        cleaned[key] = value
    return cleaned
