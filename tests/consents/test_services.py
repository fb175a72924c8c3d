"""Consent services: signing with its evidence, links, requests, offline consent, withdrawal, append-only records."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import io
import os
import threading
import time
from pathlib import Path
from unittest import mock

import pytest
from django.core import mail, signing
from django.core.files.storage import storages
from django.db import DatabaseError, connection, transaction
from django.utils import timezone
from PIL import Image

from consents.errors import ConsentError, LinkProblem
from consents.formtext import default_closing, render_form_text, required_statements
from consents.hooks import register_withdrawal_handler, unregister_withdrawal_handler
from consents.links import LINK_SALT, request_link_token
from consents.models import PURPOSES, ConsentFormVersion, ConsentRecord, ConsentRequest, Family, Purpose
from consents.scans import scan_clean
from consents.selectors import (
    children_without_current_consent,
    consent_allows,
    request_from_token,
    request_from_token_any,
)
from consents.services.evidence import evidence_hash
from consents.services.form_versions import form_version_current, form_version_publish
from consents.services.requests import (
    ReconsentResult,
    consent_request_bulk,
    consent_request_cancel,
    consent_request_reconsent,
    consent_request_send,
    consent_request_send_to_family,
)
from consents.services.signing import consent_give_signed_in, consent_record_offline, consent_sign
from consents.services.withdrawal import consent_withdraw
from fig_safety.append_only import AppendOnlyError
from fig_safety.vault import vault_read
from staff.models import AuditEvent
from tests import factories
from tests.consents.factories import (
    EVIDENCE,
    CarerFactory,
    ChildFactory,
    all_answers,
    family_with_child,
    give,
    png_bytes,
    png_data_url,
    publish_version,
    request_for,
    sign,
    withdraw,
)
from tests.photos import images

pytestmark = pytest.mark.django_db

DAY = dt.timedelta(days=1)


@pytest.fixture
def withdrawals():
    """Every Withdrawal the hook delivers during the test, through a registered handler."""
    calls = []
    handler = calls.append
    register_withdrawal_handler(handler)
    yield calls
    unregister_withdrawal_handler(handler)


@pytest.fixture
def pending():
    _, child, (carer,) = family_with_child()
    return request_for(child, carer)


def raw_blob(name: str) -> bytes:
    with storages["vault"].open(name, "rb") as handle:
        return handle.read()


def vault_file_count() -> int:
    root = Path(storages["vault"].location)
    return sum(1 for path in root.rglob("*") if path.is_file()) if root.exists() else 0


def token_from(body: str) -> str:
    line = next(line for line in body.splitlines() if "/sign/" in line)
    return line.strip().rstrip("/").rsplit("/", 1)[-1]


# --- signing: the evidence -----------------------------------------------------------------


def test_it_keeps_the_evidence_of_a_signature(pending):
    chosen = all_answers(True, print=False)
    record = sign(pending, answers=chosen, typed_name="  Jo   Carer ")
    record.refresh_from_db()

    expected_text = render_form_text(pending.form_version, pending.child)
    assert record.text_shown == expected_text
    assert record.text_sha256 == hashlib.sha256(expected_text.encode("utf-8")).hexdigest()
    assert record.answers == chosen
    assert record.typed_name == "Jo Carer"
    assert record.confirmed_parental_responsibility is True
    assert record.kind == ConsentRecord.Kind.GIVEN
    assert record.method == ConsentRecord.Method.ONLINE
    assert record.identified_by == ConsentRecord.IdentifiedBy.EMAIL_LINK
    assert record.request == pending
    assert record.form_version == pending.form_version
    assert record.ip_address == EVIDENCE.ip_address
    assert record.user_agent == EVIDENCE.user_agent
    assert record.signed_at.utcoffset() == dt.timedelta(0)
    assert abs(record.signed_at - timezone.now()) < dt.timedelta(minutes=1)
    assert len(record.evidence_sha256) == 64
    assert AuditEvent.objects.filter(action="consent.signed", target_id=str(record.pk)).exists()


def test_it_stores_the_signature_encrypted_in_the_vault(pending):
    record = sign(pending, signature=png_data_url(80, 30))

    assert record.signature_blob and record.signature_key_id
    stored = raw_blob(record.signature_blob)
    opened = vault_read(name=record.signature_blob, key_id=record.signature_key_id)
    assert opened.startswith(b"\x89PNG")
    assert b"\x89PNG" not in stored and b"IHDR" not in stored
    assert opened not in stored
    with Image.open(io.BytesIO(opened)) as image:
        assert image.size == (80, 30)


def test_a_signature_is_optional(pending):
    record = sign(pending, signature="")
    assert record.signature_blob == "" and record.signature_key_id == ""


def test_it_keeps_the_text_of_the_version_the_request_showed(pending):
    old_version = pending.form_version
    new_version = publish_version(requires_reconsent=False)
    assert new_version.number == old_version.number + 1

    record = sign(pending)

    assert record.form_version == old_version
    assert "(revised)" not in record.text_shown
    assert record.text_shown == render_form_text(old_version, pending.child)


def test_a_double_submit_makes_one_record(pending):
    first = sign(pending)
    second = sign(pending, answers=all_answers(False))

    assert second.pk == first.pk
    assert ConsentRecord.objects.filter(request=pending).count() == 1
    assert ConsentRecord.objects.get().answers == all_answers(True)


def test_a_signed_request_is_single_use(pending):
    token = request_link_token(pending)
    assert request_from_token(token) == pending
    sign(pending)

    pending.refresh_from_db()
    assert pending.status == ConsentRequest.Status.SIGNED
    assert pending.answered_at is not None
    with pytest.raises(LinkProblem) as problem:
        request_from_token(token)
    assert problem.value.kind == "used"
    assert request_from_token_any(token) == pending


def test_all_no_marks_the_request_declined(pending):
    sign(pending, answers=all_answers(False))

    pending.refresh_from_db()
    assert pending.status == ConsentRequest.Status.DECLINED
    with pytest.raises(LinkProblem) as problem:
        request_from_token(request_link_token(pending))
    assert problem.value.kind == "used"


def _bomb_png() -> str:
    image = Image.new("1", (5000, 1000))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode()


def _jpeg_as_png() -> str:
    out = io.BytesIO()
    Image.new("RGB", (40, 20), "white").save(out, format="JPEG")
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode()


def _corrupt_png() -> str:
    raw = bytearray(png_bytes())
    raw[40:60] = b"\x00" * 20  # inside the first chunks: the CRC no longer matches
    return "data:image/png;base64," + base64.b64encode(bytes(raw)).decode()


BAD_SIGNATURES = {
    "not a data url": "https://example.org/signature.png",
    "another image type": "data:image/jpeg;base64," + base64.b64encode(b"\xff\xd8\xff\xe0 jpeg").decode(),
    "svg": "data:image/svg+xml;base64," + base64.b64encode(b"<svg onload='alert(1)'/>").decode(),
    "not base64": "data:image/png;base64,this is not base64!!",
    "not an image": "data:image/png;base64," + base64.b64encode(b"hello, world").decode(),
    "truncated png": "data:image/png;base64," + base64.b64encode(png_bytes()[:60]).decode(),
    "corrupt png": _corrupt_png(),
    "jpeg disguised as png": _jpeg_as_png(),
    "too large": "data:image/png;base64," + base64.b64encode(b"\x89PNG\r\n\x1a\n" + os.urandom(300_001)).decode(),
    "too many pixels": _bomb_png(),
}


@pytest.mark.parametrize("signature", BAD_SIGNATURES.values(), ids=BAD_SIGNATURES.keys())
def test_a_bad_signature_is_refused_and_nothing_is_stored(pending, signature):
    files_before = vault_file_count()

    with pytest.raises(ConsentError, match="signature"):
        sign(pending, signature=signature)

    pending.refresh_from_db()
    assert pending.status == ConsentRequest.Status.PENDING
    assert not ConsentRecord.objects.exists()
    assert vault_file_count() == files_before
    assert not AuditEvent.objects.filter(action="consent.signed").exists()


@pytest.mark.parametrize(
    "change, message",
    [
        ({"answers": {p: True for p in PURPOSES if p != Purpose.PRINT}}, "every question"),
        ({"answers": {**all_answers(True), Purpose.ONLINE: None}}, "every question"),
        ({"typed_name": "   "}, "full name"),
        ({"typed_name": "J"}, "full name"),
        ({"confirmed_pr": False}, "parental responsibility"),
    ],
    ids=["an answer missing", "an answer left blank", "no typed name", "one letter", "responsibility not confirmed"],
)
def test_an_incomplete_form_is_refused_and_nothing_is_stored(pending, change, message):
    arguments = {
        "consent_request_id": pending.pk,
        "answers": all_answers(True),
        "typed_name": "Jo Carer",
        "confirmed_pr": True,
        "signature_data_url": png_data_url(),
        "evidence": EVIDENCE,
        **change,
    }
    with pytest.raises(ConsentError, match=message):
        consent_sign(**arguments)

    pending.refresh_from_db()
    assert pending.status == ConsentRequest.Status.PENDING
    assert not ConsentRecord.objects.exists()


def test_it_refuses_to_sign_an_expired_or_cancelled_request():
    _, child, (carer,) = family_with_child()
    old = request_for(child, carer, at=timezone.now() - 15 * DAY)
    with pytest.raises(ConsentError, match="expired"):
        sign(old)

    cancelled = request_for(child, carer, at=timezone.now() - DAY)
    request_for(child, carer)  # cancels the one before
    with pytest.raises(ConsentError):
        sign(cancelled)
    assert not ConsentRecord.objects.exists()


def test_it_sends_a_confirmation_with_a_summary_and_a_link(pending, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        sign(pending, answers=all_answers(True, print=False))

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [pending.carer.email]
    assert pending.child.first_name in message.subject
    assert f"- {Purpose.PRINT.label}: no" in message.body
    assert f"- {Purpose.ONLINE.label}: yes" in message.body
    assert "/consents/my/" in message.body


# --- links -------------------------------------------------------------------------------------


def test_a_tampered_link_is_invalid(pending):
    token = request_link_token(pending)
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    for bad in (tampered, "not-a-token", token + "x", ""):
        with pytest.raises(LinkProblem) as problem:
            request_from_token(bad)
        assert problem.value.kind == "invalid"
    assert request_from_token_any(tampered) is None


def test_a_link_with_the_wrong_nonce_or_salt_is_invalid(pending):
    forged = signing.dumps({"r": pending.pk, "n": "guessed"}, salt=LINK_SALT, compress=True)
    other_salt = signing.dumps({"r": pending.pk, "n": pending.nonce}, salt="somewhere.else", compress=True)
    for bad in (forged, other_salt):
        with pytest.raises(LinkProblem) as problem:
            request_from_token(bad)
        assert problem.value.kind == "invalid"


def test_a_link_older_than_the_link_days_is_expired(pending, settings):
    settings.FIG_CONSENT_LINK_DAYS = 14
    with mock.patch("django.core.signing.time.time", return_value=time.time() - 15 * 86400):
        old_token = request_link_token(pending)
    with pytest.raises(LinkProblem) as problem:
        request_from_token(old_token)
    assert problem.value.kind == "expired"


def test_a_link_to_a_request_past_its_expiry_is_expired():
    _, child, (carer,) = family_with_child()
    old = request_for(child, carer, at=timezone.now() - 15 * DAY)
    assert old.expires_at < timezone.now()
    with pytest.raises(LinkProblem) as problem:
        request_from_token(request_link_token(old))
    assert problem.value.kind == "expired"


def test_a_link_to_a_request_marked_expired_is_expired(pending):
    ConsentRequest.objects.filter(pk=pending.pk).update(status=ConsentRequest.Status.EXPIRED)
    with pytest.raises(LinkProblem) as problem:
        request_from_token(request_link_token(pending))
    assert problem.value.kind == "expired"


def test_a_new_request_to_the_same_carer_cancels_the_older_link():
    _, child, (carer,) = family_with_child()
    older = request_for(child, carer)
    older_token = request_link_token(older)
    newer = request_for(child, carer)

    older.refresh_from_db()
    assert older.status == ConsentRequest.Status.CANCELLED
    with pytest.raises(LinkProblem) as problem:
        request_from_token(older_token)
    assert problem.value.kind == "invalid"
    assert request_from_token(request_link_token(newer)) == newer


def test_a_cancelled_request_link_is_invalid(pending, coordinator):
    consent_request_cancel(consent_request=pending, by=coordinator)
    with pytest.raises(LinkProblem) as problem:
        request_from_token(request_link_token(pending))
    assert problem.value.kind == "invalid"
    with pytest.raises(ConsentError):
        consent_request_cancel(consent_request=pending, by=coordinator)


# --- sending requests -------------------------------------------------------------------------


def test_it_emails_the_carer_a_working_link(coordinator, settings, django_capture_on_commit_callbacks):
    _, child, (carer,) = family_with_child()
    with django_capture_on_commit_callbacks(execute=True):
        consent_request = consent_request_send(child=child, carer=carer, by=coordinator)

    assert consent_request.status == ConsentRequest.Status.PENDING
    expected = timezone.now() + dt.timedelta(days=settings.FIG_CONSENT_LINK_DAYS)
    assert abs(consent_request.expires_at - expected) < dt.timedelta(minutes=1)
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [carer.email]
    assert child.last_name not in mail.outbox[0].subject
    assert request_from_token(token_from(mail.outbox[0].body)) == consent_request
    carer.refresh_from_db()
    assert carer.user is not None and carer.user.email == carer.email
    assert not carer.user.has_usable_password()


@pytest.mark.parametrize(
    "carer_fields, message",
    [
        ({"has_parental_responsibility": False}, "parental responsibility"),
        ({"email": ""}, "no email"),
        ({"other_family": True}, "not in the child's family"),
    ],
    ids=["no parental responsibility", "no email", "another family"],
)
def test_it_refuses_to_send_a_request_to_the_wrong_carer(
    coordinator, carer_fields, message, django_capture_on_commit_callbacks
):
    family, child, _ = family_with_child(carers=0)
    fields = dict(carer_fields)
    carer = CarerFactory() if fields.pop("other_family", False) else CarerFactory(family=family, **fields)

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(ConsentError, match=message):
        consent_request_send(child=child, carer=carer, by=coordinator)

    assert not ConsentRequest.objects.exists()
    assert mail.outbox == []


def test_sending_to_the_family_asks_every_carer_with_parental_responsibility_and_email(coordinator):
    family, child, (mum, dad) = family_with_child(carers=2)
    CarerFactory(family=family, has_parental_responsibility=False)
    CarerFactory(family=family, email="")

    sent = consent_request_send_to_family(child=child, by=coordinator)

    assert {r.carer for r in sent} == {mum, dad}

    family2, child2, _ = family_with_child(carers=0)
    CarerFactory(family=family2, has_parental_responsibility=False)
    with pytest.raises(ConsentError):
        consent_request_send_to_family(child=child2, by=coordinator)


# --- offline consent ---------------------------------------------------------------------------


SCAN = (images.pdf(), "application/pdf")


def test_a_paper_consent_needs_the_scan(coordinator):
    _, child, (carer,) = family_with_child()
    with pytest.raises(ConsentError, match="scan"):
        consent_record_offline(
            child=child,
            carer=carer,
            answers=all_answers(True),
            method=ConsentRecord.Method.PAPER,
            taken_by="Sam Coordinator",
            by=coordinator,
            scan=None,
            evidence=EVIDENCE,
        )
    assert not ConsentRecord.objects.exists()


def test_a_paper_consent_keeps_the_scan_encrypted(coordinator):
    _, child, (carer,) = family_with_child()
    pending = request_for(child, carer)

    record = consent_record_offline(
        child=child,
        carer=carer,
        answers=all_answers(True),
        method=ConsentRecord.Method.PAPER,
        taken_by=" Sam Coordinator ",
        by=coordinator,
        scan=SCAN,
        evidence=EVIDENCE,
    )

    assert record.method == ConsentRecord.Method.PAPER
    assert record.identified_by == ConsentRecord.IdentifiedBy.STAFF
    assert record.recorded_by == coordinator
    assert record.taken_by == "Sam Coordinator"
    assert record.scan_content_type == "application/pdf"
    stored = raw_blob(record.scan_blob)
    assert b"%PDF" not in stored
    kept = scan_clean(data=SCAN[0], content_type=SCAN[1]).data  # what the vault holds is the cleaned file
    assert vault_read(name=record.scan_blob, key_id=record.scan_key_id) == kept
    assert consent_allows(child=child, purpose=Purpose.ONLINE)
    pending.refresh_from_db()
    assert pending.status == ConsentRequest.Status.SIGNED  # the paper form answered it
    assert record.request == pending and pending.answered_at == record.signed_at


def test_an_all_no_offline_consent_marks_the_open_request_declined(coordinator):
    _, child, (carer,) = family_with_child()
    pending = request_for(child, carer)
    record = give(child, carer, answers=all_answers(False), by=coordinator)
    pending.refresh_from_db()
    assert pending.status == ConsentRequest.Status.DECLINED
    assert record.request == pending


def test_a_phone_consent_answers_only_that_carers_open_request(coordinator):
    _, child, (mum, dad) = family_with_child(carers=2)
    mums, dads = request_for(child, mum), request_for(child, dad)

    record = give(child, mum, by=coordinator)
    second = give(child, mum, answers=all_answers(True, print=False), by=coordinator)

    assert record.request == mums
    assert second.request is None  # the request was answered by the first
    mums.refresh_from_db()
    dads.refresh_from_db()
    assert (mums.status, dads.status) == (ConsentRequest.Status.SIGNED, ConsentRequest.Status.PENDING)


def test_a_phone_consent_needs_no_scan(coordinator):
    _, child, (carer,) = family_with_child()
    record = consent_record_offline(
        child=child,
        carer=carer,
        answers=all_answers(True, print=False),
        method=ConsentRecord.Method.PHONE,
        taken_by="Sam Coordinator",
        by=coordinator,
        scan=None,
        evidence=EVIDENCE,
    )
    assert record.method == ConsentRecord.Method.PHONE
    assert record.scan_blob == ""
    assert not consent_allows(child=child, purpose=Purpose.PRINT)


@pytest.mark.parametrize("method", ["online", "email", ""])
def test_an_offline_consent_must_be_paper_or_phone(coordinator, method):
    _, child, (carer,) = family_with_child()
    with pytest.raises(ConsentError):
        consent_record_offline(
            child=child,
            carer=carer,
            answers=all_answers(True),
            method=method,
            taken_by="Sam",
            by=coordinator,
            scan=SCAN,
            evidence=EVIDENCE,
        )
    assert not ConsentRecord.objects.exists()


def test_an_offline_consent_needs_a_carer_with_parental_responsibility_in_the_family(coordinator):
    family, child, _ = family_with_child(carers=0)
    for carer in (CarerFactory(family=family, has_parental_responsibility=False), CarerFactory()):
        with pytest.raises(ConsentError):
            consent_record_offline(
                child=child,
                carer=carer,
                answers=all_answers(True),
                method=ConsentRecord.Method.PHONE,
                taken_by="Sam",
                by=coordinator,
                scan=None,
                evidence=EVIDENCE,
            )
    assert not ConsentRecord.objects.exists()


# --- withdrawal ----------------------------------------------------------------------------------


def test_a_withdrawal_is_a_new_record_and_runs_the_handlers_once(withdrawals, django_capture_on_commit_callbacks):
    _, child, (carer,) = family_with_child()
    given = give(child, carer, at=timezone.now() - DAY)
    assert withdrawals == []

    with django_capture_on_commit_callbacks(execute=True):
        record = consent_withdraw(
            child=child,
            carer=carer,
            purposes=[Purpose.ONLINE, Purpose.FACE_ONLINE, "nonsense"],
            identified_by=ConsentRecord.IdentifiedBy.CODE_SIGN_IN,
            evidence=EVIDENCE,
            reason=" changed my mind ",
        )

    assert record.pk != given.pk
    assert record.kind == ConsentRecord.Kind.WITHDRAWAL
    assert record.answers == {Purpose.ONLINE: False, Purpose.FACE_ONLINE: False}
    assert record.reason == "changed my mind"
    assert ConsentRecord.objects.get(pk=given.pk).answers == all_answers(True)
    assert len(withdrawals) == 1
    assert withdrawals[0].record_id == record.pk
    assert withdrawals[0].child_id == child.pk
    assert withdrawals[0].carer_id == carer.pk
    assert withdrawals[0].purposes == {Purpose.ONLINE, Purpose.FACE_ONLINE}
    assert not consent_allows(child=child, purpose=Purpose.ONLINE)
    assert consent_allows(child=child, purpose=Purpose.PRINT)

    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [carer.email]
    assert Purpose.ONLINE.label in mail.outbox[0].body
    assert Purpose.PRINT.label not in mail.outbox[0].body
    assert "/consents/my/" in mail.outbox[0].body


def test_a_withdrawal_recorded_by_staff_is_by_phone(coordinator, withdrawals):
    _, child, (carer,) = family_with_child()
    give(child, carer)
    record = withdraw(child, carer, PURPOSES, by=coordinator)
    assert record.method == ConsentRecord.Method.PHONE
    assert record.identified_by == ConsentRecord.IdentifiedBy.STAFF
    assert record.recorded_by == coordinator
    assert withdrawals[0].purposes == set(PURPOSES)


def test_a_withdrawal_keeps_a_hash_that_matches_its_row():
    _, child, (carer,) = family_with_child()
    record = withdraw(child, carer, [Purpose.PRINT])
    record.refresh_from_db()
    expected = evidence_hash(
        {
            "child": child.pk,
            "carer": carer.pk,
            "answers": record.answers,
            "identified_by": record.identified_by,
            "ip": record.ip_address,
            "user_agent": record.user_agent,
            "at": record.signed_at.isoformat(),
        }
    )
    assert record.evidence_sha256 == expected


def test_a_withdrawal_needs_something_to_withdraw(withdrawals):
    _, child, (carer,) = family_with_child()
    for purposes in ([], ["nonsense"]):
        with pytest.raises(ConsentError):
            withdraw(child, carer, purposes)
    assert withdrawals == []
    assert not ConsentRecord.objects.exists()


def test_only_a_carer_with_parental_responsibility_in_the_family_can_withdraw(withdrawals):
    family, child, _ = family_with_child(carers=0)
    for carer in (CarerFactory(family=family, has_parental_responsibility=False), CarerFactory()):
        with pytest.raises(ConsentError):
            withdraw(child, carer, PURPOSES)
    assert withdrawals == []
    assert not ConsentRecord.objects.exists()


def test_a_failing_handler_undoes_the_withdrawal():
    _, child, (carer,) = family_with_child()
    give(child, carer)

    def broken(withdrawal):
        raise RuntimeError("photos app is broken")

    register_withdrawal_handler(broken)
    try:
        with pytest.raises(RuntimeError):
            withdraw(child, carer, [Purpose.ONLINE])
    finally:
        unregister_withdrawal_handler(broken)
    assert not ConsentRecord.objects.filter(kind=ConsentRecord.Kind.WITHDRAWAL).exists()
    assert consent_allows(child=child, purpose=Purpose.ONLINE)


def test_a_handler_is_registered_once():
    calls = []

    def handler(withdrawal):
        calls.append(withdrawal)

    register_withdrawal_handler(handler)
    register_withdrawal_handler(handler)
    try:
        _, child, (carer,) = family_with_child()
        withdraw(child, carer, [Purpose.ONLINE])
    finally:
        unregister_withdrawal_handler(handler)
    assert len(calls) == 1


def test_a_signed_form_that_says_no_runs_the_handlers(pending, withdrawals):
    sign(pending, answers=all_answers(True, training=False, print=False))
    assert len(withdrawals) == 1
    assert withdrawals[0].purposes == {Purpose.TRAINING, Purpose.PRINT}


def test_a_signed_form_that_says_yes_to_everything_runs_no_handler(pending, withdrawals):
    sign(pending)
    assert withdrawals == []


def test_an_offline_consent_that_says_no_runs_the_handlers(withdrawals):
    _, child, (carer,) = family_with_child()
    give(child, carer, answers=all_answers(True, online=False))
    assert [w.purposes for w in withdrawals] == [{Purpose.ONLINE}]


# --- records never change ---------------------------------------------------------------------------


@pytest.fixture
def record():
    _, child, (carer,) = family_with_child()
    return give(child, carer)


def test_a_record_cannot_be_saved_again(record):
    record.typed_name = "Someone Else"
    with pytest.raises(AppendOnlyError):
        record.save()
    assert ConsentRecord.objects.get(pk=record.pk).typed_name != "Someone Else"


def test_records_cannot_be_updated_or_deleted_through_the_orm(record):
    with pytest.raises(AppendOnlyError):
        ConsentRecord.objects.filter(pk=record.pk).update(typed_name="Forged")
    with pytest.raises(AppendOnlyError):
        ConsentRecord.objects.filter(pk=record.pk).delete()
    with pytest.raises(AppendOnlyError):
        record.delete()
    record.answers = all_answers(False)
    # bulk_update raises inside its own savepoint-less atomic block, which marks the
    # surrounding transaction for rollback: give it a block of its own.
    with pytest.raises(AppendOnlyError), transaction.atomic():
        ConsentRecord.objects.bulk_update([record], ["answers"])
    assert ConsentRecord.objects.get(pk=record.pk).answers == all_answers(True)


def test_raw_sql_cannot_update_a_record(record):
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE consents_consentrecord SET typed_name = %s WHERE id = %s", ["Forged", record.pk])
    assert ConsentRecord.objects.get(pk=record.pk).typed_name == record.typed_name


@pytest.mark.postgres
def test_raw_sql_cannot_delete_a_record_on_postgresql(record):
    assert connection.vendor == "postgresql"
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM consents_consentrecord WHERE id = %s", [record.pk])
    assert ConsentRecord.objects.filter(pk=record.pk).exists()


# --- form versions ----------------------------------------------------------------------------------


def test_publishing_makes_a_new_version_and_never_edits_the_old(coordinator):
    first = form_version_current()
    before = ConsentFormVersion.objects.filter(pk=first.pk).values().get()

    second = form_version_publish(
        introduction="  New words.  ",
        purpose_texts={p: f"About {p}." for p in PURPOSES},
        closing=default_closing(),
        requires_reconsent=True,
        by=coordinator,
    )

    assert second.number == first.number + 1
    assert second.introduction == "New words."
    assert second.published_by == coordinator
    assert ConsentFormVersion.objects.filter(pk=first.pk).values().get() == before
    assert form_version_current() == second


@pytest.fixture
def published():
    return form_version_current()


def test_a_published_version_cannot_be_saved_again(published):
    published.closing = "We may publish names."
    with pytest.raises(AppendOnlyError):
        published.save()
    assert ConsentFormVersion.objects.get(pk=published.pk).closing == default_closing()


def test_a_published_version_cannot_be_updated_or_deleted_through_the_orm(published):
    with pytest.raises(AppendOnlyError):
        ConsentFormVersion.objects.filter(pk=published.pk).update(closing="Forged.")
    with pytest.raises(AppendOnlyError):
        ConsentFormVersion.objects.all().delete()
    with pytest.raises(AppendOnlyError):
        published.delete()
    published.introduction = "Forged."
    with pytest.raises(AppendOnlyError), transaction.atomic():
        ConsentFormVersion.objects.bulk_update([published], ["introduction"])
    assert ConsentFormVersion.objects.get(pk=published.pk).introduction != "Forged."


def test_raw_sql_cannot_update_a_published_version(published):
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE consents_consentformversion SET closing = %s WHERE id = %s", ["Forged.", published.pk])
    assert ConsentFormVersion.objects.get(pk=published.pk).closing == default_closing()


@pytest.mark.postgres
def test_raw_sql_cannot_delete_a_published_version_on_postgresql(published):
    assert connection.vendor == "postgresql"
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM consents_consentformversion WHERE id = %s", [published.pk])
    assert ConsentFormVersion.objects.filter(pk=published.pk).exists()


@pytest.mark.parametrize("which", [0, 1, 2], ids=["never published", "how long kept", "how to withdraw"])
def test_a_version_cannot_leave_out_what_parents_are_promised(coordinator, which):
    left_out = required_statements()[which]
    form_version_current()
    closing = default_closing().replace(left_out, "")
    with pytest.raises(ConsentError, match="word for word") as refused:
        form_version_publish(
            introduction="Words.",
            purpose_texts=dict.fromkeys(PURPOSES, "x"),
            closing=closing,
            requires_reconsent=False,
            by=coordinator,
        )
    assert left_out in str(refused.value)
    assert [s for s in required_statements() if s in str(refused.value)] == [left_out]
    assert ConsentFormVersion.objects.count() == 1


def test_a_version_may_add_to_the_promises_and_lay_them_out_differently(coordinator):
    form_version_current()
    closing = (
        "Please read this.\n"
        + "\n\n".join(s.upper().replace("'", "\u2019").replace(" ", "  ") for s in required_statements())
        + "\nAsk us anything."
    )
    version = form_version_publish(
        introduction="Words.",
        purpose_texts=dict.fromkeys(PURPOSES, "x"),
        closing=closing,
        requires_reconsent=False,
        by=coordinator,
    )
    assert version.number == 2 and version.closing == closing


def test_the_default_words_tell_parents_what_they_are_promised():
    # The first version is made from these words: names never published, how long photos are kept,
    # and how to withdraw (issue 3, point 3).
    assert "never publish your child's name, your name, where you live or any way to contact you" in default_closing()
    assert "keep photos for up to 3 years and then delete them" in default_closing()
    assert "choose Withdraw, or tell your Family Service Coordinator" in default_closing()
    assert all(statement in default_closing() for statement in required_statements())


def test_a_version_needs_every_purpose_explained(coordinator):
    form_version_current()
    with pytest.raises(ConsentError, match="online"):
        form_version_publish(
            introduction="Words.",
            purpose_texts={p: "x" for p in PURPOSES if p != Purpose.ONLINE},
            closing=default_closing(),
            requires_reconsent=False,
            by=coordinator,
        )
    assert ConsentFormVersion.objects.count() == 1


# --- who gets asked ----------------------------------------------------------------------------------


def test_children_without_current_consent_are_those_with_no_decision_and_no_open_request():
    now = timezone.now()
    _, consented, (c1,) = family_with_child()
    give(consented, c1, at=now - DAY)
    _, nothing, _ = family_with_child()
    _, asked, (c3,) = family_with_child()
    request_for(asked, c3)
    _, asked_long_ago, (c4,) = family_with_child()
    request_for(asked_long_ago, c4, at=now - 20 * DAY)
    _, expired, (c5,) = family_with_child()
    give(expired, c5, at=now - 400 * DAY)
    _, refused, (c6,) = family_with_child()
    give(refused, c6, answers=all_answers(False), at=now - DAY)

    found = children_without_current_consent(Family.objects.all())

    assert {c.pk for c in found} == {nothing.pk, asked_long_ago.pk, expired.pk}
    only_one = children_without_current_consent(Family.objects.filter(pk=nothing.family_id))
    assert [c.pk for c in only_one] == [nothing.pk]


def test_bulk_requests_go_to_the_right_children_only(coordinator, django_capture_on_commit_callbacks):
    now = timezone.now()
    family, nothing, (mum, dad) = family_with_child(carers=2)
    _, consented, (c2,) = family_with_child()
    give(consented, c2, at=now - DAY)
    _, unreachable, _ = family_with_child(carers=0)
    _, elsewhere, _ = family_with_child()

    families = Family.objects.exclude(pk=elsewhere.family_id)
    with django_capture_on_commit_callbacks(execute=True):
        sent, problems = consent_request_bulk(families=families, by=coordinator)

    assert sent == 2
    assert {(r.child_id, r.carer_id) for r in ConsentRequest.objects.all()} == {
        (nothing.pk, mum.pk),
        (nothing.pk, dad.pk),
    }
    assert sorted(m.to[0] for m in mail.outbox) == sorted([mum.email, dad.email])
    assert len(problems) == 1 and unreachable.family.reference in problems[0]

    # A second run finds the same children asked already.
    assert consent_request_bulk(families=families, by=coordinator) == (0, [problems[0]])


def test_reconsent_asks_only_children_whose_consent_is_on_an_older_version(coordinator):
    now = timezone.now()
    _, old, (c1,) = family_with_child()
    give(old, c1, at=now - 30 * DAY)
    _, never, _ = family_with_child()
    _, other_family, (c3,) = family_with_child()
    give(other_family, c3, at=now - 30 * DAY)
    version = publish_version(requires_reconsent=True, at=now - 10 * DAY)
    _, current, (c4,) = family_with_child()
    assert give(current, c4, at=now - DAY).form_version == version

    families = Family.objects.exclude(pk=other_family.family_id)
    result = consent_request_reconsent(families=families, by=coordinator)

    assert (result.sent, result.skipped, result.problems) == (1, 0, [])
    request = ConsentRequest.objects.get()
    assert (request.child, request.carer, request.form_version) == (old, c1, version)
    assert never.pk not in {r.child_id for r in ConsentRequest.objects.all()}


def test_reconsent_a_second_time_sends_nothing_again(coordinator, django_capture_on_commit_callbacks):
    now = timezone.now()
    family, child, (mum, dad) = family_with_child(carers=2)
    give(child, mum, at=now - 30 * DAY)
    version = publish_version(requires_reconsent=True, at=now - 10 * DAY)
    families = Family.objects.all()
    with django_capture_on_commit_callbacks(execute=True):
        first = consent_request_reconsent(families=families, by=coordinator)
    requests_before = list(ConsentRequest.objects.order_by("pk").values_list("pk", "status", "nonce"))

    with django_capture_on_commit_callbacks(execute=True):
        second = consent_request_reconsent(families=families, by=coordinator)

    assert (first.sent, first.skipped) == (2, 0)
    assert (second.sent, second.skipped, second.problems) == (0, 2, [])
    # The links already sent still work: nothing was cancelled and sent again.
    assert list(ConsentRequest.objects.order_by("pk").values_list("pk", "status", "nonce")) == requests_before
    assert len(mail.outbox) == 2

    # Only a carer whose request is no longer open is asked again: one that expired, or a carer added since.
    ConsentRequest.objects.filter(carer=dad).update(expires_at=now - DAY)
    gran = CarerFactory(family=family, relationship="grandmother")
    third = consent_request_reconsent(families=families, by=coordinator)
    assert (third.sent, third.skipped) == (2, 1)
    asked = ConsentRequest.objects.filter(
        status=ConsentRequest.Status.PENDING, expires_at__gt=now, form_version=version
    )
    assert sorted(asked.values_list("carer_id", flat=True)) == sorted([mum.pk, dad.pk, gran.pk])


def test_reconsent_still_asks_a_carer_whose_open_request_is_on_an_older_version(coordinator):
    now = timezone.now()
    _, child, (mum,) = family_with_child()
    give(child, mum, at=now - 30 * DAY)
    older = request_for(child, mum, at=now - DAY)  # a renewal request, on version 1
    publish_version(requires_reconsent=True)

    result = consent_request_reconsent(families=Family.objects.all(), by=coordinator)

    assert (result.sent, result.skipped) == (1, 0)
    older.refresh_from_db()
    assert older.status == ConsentRequest.Status.CANCELLED  # its link would show the old words


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_reconsent_clicks_at_the_same_moment_send_once():
    coordinator = factories.staff_user("coordinator")
    now = timezone.now()
    _, child, (mum,) = family_with_child()
    give(child, mum, at=now - 30 * DAY)
    publish_version(requires_reconsent=True, at=now - DAY)
    barrier = threading.Barrier(2)
    results: list[ReconsentResult] = []
    errors: list[BaseException] = []

    def click() -> None:
        try:
            barrier.wait()
            results.append(consent_request_reconsent(families=Family.objects.all(), by=coordinator))
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=click) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert not errors, errors
    assert sorted((r.sent, r.skipped) for r in results) == [(0, 1), (1, 0)]
    assert ConsentRequest.objects.count() == 1


def test_a_signed_in_parent_can_give_consent_and_it_answers_their_open_request(parent):
    family, child, _ = family_with_child(carers=0)
    carer = CarerFactory(family=family, email=parent.email, user=parent)
    ChildFactory(family=family)
    pending = request_for(child, carer)

    record = consent_give_signed_in(
        user=parent,
        child=child,
        answers=all_answers(True),
        typed_name="Pat Parent",
        confirmed_pr=True,
        signature_data_url="",
        evidence=EVIDENCE,
    )

    assert record.identified_by == ConsentRecord.IdentifiedBy.CODE_SIGN_IN
    pending.refresh_from_db()
    assert pending.status == ConsentRequest.Status.SIGNED
    assert record.request == pending  # the evidence names the request it answered
    assert pending.answered_at == record.signed_at


def test_a_signed_in_parent_with_no_open_request_gives_consent_answering_none(parent):
    family, child, _ = family_with_child(carers=0)
    carer = CarerFactory(family=family, email=parent.email, user=parent)
    lapsed = request_for(child, carer, at=timezone.now() - 20 * DAY)  # past its expiry, not yet swept
    other_child = ChildFactory(family=family)
    elsewhere = request_for(other_child, carer)

    record = consent_give_signed_in(
        user=parent,
        child=child,
        answers=all_answers(True),
        typed_name="Pat Parent",
        confirmed_pr=True,
        signature_data_url="",
        evidence=EVIDENCE,
    )

    assert record.request is None
    lapsed.refresh_from_db()
    elsewhere.refresh_from_db()
    assert lapsed.status == ConsentRequest.Status.PENDING  # the sweep marks it expired; nobody answered it
    assert elsewhere.status == ConsentRequest.Status.PENDING  # another child's request is not answered


def test_a_signed_in_parent_saying_no_to_everything_declines_the_open_request(parent):
    family, child, _ = family_with_child(carers=0)
    carer = CarerFactory(family=family, email=parent.email, user=parent)
    pending = request_for(child, carer)
    consent_give_signed_in(
        user=parent,
        child=child,
        answers=all_answers(False),
        typed_name="Pat Parent",
        confirmed_pr=True,
        signature_data_url="",
        evidence=EVIDENCE,
    )
    pending.refresh_from_db()
    assert pending.status == ConsentRequest.Status.DECLINED


def test_a_double_submit_when_signed_in_makes_one_record(parent, withdrawals):
    family, child, _ = family_with_child(carers=0)
    CarerFactory(family=family, email=parent.email, user=parent)
    arguments = {
        "user": parent,
        "child": child,
        "answers": all_answers(True, print=False),
        "typed_name": "Pat Parent",
        "confirmed_pr": True,
        "signature_data_url": "",
        "evidence": EVIDENCE,
    }
    first = consent_give_signed_in(**arguments)
    second = consent_give_signed_in(**arguments)

    assert second.pk == first.pk
    assert ConsentRecord.objects.count() == 1
    assert len(withdrawals) == 1
    # A different answer is a new decision, not a double submit.
    third = consent_give_signed_in(**{**arguments, "answers": all_answers(True)})
    assert third.pk != first.pk
    assert consent_allows(child=child, purpose=Purpose.PRINT)


def test_a_signed_in_stranger_cannot_give_consent(stranger):
    _, child, _ = family_with_child()
    with pytest.raises(ConsentError):
        consent_give_signed_in(
            user=stranger,
            child=child,
            answers=all_answers(True),
            typed_name="Some One",
            confirmed_pr=True,
            signature_data_url="",
            evidence=EVIDENCE,
        )
    assert not ConsentRecord.objects.exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_submits_at_the_same_moment_make_one_record():
    _, child, (carer,) = family_with_child()
    consent_request = request_for(child, carer)
    barrier = threading.Barrier(2)
    results: list[int] = []
    errors: list[BaseException] = []

    def submit() -> None:
        try:
            barrier.wait()
            results.append(sign(consent_request).pk)
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=submit) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert not errors, errors
    assert len(results) == 2 and results[0] == results[1]
    assert ConsentRecord.objects.count() == 1
    assert len([m for m in mail.outbox if "is saved" in m.subject]) == 1


class DatabaseDown(Exception):
    pass


def _vault_files() -> set[str]:
    from django.conf import settings

    return {str(p) for p in Path(settings.FIG_VAULT_DIR).rglob("*") if p.is_file()}


def test_a_failed_signing_transaction_leaves_no_signature_in_the_vault(pending, monkeypatch):
    """The drawn signature is sealed before the record is written: if the transaction fails, it goes again."""
    before = _vault_files()
    monkeypatch.setattr(
        "consents.services.signing.audit_record", mock.Mock(side_effect=DatabaseDown)
    )  # a write after the seal
    with pytest.raises(DatabaseDown):
        sign(pending, signature=png_data_url(80, 30))
    assert _vault_files() == before
    assert not ConsentRecord.objects.exists()
    monkeypatch.undo()
    record = sign(pending, signature=png_data_url(80, 30))  # the control: a signing that succeeds keeps it
    assert _vault_files() == before | {str(Path(storages["vault"].path(record.signature_blob)))}


def test_a_failed_paper_consent_transaction_leaves_no_scan_in_the_vault(coordinator, monkeypatch):
    _, child, (carer,) = family_with_child()
    form_version_current()  # published now, not inside the failing call
    before = _vault_files()
    monkeypatch.setattr("consents.services.signing.audit_record", mock.Mock(side_effect=DatabaseDown))
    with pytest.raises(DatabaseDown):
        consent_record_offline(
            child=child,
            carer=carer,
            answers=all_answers(True),
            method=ConsentRecord.Method.PAPER,
            taken_by="Sam Coordinator",
            by=coordinator,
            scan=SCAN,
            evidence=EVIDENCE,
        )
    assert _vault_files() == before
    assert not ConsentRecord.objects.exists()
    monkeypatch.undo()
    record = consent_record_offline(
        child=child,
        carer=carer,
        answers=all_answers(True),
        method=ConsentRecord.Method.PAPER,
        taken_by="Sam Coordinator",
        by=coordinator,
        scan=SCAN,
        evidence=EVIDENCE,
    )
    assert _vault_files() == before | {str(Path(storages["vault"].path(record.scan_blob)))}
