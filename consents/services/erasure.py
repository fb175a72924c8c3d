"""Erasure (UK GDPR article 17): a family's personal data goes, and what the law needs FiG to keep as
evidence stays in a minimised form.

A coordinator records who asked and when (`erasure_request_record`); the family is closed at once, and after
FIG_ERASURE_REVIEW_DAYS the erasure sweep (`erasures_due`) erases it, unless the request was cancelled with
a reason (a coordinator found a legal duty to keep something, or the person changed their mind). A closed
family whose records reached FIG_CLOSED_FAMILY_KEEP_DAYS is erased by the same function (consents.retention).

What erasing does (`family_erase`, idempotent):
- every photo of the family's children, the family's own uploads and group photos they are tagged in,
  deleted with every blob (photos.services.photo_delete); posts that used them are handled as after a
  withdrawal (a published one opens a takedown);
- consent records keep only the evidence: kind, form version, answers, method, who identified the person
  (by what means), dates and hashes. The typed name, the text shown (it names the child), the signature,
  the scan, the address and the browser go;
- children become "Child 1", "Child 2"… with the family's reference for a surname and 1 January of their
  birth year; carers become "Carer 1"… with no email, phone or account;
- parents' accounts are anonymised and switched off (the audit trail points at them, so the rows stay);
- every free-text column anywhere (FREE_TEXT: the inbox, emails, notes, the audit trail's words…) has the
  family's names, email addresses and phone numbers replaced by "[erased]"; the first names alone are
  replaced in rows that name the family in another way too (they are too common to erase everywhere);
  inbox attachments from those messages and raw webhook deliveries holding the names are deleted;
- the audit trail keeps every event (what happened, when, to which row) with the words redacted, and
  records "family.erased" with counts, never names.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from django.apps import apps
from django.conf import settings
from django.db import models, transaction
from django.db.models import Q, TextField
from django.db.models.functions import Cast
from django.http import HttpRequest
from django.utils import timezone

from consents.errors import ConsentError
from consents.models import Carer, Child, ConsentRecord, ErasureRequest, Family
from consents.names import name_pattern
from consents.services.closure import family_close
from fig_safety.append_only import minimising
from fig_safety.sweeps import claim_and_stamp
from staff.models import AuditEvent, User
from staff.services import audit_record

ERASED = "[erased]"

# Every column outside the family's own rows that can hold words about a family, by model: the erasure
# replaces the family's names, addresses and numbers in each. tests/consents/test_erasure.py checks that
# every text column of every model is here, handled by name in this module (FAMILY_ROWS), or known never to
# hold personal data (NEVER_PERSONAL), so a new column cannot be forgotten.
FREE_TEXT: dict[str, tuple[str, ...]] = {
    "consents.family": ("display_name", "notes", "closed_reason"),
    "consents.erasurerequest": ("asked_by", "cancel_reason"),
    "consents.consentrecord": ("reason",),
    "photos.photo": ("refusal_reason", "deletion_reason", "keep_reason"),
    "social.conversation": (
        "sender_name",
        "text",
        "passed_note",
        "response_text",
        "closed_reason",
        "flagged_names",
    ),
    "social.message": ("text", "earlier_texts", "flagged_names", "sender_name"),
    "social.passon": ("note",),
    "social.conversationnote": ("text",),
    "social.takedown": ("reason", "notes"),
    "social.post": ("text", "review_note"),
    "social.checkdismissal": ("reason",),
    "staff.outboxemail": ("subject", "body", "to"),
    "staff.breachreport": ("description", "people_involved", "outcome", "reportable_reason"),
    "staff.breachaction": ("what",),
    "staff.virtualvisit": ("notes",),
    "staff.auditevent": ("target_repr", "details", "actor_email"),
}
# The family's own rows: rewritten field by field below, not searched.
FAMILY_ROWS: dict[str, tuple[str, ...]] = {
    "consents.child": ("first_name", "last_name"),
    "consents.carer": ("full_name", "email", "phone", "relationship"),
    "consents.consentrecord": ("typed_name", "text_shown", "user_agent", "taken_by"),
    "staff.user": ("email", "full_name"),
}


# Text columns that never hold a family's personal data: codes, states, hashes, ids, blob names (the blobs
# themselves are deleted with their rows), FiG's own words (policy, form versions, saved replies), platform ids.
NEVER_PERSONAL: dict[str, tuple[str, ...]] = {
    "staff.user": ("password",),
    "staff.auditevent": ("action", "target_type", "target_id"),
    "staff.policyversion": ("title", "text", "sha256", "summary_of_changes"),
    "staff.breachreport": ("where", "status", "severity", "reportable_to_ico", "ico_reference"),
    "staff.breachcontact": ("party",),
    "staff.approvedplatform": ("name", "security_notes"),
    "staff.virtualvisit": ("family_reference",),
    "staff.outboxemail": ("last_error", "attachments"),
    "consents.family": ("reference",),
    "consents.consentformversion": ("introduction", "purpose_texts", "closing"),
    "consents.consentrequest": ("status", "nonce"),
    "consents.consentrecord": (
        "kind",
        "method",
        "identified_by",
        "answers",
        "text_sha256",
        "signature_blob",
        "signature_key_id",
        "scan_blob",
        "scan_key_id",
        "scan_content_type",
        "evidence_sha256",
    ),
    "consents.lapsenotice": ("step",),
    "consents.erasurerequest": ("status",),
    "photos.photo": (
        "faces",
        "drawn_faces",
        "unidentifiable_blob",
        "unidentifiable_key_id",
        "unidentifiable_thumbnail_blob",
        "unidentifiable_thumbnail_key_id",
        "status",
        "upload_sha256",
        "taken_at_source",
        "incoming_blob",
        "incoming_key_id",
        "original_blob",
        "original_key_id",
        "thumbnail_blob",
        "thumbnail_key_id",
    ),
    "photos.photoaccess": ("action",),
    "social.conversation": ("platform", "kind", "thread", "sender_id", "permalink", "status", "response_link"),
    "social.message": (
        "platform",
        "platform_id",
        "event",
        "parent_id",
        "reply_to",
        "permalink",
        "story_link",
        "attachments",  # the blobs of a message that named the family are deleted (_drop_attachments)
        "removed_how",
        "link",
        "send_as",
        "sending",
        "send_error",
    ),
    "social.savedreply": ("title", "text"),
    "social.webhookdelivery": ("body",),  # raw deliveries naming the family are deleted (_drop_webhook_bodies)
    "social.takedown": ("status", "how", "removal_requested_how", "removal_error"),
    "social.policyterm": ("category", "term", "kind"),
    "social.post": (
        "channels",
        "photo_versions",
        "status",
        "checklist",
        "published_url",
        "external_id",
    ),
    "social.postchannel": (
        "channel",
        "state",
        "url",
        "external_id",
        "progress",
        "error",
        "takedown_error",
        "taken_down_how",
    ),
    "social.publishimagelink": ("version", "token_hash"),
    "social.checkdismissal": ("check_name",),
}


def _fields_that_exist(label: str, names: Iterable[str]) -> list[str]:
    model = apps.get_model(label)
    known = {f.name for f in model._meta.get_fields()}
    return [name for name in names if name in known]


# --- who the family is, as text ------------------------------------------------------------------


@dataclass
class Identifiers:
    """The strings that identify a family: `strong` ones are replaced wherever they appear (full names,
    surnames, email addresses, phone numbers); `weak` ones (first names alone) only in a row that holds a
    strong one too, or that is about the family (its audit events)."""

    strong: set[str] = field(default_factory=set)
    weak: set[str] = field(default_factory=set)

    def add_name(self, full: str, *, first: str = "", last: str = "") -> None:
        full = " ".join(full.split())
        if len(full) >= 3:
            self.strong.add(full)
        parts = full.split(" ")
        last = last or (parts[-1] if len(parts) > 1 else "")
        first = first or (parts[0] if len(parts) > 1 else full)
        if len(last) >= 3:
            self.strong.add(last)
        if len(first) >= 2:
            self.weak.add(first)

    def add_contact(self, value: str) -> None:
        value = value.strip()
        if len(value) >= 5:
            self.strong.add(value)

    def pattern(self, *, weak: bool) -> re.Pattern[str] | None:
        words = sorted(self.strong | (self.weak if weak else set()), key=len, reverse=True)
        if not words:
            return None
        return re.compile(r"(?<![\w@.-])(?:" + "|".join(_loose(w) for w in words) + r")(?![\w@-])", re.IGNORECASE)


def _loose(word: str) -> str:
    """A regex for `word` that also matches it with other spacing, either apostrophe and its accents typed
    otherwise or left off (consents.names.name_pattern), and a phone number with or without spaces, dashes
    and brackets."""
    if sum(ch.isdigit() for ch in word) >= 7:
        digits = [ch for ch in word if ch.isdigit()]
        return r"[\s()+-]*".join(re.escape(d) for d in digits)
    return r"\s+".join(name_pattern(part) for part in word.split())


def family_identifiers(family: Family) -> Identifiers:
    found = Identifiers()
    if len(display_name := " ".join(family.display_name.split())) >= 3:  # often holds a carer's name
        found.strong.add(display_name)
    for child in family.children.all():
        found.add_name(f"{child.first_name} {child.last_name}", first=child.first_name, last=child.last_name)
    for carer in family.carers.select_related("user"):
        found.add_name(carer.full_name)
        found.add_contact(carer.email)
        found.add_contact(carer.phone)
        if carer.phone:
            digits = "".join(ch for ch in carer.phone if ch.isdigit())
            if digits.startswith("44") and len(digits) > 10:  # +44 7700 … is also written 07700 …
                found.add_contact("0" + digits[2:])
            elif digits.startswith("0"):
                found.add_contact("+44" + digits[1:])
        if carer.user is not None:
            found.add_contact(carer.user.email)
            if carer.user.full_name:
                found.add_name(carer.user.full_name)
    return found


def redact(value: Any, pattern: re.Pattern[str]) -> Any:
    """`value` (text, or JSON made of lists, dicts and text) with every match replaced by ERASED."""
    if isinstance(value, str):
        return pattern.sub(ERASED, value)
    if isinstance(value, list):
        return [redact(item, pattern) for item in value]
    if isinstance(value, dict):
        return {key: redact(item, pattern) for key, item in value.items()}
    return value


# --- requests ------------------------------------------------------------------------------------


def erasure_request_record(
    *, family: Family, asked_by: str, asked_at: datetime, by: User, request: HttpRequest | None = None
) -> ErasureRequest:
    """Record that someone asked for the family's data to be erased; the family closes now, and the
    erasure runs after FIG_ERASURE_REVIEW_DAYS unless cancelled. ConsentError for a family already erased or
    with a request waiting."""
    asked_by = " ".join(asked_by.split())
    if len(asked_by) < 3:
        raise ConsentError("Say who asked (for example: the mother, by phone).")
    now = timezone.now()
    if asked_at > now + timedelta(minutes=5):
        raise ConsentError("When they asked cannot be in the future.")
    with transaction.atomic():
        locked = Family.objects.select_for_update().get(pk=family.pk)
        if locked.erased_at is not None:
            raise ConsentError("This family's data has already been erased.")
        if locked.erasure_requests.filter(status=ErasureRequest.Status.WAITING).exists():
            raise ConsentError("An erasure request for this family is already waiting.")
        erasure = ErasureRequest.objects.create(
            family=locked,
            asked_by=asked_by,
            asked_at=asked_at,
            recorded_by=by,
            recorded_at=now,
            due_at=now + timedelta(days=settings.FIG_ERASURE_REVIEW_DAYS),
        )
        if locked.closed_at is None:
            family_close(family=locked, by=by, reason="Erasure requested.", request=request)
        audit_record(
            action="family.erasure_requested",
            actor=by,
            target=locked,
            request=request,
            details={"erasure": erasure.pk, "due": erasure.due_at.isoformat()},
        )
    return erasure


def erasure_request_cancel(
    *, erasure: ErasureRequest, by: User, reason: str, request: HttpRequest | None = None
) -> ErasureRequest:
    reason = " ".join(reason.split())
    if len(reason) < 5:
        raise ConsentError("Say why the erasure will not go ahead.")
    with transaction.atomic():
        locked = ErasureRequest.objects.select_for_update().get(pk=erasure.pk)
        if locked.status != ErasureRequest.Status.WAITING:
            raise ConsentError("Only a waiting erasure request can be cancelled.")
        locked.status, locked.cancelled_by, locked.cancelled_at = ErasureRequest.Status.CANCELLED, by, timezone.now()
        locked.cancel_reason = reason
        locked.save(update_fields=["status", "cancelled_by", "cancelled_at", "cancel_reason"])
        audit_record(
            action="family.erasure_cancelled",
            actor=by,
            target=locked.family,
            request=request,
            details={"erasure": locked.pk, "reason": reason},
        )
    return locked


def erasures_due(now: datetime | None = None) -> int:
    """The sweep: erase every family whose request's review period is over. Each request is claimed and
    stamped in its own transaction with its family's erasure, so a failure leaves it due for the next run."""
    now = now or timezone.now()
    due = ErasureRequest.objects.filter(status=ErasureRequest.Status.WAITING, due_at__lte=now, erased_at__isnull=True)

    def handle(rows: list[ErasureRequest]) -> None:
        for erasure in rows:
            ErasureRequest.objects.filter(pk=erasure.pk).update(status=ErasureRequest.Status.DONE)
            family_erase(family_id=erasure.family_id, reason=f"Erasure request #{erasure.pk}", now=now)

    return claim_and_stamp(due, stamp="erased_at", now=now, handle=handle, batch=1)


