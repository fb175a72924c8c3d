"""Writes that give consent: a carer answering an emailed link, a parent signed in by code, and a
coordinator recording a paper or phone consent. Each makes one append-only record with its evidence."""

from __future__ import annotations

import base64
import binascii
import io
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from PIL import Image, UnidentifiedImageError

from consents.errors import ConsentError
from consents.formtext import render_form_text
from consents.hooks import run_withdrawal_handlers
from consents.links import review_link
from consents.models import PURPOSES, Carer, Child, ConsentFormVersion, ConsentRecord, ConsentRequest, Family, Purpose
from consents.scans import CleanScan, scan_clean
from consents.selectors import carers_for_user
from consents.services.evidence import Evidence, evidence_hash
from consents.services.form_versions import form_version_current
from fig_safety.vault import blobs_removed_on_failure, vault_save
from staff.models import User
from staff.notifications import notify
from staff.services import audit_record

DOUBLE_SUBMIT_WINDOW = timedelta(minutes=10)


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


@dataclass(frozen=True)
class GivenConsent:
    """Everything one given consent is made from, however it was given (online, paper or phone)."""

    child: Child
    carer: Carer
    version: ConsentFormVersion
    answers: dict[str, bool]
    typed_name: str
    identified_by: str
    evidence: Evidence
    consent_request: ConsentRequest | None  # the request it answers, if any
    signature_png: bytes | None
    method: str = ConsentRecord.Method.ONLINE
    recorded_by: User | None = None
    taken_by: str = ""
    scan: CleanScan | None = None  # the scanned paper form, as `scan_clean` left it: nothing else is stored
    confirmed_pr: bool = True


def _create_given_record(*, given: GivenConsent, new_blobs: list[str]) -> ConsentRecord:
    """Precondition: inside `blobs_removed_on_failure()` around the caller's transaction, whose list is
    `new_blobs`, so the signature and scan sealed here go again if the transaction fails. (`new_blobs`
    is that transaction's clean-up list, not part of the consent, so it is not in `given`.)"""
    text = render_form_text(given.version, given.child)
    signed_at = timezone.now()
    signature = vault_save(given.signature_png, folder="signatures") if given.signature_png else None
    scan_blob = vault_save(given.scan.data, folder="consent-scans") if given.scan else None
    new_blobs.extend(blob.name for blob in (signature, scan_blob) if blob)
    text_sha256 = ConsentRecord.digest(text)
    evidence_fields = {
        "child": given.child.pk,
        "carer": given.carer.pk,
        "form_version": given.version.number,
        "text_sha256": text_sha256,
        "answers": given.answers,
        "typed_name": given.typed_name,
        "signed_at": signed_at.isoformat(),
        "ip": given.evidence.ip_address,
        "user_agent": given.evidence.user_agent,
        "identified_by": given.identified_by,
        "request": given.consent_request.pk if given.consent_request else None,
        "method": given.method,
        "signature_sha256": signature.sha256 if signature else None,
        "scan_sha256": scan_blob.sha256 if scan_blob else None,
        "taken_by": given.taken_by,
    }
    if given.scan:  # the file as attached, before cleaning (records without a scan hash as they always have)
        evidence_fields["scan_received_sha256"] = given.scan.received_sha256
    record = ConsentRecord.objects.create(
        child=given.child,
        carer=given.carer,
        kind=ConsentRecord.Kind.GIVEN,
        method=given.method,
        identified_by=given.identified_by,
        request=given.consent_request,
        form_version=given.version,
        answers=given.answers,
        confirmed_parental_responsibility=given.confirmed_pr,
        text_shown=text,
        text_sha256=text_sha256,
        typed_name=given.typed_name,
        signature_blob=signature.name if signature else "",
        signature_key_id=signature.key_id if signature else "",
        scan_blob=scan_blob.name if scan_blob else "",
        scan_key_id=scan_blob.key_id if scan_blob else "",
        scan_content_type=given.scan.content_type if given.scan else "",
        taken_by=given.taken_by,
        recorded_by=given.recorded_by,
        signed_at=signed_at,
        ip_address=given.evidence.ip_address,
        user_agent=given.evidence.user_agent,
        evidence_sha256=evidence_hash(evidence_fields),
    )
    if not all(given.answers.values()):
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
        # The request's row alone: closing the family, sending a new link and correcting the carer each lock
        # the requests after the family or before the carer, so locking those here too could deadlock.
        consent_request = (
            ConsentRequest.objects.select_for_update(of=("self",))
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
            given=GivenConsent(
                child=consent_request.child,
                carer=consent_request.carer,
                version=consent_request.form_version,
                answers=clean_answers,
                typed_name=typed_name,
                identified_by=identified_by,
                evidence=evidence,
                consent_request=consent_request,
                signature_png=signature_png,
            ),
            new_blobs=new_blobs,
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
    carer = carers_for_user(user).filter(family_id=child.family_id, has_parental_responsibility=True).first()
    if carer is None:
        raise ConsentError("Only a carer with parental responsibility can give consent.")
    if Family.objects.filter(pk=child.family_id, closed_at__isnull=False).exists():
        raise ConsentError("FiG no longer works with this family, so it no longer asks for consent.")
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
            given=GivenConsent(
                child=child,
                carer=carer,
                version=version,
                answers=clean_answers,
                typed_name=typed_name,
                identified_by=ConsentRecord.IdentifiedBy.CODE_SIGN_IN,
                evidence=evidence,
                consent_request=answering,
                signature_png=signature_png,
            ),
            new_blobs=new_blobs,
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
    """A coordinator records a consent given on paper or by phone. `scan` is (the file's bytes, its declared
    type); it is cleaned here, before anything is locked, and refused with ScanRefused (a ConsentError)."""
    if carer.family_id != child.family_id or not carer.has_parental_responsibility:
        raise ConsentError("Consent can only be recorded for a carer with parental responsibility in this family.")
    if method not in {ConsentRecord.Method.PAPER, ConsentRecord.Method.PHONE}:
        raise ConsentError("Choose paper or phone.")
    if method == ConsentRecord.Method.PAPER and not scan:
        raise ConsentError("Attach the scanned paper form.")
    clean_answers = _validate_answers(answers)
    kept_scan = scan_clean(data=scan[0], content_type=scan[1]) if scan else None
    version = form_version_current()
    with blobs_removed_on_failure() as new_blobs, transaction.atomic():
        answering = _open_request_locked(child=child, carer=carer)
        record = _create_given_record(
            given=GivenConsent(
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
                scan=kept_scan,
                confirmed_pr=True,
            ),
            new_blobs=new_blobs,
        )
        _mark_answered(answering, record)
        audit_record(
            action="consent.recorded_offline",
            actor=by,
            target=record,
            details={"method": method, "answers": clean_answers, "note": note[:500], **_scan_hashes(kept_scan)},
        )
    return record


def _scan_hashes(scan: CleanScan | None) -> dict[str, str]:
    """What was attached and what was kept of it, for the audit trail (the kept file is in the vault)."""
    return {"scan_received_sha256": scan.received_sha256, "scan_sha256": scan.sha256} if scan else {}


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
        # Their signed copy: the sealed certificate (consents.certificate_pdf), built when the email goes.
        attachments=[{"kind": "consent_certificate", "record": record.pk}],
    )
