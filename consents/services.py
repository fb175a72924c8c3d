"""Writes for consents: families, requests, signing, offline consents and withdrawals.

Every write records an audit event in the same transaction; emails go after commit.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac
from guardian.shortcuts import assign_perm, remove_perm
from PIL import Image, UnidentifiedImageError

from consents.formtext import (
    DEFAULT_INTRODUCTION,
    DEFAULT_PURPOSE_TEXTS,
    closing_problem,
    default_closing,
    render_form_text,
)
from consents.hooks import run_withdrawal_handlers
from consents.models import (
    PURPOSES,
    Carer,
    Child,
    ConsentFormVersion,
    ConsentRecord,
    ConsentRequest,
    Family,
    Purpose,
)
from consents.selectors import consents_for_children
from fig_safety.vault import blobs_removed_on_failure, vault_save
from staff.models import User
from staff.notifications import notify
from staff.services import audit_record, client_ip, parent_user_get_or_create

LINK_SALT = "consents.request-link"
DOUBLE_SUBMIT_WINDOW = timedelta(minutes=10)
NOBODY_TO_ASK = "Nobody in this family holds parental responsibility and has an email address."


class ConsentError(Exception):
    """A consent action that cannot go ahead; the message is for the person doing it."""


# --- families --------------------------------------------------------------------


def family_create(
    *, by: User, notes: str = "", coordinators: Iterable[User] = (), request: HttpRequest | None = None
) -> Family:
    with transaction.atomic():
        family = Family.objects.create(notes=notes)
        audit_record(action="family.created", actor=by, target=family, request=request)
        for coordinator in coordinators:
            family_assign_coordinator(family=family, coordinator=coordinator, by=by, request=request)
    return family


def family_assign_coordinator(
    *, family: Family, coordinator: User, by: User | None, request: HttpRequest | None = None
) -> None:
    with transaction.atomic():
        assign_perm("consents.manage_family", coordinator, family)
        audit_record(
            action="family.coordinator_assigned",
            actor=by,
            target=family,
            request=request,
            details={"coordinator": coordinator.email},
        )


def family_unassign_coordinator(
    *, family: Family, coordinator: User, by: User | None, request: HttpRequest | None = None
) -> None:
    with transaction.atomic():
        remove_perm("consents.manage_family", coordinator, family)
        audit_record(
            action="family.coordinator_unassigned",
            actor=by,
            target=family,
            request=request,
            details={"coordinator": coordinator.email},
        )


def _apply_changes(instance: Any, fields: dict[str, Any]) -> list[str]:
    """Set `fields` on `instance`; return the names whose value changed (for the audit trail)."""
    changed = [name for name, value in fields.items() if getattr(instance, name) != value]
    for name, value in fields.items():
        setattr(instance, name, value)
    return changed


def child_save(
    *, family: Family, by: User, child: Child | None = None, request: HttpRequest | None = None, **fields: Any
) -> Child:
    with transaction.atomic():
        if child is None:
            child = Child.objects.create(family=family, **fields)
            audit_record(action="child.added", actor=by, target=family, request=request, details={"child": child.pk})
        else:
            changed = _apply_changes(child, fields)
            child.save(update_fields=list(fields))
            audit_record(
                action="child.updated",
                actor=by,
                target=family,
                request=request,
                details={"child": child.pk, "changed": changed},
            )
    return child


def carer_save(
    *, family: Family, by: User, carer: Carer | None = None, request: HttpRequest | None = None, **fields: Any
) -> Carer:
    fields["email"] = (fields.get("email") or "").strip().lower()
    with transaction.atomic():
        if carer is None:
            carer = Carer.objects.create(family=family, **fields)
            audit_record(action="carer.added", actor=by, target=family, request=request, details={"carer": carer.pk})
        else:
            changed = _apply_changes(carer, fields)
            if "email" in changed:
                carer.user = None  # the old address's account no longer speaks for this carer
            carer.save(update_fields=[*fields, "user"])
            audit_record(
                action="carer.updated",
                actor=by,
                target=family,
                request=request,
                details={"carer": carer.pk, "changed": changed},
            )
        if carer.email and carer.user_id is None:
            # An account to sign in to by emailed code, so the carer can see and withdraw consents.
            carer.user = parent_user_get_or_create(email=carer.email, full_name=carer.full_name)
            carer.save(update_fields=["user"])
    return carer


# --- form versions ---------------------------------------------------------------


def form_version_current() -> ConsentFormVersion:
    """The newest version; the first one is created from the default words if none exists."""
    version = ConsentFormVersion.objects.order_by("-number").first()
    if version is None:
        version = form_version_publish(
            introduction=DEFAULT_INTRODUCTION,
            purpose_texts={str(k): v for k, v in DEFAULT_PURPOSE_TEXTS.items()},
            closing=default_closing(),
            requires_reconsent=False,
            by=None,
        )
    return version


def form_version_publish(
    *, introduction: str, purpose_texts: dict[str, str], closing: str, requires_reconsent: bool, by: User | None
) -> ConsentFormVersion:
    missing = [p for p in PURPOSES if not (purpose_texts.get(p) or "").strip()]
    if missing:
        raise ConsentError(f"Every purpose needs its explanation; missing: {', '.join(missing)}.")
    if problem := closing_problem(closing):
        raise ConsentError(problem)
    with transaction.atomic():
        latest = ConsentFormVersion.objects.select_for_update().order_by("-number").first()
        version = ConsentFormVersion.objects.create(
            number=(latest.number + 1) if latest else 1,
            introduction=introduction.strip(),
            purpose_texts={p: purpose_texts[p].strip() for p in PURPOSES},
            closing=closing.strip(),
            requires_reconsent=requires_reconsent,
            published_at=timezone.now(),
            published_by=by,
        )
        audit_record(
            action="consent_form.published",
            actor=by,
            target=version,
            details={"requires_reconsent": requires_reconsent},
        )
    return version


# --- requests --------------------------------------------------------------------


def request_link_token(consent_request: ConsentRequest) -> str:
    return signing.dumps({"r": consent_request.pk, "n": consent_request.nonce}, salt=LINK_SALT, compress=True)


def request_link(consent_request: ConsentRequest) -> str:
    return settings.FIG_SITE_URL + reverse("consents:sign", args=[request_link_token(consent_request)])


class LinkProblem(Exception):
    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind  # "invalid", "expired" or "used"


def request_from_token(token: str) -> ConsentRequest:
    """The pending request a link points to, or LinkProblem saying why it cannot be used.

    "used" is checked before the age, so a carer who comes back to an answered
    link weeks later still sees that it was answered rather than "expired".
    """
    consent_request = request_from_token_any(token)
    if consent_request is None or consent_request.status == ConsentRequest.Status.CANCELLED:
        raise LinkProblem("invalid")
    if consent_request.status in {ConsentRequest.Status.SIGNED, ConsentRequest.Status.DECLINED}:
        raise LinkProblem("used")
    try:
        signing.loads(token, salt=LINK_SALT, max_age=timedelta(days=settings.FIG_CONSENT_LINK_DAYS))
    except signing.SignatureExpired as exc:
        raise LinkProblem("expired") from exc
    if consent_request.status == ConsentRequest.Status.EXPIRED or consent_request.expires_at <= timezone.now():
        raise LinkProblem("expired")
    return consent_request


def request_from_token_any(token: str) -> ConsentRequest | None:
    """The request a genuine link points to, whatever its state (for the "already answered" page)."""
    try:
        data = signing.loads(token, salt=LINK_SALT)
    except signing.BadSignature:
        return None
    return (
        ConsentRequest.objects.select_related("child", "carer", "form_version", "child__family")
        .filter(pk=data.get("r"), nonce=data.get("n"))
        .first()
    )


# --- the review link: see and withdraw one child's consent, straight from the confirmation email -----


REVIEW_SALT = "consents.review-link"


def _email_tag(email: str) -> str:
    # Binds a link to the address it was sent to without putting the address in the URL: once a
    # coordinator corrects a carer's email, links sent to the old one stop working.
    return salted_hmac(REVIEW_SALT, email.strip().lower()).hexdigest()[:16]


def review_link_token(*, carer: Carer, child: Child) -> str:
    return signing.dumps({"c": carer.pk, "k": child.pk, "e": _email_tag(carer.email)}, salt=REVIEW_SALT, compress=True)


def review_link(*, carer: Carer, child: Child) -> str:
    return settings.FIG_SITE_URL + reverse("consents:review", args=[review_link_token(carer=carer, child=child)])


def review_from_token(token: str) -> tuple[Carer, Child]:
    """The carer and child a review link was sent for, or LinkProblem ("invalid" or "expired").

    The link lets whoever holds it see that one child's consent and withdraw it, as that carer,
    for FIG_CONSENT_LINK_DAYS: less than a signing link does (it cannot give consent), and no
    sign-in, so withdrawing takes no more steps than giving did.
    """
    try:
        data = signing.loads(token, salt=REVIEW_SALT, max_age=timedelta(days=settings.FIG_CONSENT_LINK_DAYS))
    except signing.SignatureExpired as exc:
        raise LinkProblem("expired") from exc
    except signing.BadSignature as exc:
        raise LinkProblem("invalid") from exc
    carer = Carer.objects.filter(pk=data.get("c"), has_parental_responsibility=True).first()
    child = Child.objects.select_related("family").filter(pk=data.get("k")).first()
    if (
        carer is None
        or child is None
        or carer.family_id != child.family_id
        or not constant_time_compare(_email_tag(carer.email), str(data.get("e", "")))
    ):
        raise LinkProblem("invalid")
    return carer, child


def consent_request_send(
    *,
    child: Child,
    carer: Carer,
    by: User | None,
    request: HttpRequest | None = None,
    renews: ConsentRecord | None = None,
) -> ConsentRequest:
    """Send one carer a single-use link to the current form for one child."""
    if carer.family_id != child.family_id:
        raise ConsentError("That carer is not in the child's family.")
    if not carer.has_parental_responsibility:
        raise ConsentError(f"{carer.full_name} does not hold parental responsibility, so cannot give consent.")
    if not carer.email:
        raise ConsentError(f"{carer.full_name} has no email address. Record a paper or phone consent instead.")
    version = form_version_current()
    with transaction.atomic():
        # One open request per child and carer: an older one stops working.
        ConsentRequest.objects.filter(child=child, carer=carer, status=ConsentRequest.Status.PENDING).update(
            status=ConsentRequest.Status.CANCELLED
        )
        if carer.user_id is None:
            carer.user = parent_user_get_or_create(email=carer.email, full_name=carer.full_name)
            carer.save(update_fields=["user"])
        now = timezone.now()
        consent_request = ConsentRequest.objects.create(
            child=child,
            carer=carer,
            form_version=version,
            created_by=by,
            renews=renews,
            created_at=now,
            expires_at=now + timedelta(days=settings.FIG_CONSENT_LINK_DAYS),
        )
        audit_record(
            action="consent.requested",
            actor=by,
            target=consent_request,
            request=request,
            details={"family": child.family.reference, "child": child.pk, "carer": carer.pk},
        )
        _email_request(consent_request, reminder=False)
    return consent_request


def consent_request_send_to_family(
    *, child: Child, by: User | None, request: HttpRequest | None = None
) -> list[ConsentRequest]:
    """One request per carer with parental responsibility and an email address."""
    carers = child.family.carers.filter(has_parental_responsibility=True).exclude(email="")
    sent = [consent_request_send(child=child, carer=carer, by=by, request=request) for carer in carers]
    if not sent:
        raise ConsentError(NOBODY_TO_ASK)
    return sent


def children_without_current_consent(families) -> list[Child]:
    """Children with no current decision at all and no open request."""
    children = list(Child.objects.filter(family__in=families).select_related("family"))
    positions = consents_for_children([c.pk for c in children])
    pending = set(
        ConsentRequest.objects.filter(
            child__in=children, status=ConsentRequest.Status.PENDING, expires_at__gt=timezone.now()
        ).values_list("child_id", flat=True)
    )
    return [c for c in children if not positions[c.pk].has_any_decision and c.pk not in pending]


def consent_request_bulk(*, families, by: User, request: HttpRequest | None = None) -> tuple[int, list[str]]:
    """Request consent for every child without a current consent. Returns (sent, problems)."""
    return _send_to_children(children_without_current_consent(families), by=by, request=request)


def _send_to_children(children: Iterable[Child], *, by: User, request: HttpRequest | None) -> tuple[int, list[str]]:
    """Send each child's form to their family's carers; collect what could not be sent."""
    sent, problems = 0, []
    for child in children:
        try:
            sent += len(consent_request_send_to_family(child=child, by=by, request=request))
        except ConsentError as exc:
            problems.append(f"{child.family.reference}: {exc}")
    return sent, problems


@dataclass(frozen=True)
class ReconsentResult:
    sent: int  # requests emailed now
    skipped: int  # not sent again: the carer already has an open request for the child on this version
    problems: list[str]  # families that could not be asked, and why


def consent_request_reconsent(*, families, by: User, request: HttpRequest | None = None) -> ReconsentResult:
    """After a new form version: ask again for every child whose consent was given on an older version.

    A carer who already has an open request on the current version is not asked again, so a second
    click (or a double submit) sends nothing twice. The current version's row is locked for the run:
    two runs at once take turns, and the second sees the first's requests.
    """
    version = form_version_current()
    with transaction.atomic():
        ConsentFormVersion.objects.select_for_update().get(pk=version.pk)
        child_ids = set(
            ConsentRecord.objects.filter(
                child__family__in=families, kind=ConsentRecord.Kind.GIVEN, form_version__number__lt=version.number
            ).values_list("child_id", flat=True)
        ) - set(
            ConsentRecord.objects.filter(child__family__in=families, form_version=version).values_list(
                "child_id", flat=True
            )
        )
        waiting = set(
            ConsentRequest.objects.filter(
                child_id__in=child_ids,
                form_version=version,
                status=ConsentRequest.Status.PENDING,
                expires_at__gt=timezone.now(),
            ).values_list("child_id", "carer_id")
        )
        children = Child.objects.filter(pk__in=child_ids).select_related("family").prefetch_related("family__carers")
        sent, skipped, problems = 0, 0, []
        for child in children:
            carers = [c for c in child.family.carers.all() if c.has_parental_responsibility and c.email]
            if not carers:
                problems.append(f"{child.family.reference}: {NOBODY_TO_ASK}")
                continue
            for carer in carers:
                if (child.pk, carer.pk) in waiting:
                    skipped += 1
                    continue
                try:
                    consent_request_send(child=child, carer=carer, by=by, request=request)
                except ConsentError as exc:
                    problems.append(f"{child.family.reference}: {exc}")
                else:
                    sent += 1
    return ReconsentResult(sent=sent, skipped=skipped, problems=problems)


def consent_request_cancel(*, consent_request: ConsentRequest, by: User, request: HttpRequest | None = None) -> None:
    with transaction.atomic():
        locked = ConsentRequest.objects.select_for_update().get(pk=consent_request.pk)
        if locked.status != ConsentRequest.Status.PENDING:
            raise ConsentError("Only a pending request can be cancelled.")
        locked.status = ConsentRequest.Status.CANCELLED
        locked.save(update_fields=["status"])
        audit_record(action="consent.request_cancelled", actor=by, target=locked, request=request)


def _email_request(consent_request: ConsentRequest, *, reminder: bool) -> None:
    child = consent_request.child
    notify(
        to=[consent_request.carer.email],
        subject=("Reminder: " if reminder else "") + f"FiG photo consent form for {child.first_name}",
        template="consents/email/request.txt",
        context={
            "carer": consent_request.carer,
            "child": child,
            "link": request_link(consent_request),
            "expires_at": consent_request.expires_at,
            "reminder": reminder,
        },
    )


# --- signing ----------------------------------------------------------------------


@dataclass(frozen=True)
class Evidence:
    ip_address: str | None
    user_agent: str


def evidence_from(request: HttpRequest) -> Evidence:
    return Evidence(ip_address=client_ip(request), user_agent=request.META.get("HTTP_USER_AGENT", "")[:400])


def decode_signature(data_url: str) -> bytes | None:
    """A drawn signature from the form (a PNG data URL), checked and re-encoded; None if empty."""
    if not data_url:
        return None
    prefix = "data:image/png;base64,"
    if not data_url.startswith(prefix):
        raise ConsentError("The signature could not be read. Please clear it and draw it again.")
    try:
        raw = base64.b64decode(data_url[len(prefix) :], validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ConsentError("The signature could not be read. Please clear it and draw it again.") from exc
    if len(raw) > settings.FIG_SIGNATURE_MAX_BYTES:
        raise ConsentError("The signature is too large. Please clear it and draw it again.")
    try:
        with Image.open(io.BytesIO(raw)) as image:
            if image.format != "PNG" or image.width * image.height > 4_000_000:
                raise ConsentError("The signature could not be read. Please clear it and draw it again.")
            image.load()
            clean = io.BytesIO()
            image.convert("LA").save(clean, format="PNG", optimize=True)
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        raise ConsentError("The signature could not be read. Please clear it and draw it again.") from exc
    return clean.getvalue()


def _evidence_hash(fields: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(fields, sort_keys=True, default=str).encode()).hexdigest()


def _validate_answers(answers: dict[str, bool | None]) -> dict[str, bool]:
    missing = [p for p in PURPOSES if answers.get(p) is None]
    if missing:
        raise ConsentError("Please answer yes or no to every question.")
    return {p: bool(answers[p]) for p in PURPOSES}


def _answered_status(answers: dict[str, bool]) -> str:
    """The register's word for an answered request: declined when every answer is no."""
    return ConsentRequest.Status.SIGNED if any(answers.values()) else ConsentRequest.Status.DECLINED