# --- the erasure ---------------------------------------------------------------------------------


def family_erase(*, family_id: int, reason: str, by: User | None = None, now: datetime | None = None) -> bool:
    """Erase one family's personal data, keeping the minimised evidence. False if it was erased already."""
    from photos.hooks import run_photos_deleted_handlers
    from photos.models import Photo
    from photos.services import blobs_delete_after_commit, photo_delete

    now = now or timezone.now()
    with transaction.atomic():
        family = Family.objects.select_for_update().get(pk=family_id)
        if family.erased_at is not None:
            return False
        if family.closed_at is None:
            family_close(family=family, by=None, reason=reason)
            family.refresh_from_db()
        found = family_identifiers(family)
        children = list(family.children.order_by("pk"))
        carers = list(family.carers.select_related("user").order_by("pk"))
        parents = {c.user for c in carers if c.user is not None}

        photo_ids = list(
            Photo.objects.filter(Q(family=family) | Q(tags__child__family=family))
            .exclude(status=Photo.Status.DELETED)
            .values_list("pk", flat=True)
            .distinct()
        )
        for photo_id in photo_ids:
            photo_delete(photo_id=photo_id, reason="The family's data was erased.", by=by)
        # Posts that used them, as after a withdrawal: sent back, or a takedown opened if published.
        effects = run_photos_deleted_handlers(photo_ids)

        blobs: list[str] = []
        with minimising():
            records = _minimise_records(family, blobs)
            _rename_people(family, children, carers)
            accounts = _anonymise_accounts(family, parents)
            emails = _drop_outbox(found)
            redacted = _redact_everywhere(found, family, blobs)
        family.notes, family.erased_at = "", now
        family.save(update_fields=["notes", "erased_at"])
        audit_record(
            action="family.erased",
            actor=by,
            target=family,
            details={
                "reason": reason,
                "photos_deleted": len(photo_ids),
                "posts_affected": len(effects),
                "consent_records_minimised": records,
                "children": len(children),
                "carers": len(carers),
                "accounts_anonymised": accounts,
                "emails_deleted": emails,
                "rows_redacted": redacted,
            },
        )
        blobs_delete_after_commit(blobs)
    return True


def _minimise_records(family: Family, blobs: list[str]) -> int:
    """Consent records keep kind, version, answers, method, dates and hashes; the rest goes."""
    records = ConsentRecord.objects.filter(child__family=family)
    for record in records.exclude(signature_blob="").values_list("signature_blob", flat=True):
        blobs.append(record)
    for record in records.exclude(scan_blob="").values_list("scan_blob", flat=True):
        blobs.append(record)
    return records.update(
        typed_name="",
        text_shown="",
        reason="",
        user_agent="",
        ip_address=None,
        signature_blob="",
        signature_key_id="",
        scan_blob="",
        scan_key_id="",
        scan_content_type="",
    )


def _rename_people(family: Family, children: list[Child], carers: list[Carer]) -> None:
    for number, child in enumerate(children, start=1):
        child.first_name, child.last_name = f"Child {number}", family.reference
        child.date_of_birth = date(child.date_of_birth.year, 1, 1)
        child.save(update_fields=["first_name", "last_name", "date_of_birth"])
    for number, carer in enumerate(carers, start=1):
        carer.full_name, carer.email, carer.phone, carer.user = f"Carer {number}", "", "", None
        carer.save(update_fields=["full_name", "email", "phone", "user"])


def _anonymise_accounts(family: Family, parents: set[User]) -> int:
    """Parents' accounts: no name, no address, no way in. A parent who is also a carer in another family
    that is not erased keeps their account (it still speaks for that family)."""
    from allauth.account.models import EmailAddress
    from allauth.mfa.models import Authenticator
    from allauth.usersessions.models import UserSession

    count = 0
    for user in parents:
        if Carer.objects.filter(user=user, family__erased_at__isnull=True).exclude(family=family).exists():
            continue
        for session in UserSession.objects.filter(user=user):
            session.end()
        UserSession.objects.filter(user=user).delete()
        EmailAddress.objects.filter(user=user).delete()
        Authenticator.objects.filter(user=user).delete()
        user.email, user.full_name, user.is_active = f"erased-{user.pk}@erased.invalid", "", False
        user.set_unusable_password()
        user.save(update_fields=["email", "full_name", "is_active", "password"])
        AuditEvent.objects.filter(actor=user).update(actor_email="", ip_address=None)
        count += 1
    return count