def _open_request_locked(*, child: Child, carer: Carer) -> ConsentRequest | None:
    """The carer's open request for this child, under a row lock: the one a consent given another
    way (signed in by code, on paper, by phone) answers. Sending a request cancels the older ones, so
    there is at most one; a pending one past its expiry is left for the sweep to mark expired."""
    return (
        ConsentRequest.objects.select_for_update()
        .filter(child=child, carer=carer, status=ConsentRequest.Status.PENDING, expires_at__gt=timezone.now())
        .order_by("-created_at", "-id")
        .first()
    )


def _mark_answered(consent_request: ConsentRequest | None, record: ConsentRecord) -> None:
    """Close the request `record` answers (call while holding its row lock)."""
    if consent_request is None:
        return
    consent_request.status = _answered_status(record.answers)
    consent_request.answered_at = record.signed_at
    consent_request.save(update_fields=["status", "answered_at"])


def _create_given_record(
    *,
    child: Child,
    carer: Carer,
    version: ConsentFormVersion,
    answers: dict[str, bool],
    typed_name: str,
    identified_by: str,
    evidence: Evidence,
    consent_request: ConsentRequest | None,
    signature_png: bytes | None,
    method: str = ConsentRecord.Method.ONLINE,
    recorded_by: User | None = None,
    taken_by: str = "",
    scan: tuple[bytes, str] | None = None,
    confirmed_pr: bool = True,
    new_blobs: list[str],
) -> ConsentRecord:
    """Precondition: inside `blobs_removed_on_failure()` around the caller's transaction, whose list is
    `new_blobs`, so the signature and scan sealed here go again if the transaction fails."""
    text = render_form_text(version, child)
    signed_at = timezone.now()
    signature = vault_save(signature_png, folder="signatures") if signature_png else None
    scan_blob = vault_save(scan[0], folder="consent-scans") if scan else None
    new_blobs.extend(blob.name for blob in (signature, scan_blob) if blob)
    text_sha256 = ConsentRecord.digest(text)
    evidence_fields = {
        "child": child.pk,
        "carer": carer.pk,
        "form_version": version.number,
        "text_sha256": text_sha256,
        "answers": answers,
        "typed_name": typed_name,
        "signed_at": signed_at.isoformat(),
        "ip": evidence.ip_address,
        "user_agent": evidence.user_agent,
        "identified_by": identified_by,
        "request": consent_request.pk if consent_request else None,
        "method": method,
        "signature_sha256": signature.sha256 if signature else None,
        "scan_sha256": scan_blob.sha256 if scan_blob else None,
        "taken_by": taken_by,
    }
    record = ConsentRecord.objects.create(
        child=child,
        carer=carer,
        kind=ConsentRecord.Kind.GIVEN,
        method=method,
        identified_by=identified_by,
        request=consent_request,
        form_version=version,
        answers=answers,
        confirmed_parental_responsibility=confirmed_pr,
        text_shown=text,
        text_sha256=text_sha256,
        typed_name=typed_name,
        signature_blob=signature.name if signature else "",
        signature_key_id=signature.key_id if signature else "",
        scan_blob=scan_blob.name if scan_blob else "",
        scan_key_id=scan_blob.key_id if scan_blob else "",
        scan_content_type=scan[1] if scan else "",
        taken_by=taken_by,
        recorded_by=recorded_by,
        signed_at=signed_at,
        ip_address=evidence.ip_address,
        user_agent=evidence.user_agent,
        evidence_sha256=_evidence_hash(evidence_fields),
    )
    if not all(answers.values()):
        run_withdrawal_handlers(record)
    return record


def consent_sign(
    *,
    consent_request_id: int,
    answers: dict[str, bool | None],
    typed_name: str,
    confirmed_pr: bool,
    signature_data_url: str,
    evidence: Evidence,
    identified_by: str = ConsentRecord.IdentifiedBy.EMAIL_LINK,
) -> ConsentRecord:
    """A carer answers a request. A second submit of the same request returns the first record."""
    if not confirmed_pr:
        raise ConsentError("Please confirm that you have parental responsibility for this child.")
    typed_name = " ".join(typed_name.split())
    if len(typed_name) < 2:
        raise ConsentError("Please type your full name.")
    clean_answers = _validate_answers(answers)
    signature_png = decode_signature(signature_data_url)
    with blobs_removed_on_failure() as new_blobs, transaction.atomic():
        consent_request = (
            ConsentRequest.objects.select_for_update()
            .select_related("child", "carer", "form_version", "child__family")
            .get(pk=consent_request_id)
        )
        if consent_request.status in {ConsentRequest.Status.SIGNED, ConsentRequest.Status.DECLINED}:
            earlier = consent_request.records.first()
            if earlier is not None:
                return earlier  # the double submit: one record
            raise ConsentError("This form has already been answered.")
        if consent_request.status != ConsentRequest.Status.PENDING or consent_request.expires_at <= timezone.now():
            raise ConsentError("This link has expired. Please ask your Family Service Coordinator for a new one.")
        if not consent_request.carer.has_parental_responsibility:
            raise ConsentError("Only a carer with parental responsibility can give consent.")
        record = _create_given_record(
            new_blobs=new_blobs,
            child=consent_request.child,
            carer=consent_request.carer,
            version=consent_request.form_version,
            answers=clean_answers,
            typed_name=typed_name,
            identified_by=identified_by,
            evidence=evidence,
            consent_request=consent_request,
            signature_png=signature_png,
        )
        _mark_answered(consent_request, record)
        audit_record(
            action="consent.signed",
            actor=consent_request.carer.user,
            target=record,
            details={"answers": clean_answers, "identified_by": identified_by},
        )
        _email_confirmation(record)
    return record