def _redact_everywhere(found: Identifiers, family: Family, blobs: list[str]) -> int:
    """Replace the family's identifiers in every free-text column; returns how many rows changed."""
    strong = found.pattern(weak=False)
    both = found.pattern(weak=True)
    if strong is None or both is None:
        return 0
    changed = 0
    about_family = _audit_about(family)
    for label, names in FREE_TEXT.items():
        model = apps.get_model(label)
        columns = _fields_that_exist(label, names)
        if not columns:
            continue
        candidates = _rows_mentioning(model, columns, found.strong)
        about = set()
        if label == "staff.auditevent":
            about = set(model._base_manager.filter(about_family).values_list("pk", flat=True))
            candidates = candidates | model._base_manager.filter(pk__in=about)
        for row in candidates.distinct():
            values = {column: getattr(row, column) for column in columns}
            # First names alone only where the row names the family some other way too.
            named = row.pk in about or any(redact(v, strong) != v for v in values.values())
            updates = {}
            for column, old in values.items():
                new = redact(old, both if named else strong)
                if new != old:
                    updates[column] = new
            if updates:
                model._base_manager.filter(pk=row.pk).update(**updates)
                changed += 1
                if label == "social.message":
                    blobs.extend(_drop_attachments(row))
    changed += _drop_webhook_bodies(strong)
    return changed