def consent_give_signed_in(
    *,
    user: User,
    child: Child,
    answers: dict[str, bool | None],
    typed_name: str,
    confirmed_pr: bool,
    signature_data_url: str,
    evidence: Evidence,
) -> ConsentRecord:
    """A parent signed in by code fills in the form from their own page (no request needed)."""
    from consents.selectors import carers_for_user

    carer = carers_for_user(user).filter(family_id=child.family_id, has_parental_responsibility=True).first()
    if carer is None:
        raise ConsentError("Only a carer with parental responsibility can give consent.")
    if not confirmed_pr:
        raise ConsentError("Please confirm that you have parental responsibility for this child.")
    typed_name = " ".join(typed_name.split())
    if len(typed_name) < 2:
        raise ConsentError("Please type your full name.")
    clean_answers = _validate_answers(answers)
    signature_png = decode_signature(signature_data_url)
    version = form_version_current()
    with blobs_removed_on_failure() as new_blobs, transaction.atomic():
        # The request first, then the carer: the order consent_sign takes them in (it holds the
        # request while its new record references the carer), so the two cannot deadlock.
        answering = _open_request_locked(child=child, carer=carer)
        Carer.objects.select_for_update().get(pk=carer.pk)  # serialise a double submit
        # The same form sent twice within minutes is one decision: return the first record.
        latest = ConsentRecord.objects.filter(child=child, carer=carer).order_by("-signed_at", "-id").first()
        if (
            latest is not None
            and latest.kind == ConsentRecord.Kind.GIVEN
            and latest.identified_by == ConsentRecord.IdentifiedBy.CODE_SIGN_IN
            and latest.form_version_id == version.pk
            and latest.answers == clean_answers
            and latest.typed_name == typed_name
            and latest.signed_at > timezone.now() - DOUBLE_SUBMIT_WINDOW
        ):
            return latest
        record = _create_given_record(
            new_blobs=new_blobs,
            child=child,
            carer=carer,
            version=version,
            answers=clean_answers,
            typed_name=typed_name,
            identified_by=ConsentRecord.IdentifiedBy.CODE_SIGN_IN,
            evidence=evidence,
            consent_request=answering,
            signature_png=signature_png,
        )
        _mark_answered(answering, record)
        audit_record(
            action="consent.signed",
            actor=user,
            target=record,
            details={"answers": clean_answers, "identified_by": record.identified_by},
        )
        _email_confirmation(record)
    return record