def _drop_outbox(found: Identifiers) -> int:
    """Emails to the family's addresses, sent or not, are deleted: nothing more goes to them."""
    outbox = apps.get_model("staff.outboxemail")
    addresses = {word.lower() for word in found.strong if "@" in word}
    doomed = [
        pk
        for pk, to in outbox.objects.values_list("pk", "to").iterator()
        if addresses & {str(address).strip().lower() for address in (to or [])}
    ]
    outbox.objects.filter(pk__in=doomed).delete()
    return len(doomed)


def _rows_mentioning(model: type[models.Model], columns: list[str], words: Iterable[str]):
    """Rows whose text (JSON read as text) contains any of `words`, case-insensitively: a first cut that the
    regular expression then decides on."""
    annotations = {f"_fig_{c}": Cast(c, TextField()) for c in columns}
    condition = Q()
    for word in words:
        for column in columns:
            condition |= Q(**{f"_fig_{column}__icontains": word.split()[0] if " " in word else word})
    if not condition:
        return model._base_manager.none()
    return model._base_manager.annotate(**annotations).filter(condition)


def _audit_about(family: Family) -> Q:
    """Audit events about the family or a row of it."""
    ids = {
        "consents.family": [family.pk],
        "consents.child": list(family.children.values_list("pk", flat=True)),
        "consents.carer": list(family.carers.values_list("pk", flat=True)),
        "consents.consentrecord": list(ConsentRecord.objects.filter(child__family=family).values_list("pk", flat=True)),
        "consents.consentrequest": list(
            apps.get_model("consents.consentrequest").objects.filter(child__family=family).values_list("pk", flat=True)
        ),
    }
    condition = Q()
    for target_type, pks in ids.items():
        if pks:
            condition |= Q(target_type=target_type, target_id__in=[str(pk) for pk in pks])
    return condition


def _drop_attachments(message) -> list[str]:
    """A message that named the family loses its attachments (photos people sent are theirs too)."""
    attachments = list(message.attachments or [])
    names = [a["blob"] for a in attachments if isinstance(a, dict) and a.get("blob")]
    if names:
        type(message)._base_manager.filter(pk=message.pk).update(attachments=[])
    return names


def _drop_webhook_bodies(pattern: re.Pattern[str]) -> int:
    """Raw deliveries already ingested that hold the family's identifiers are deleted (the messages they
    brought are stored, redacted, on their own)."""
    delivery = apps.get_model("social.webhookdelivery")
    doomed = []
    for pk, body in delivery.objects.filter(ingested_at__isnull=False).values_list("pk", "body").iterator():
        if pattern.search(bytes(body).decode("utf-8", "replace")):
            doomed.append(pk)
    delivery.objects.filter(pk__in=doomed).delete()
    return len(doomed)