def consent_record_offline(
    *,
    child: Child,
    carer: Carer,
    answers: dict[str, bool | None],
    method: str,
    taken_by: str,
    by: User,
    scan: tuple[bytes, str] | None,
    evidence: Evidence,
    note: str = "",
) -> ConsentRecord:
    """A coordinator records a consent given on paper or by phone."""
    if carer.family_id != child.family_id or not carer.has_parental_responsibility:
        raise ConsentError("Consent can only be recorded for a carer with parental responsibility in this family.")
    if method not in {ConsentRecord.Method.PAPER, ConsentRecord.Method.PHONE}:
        raise ConsentError("Choose paper or phone.")
    if method == ConsentRecord.Method.PAPER and not scan:
        raise ConsentError("Attach the scanned paper form.")
    clean_answers = _validate_answers(answers)
    version = form_version_current()
    with blobs_removed_on_failure() as new_blobs, transaction.atomic():
        answering = _open_request_locked(child=child, carer=carer)
        record = _create_given_record(
            new_blobs=new_blobs,
            child=child,
            carer=carer,
            version=version,
            answers=clean_answers,
            typed_name=carer.full_name,
            identified_by=ConsentRecord.IdentifiedBy.STAFF,
            evidence=evidence,
            consent_request=answering,
            signature_png=None,
            method=method,
            recorded_by=by,
            taken_by=taken_by.strip(),
            scan=scan,
            confirmed_pr=True,
        )
        _mark_answered(answering, record)
        audit_record(
            action="consent.recorded_offline",
            actor=by,
            target=record,
            details={"method": method, "answers": clean_answers, "note": note[:500]},
        )
    return record


# --- withdrawal -------------------------------------------------------------------


def consent_withdraw(
    *,
    child: Child,
    carer: Carer,
    purposes: Iterable[str],
    identified_by: str,
    evidence: Evidence,
    by: User | None = None,
    reason: str = "",
) -> ConsentRecord:
    """Withdraw consent for some or all purposes. Takes effect at once and runs the withdrawal handlers."""
    purposes = [p for p in PURPOSES if p in set(purposes)]
    if not purposes:
        raise ConsentError("Choose what to withdraw.")
    if carer.family_id != child.family_id or not carer.has_parental_responsibility:
        raise ConsentError("Only a carer with parental responsibility can withdraw consent.")
    answers = dict.fromkeys(purposes, False)
    # One timestamp for the row and its evidence hash, so the hash can be recomputed from the row.
    signed_at = timezone.now()
    with transaction.atomic():
        record = ConsentRecord.objects.create(
            child=child,
            carer=carer,
            kind=ConsentRecord.Kind.WITHDRAWAL,
            identified_by=identified_by,
            method=ConsentRecord.Method.PHONE
            if identified_by == ConsentRecord.IdentifiedBy.STAFF
            else ConsentRecord.Method.ONLINE,
            answers=answers,
            recorded_by=by,
            reason=reason.strip(),
            ip_address=evidence.ip_address,
            user_agent=evidence.user_agent,
            confirmed_parental_responsibility=True,
            signed_at=signed_at,
            evidence_sha256=_evidence_hash(
                {
                    "child": child.pk,
                    "carer": carer.pk,
                    "answers": answers,
                    "identified_by": identified_by,
                    "ip": evidence.ip_address,
                    "user_agent": evidence.user_agent,
                    "at": signed_at.isoformat(),
                }
            ),
        )
        audit_record(
            action="consent.withdrawn",
            actor=by or carer.user,
            target=record,
            details={"purposes": purposes, "identified_by": identified_by},
        )
        run_withdrawal_handlers(record)
        notify(
            to=[carer.email] if carer.email else [],
            subject=f"You have withdrawn photo consent for {child.first_name}",
            template="consents/email/withdrawn.txt",
            context={
                "carer": carer,
                "child": child,
                "record": record,
                "purposes": [Purpose(p).label for p in purposes],
                "link": settings.FIG_SITE_URL + reverse("consents:my_children"),
            },
        )
    return record


def _email_confirmation(record: ConsentRecord) -> None:
    if not record.carer.email:
        return
    notify(
        to=[record.carer.email],
        subject=f"Your photo consent for {record.child.first_name} is saved",
        template="consents/email/confirmation.txt",
        context={
            "record": record,
            "carer": record.carer,
            "child": record.child,
            "answers": [(Purpose(p).label, record.answers[p]) for p in PURPOSES if p in record.answers],
            # The date first: the link, signed a moment later, works a moment longer, never shorter.
            "review_until": timezone.now() + timedelta(days=settings.FIG_CONSENT_LINK_DAYS),
            "review_link": review_link(carer=record.carer, child=record.child),
            "link": settings.FIG_SITE_URL + reverse("consents:my_children"),
        },
    )
