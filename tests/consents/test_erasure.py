"""Erasure: after a family asked, nothing that names them is left anywhere in the database or the vault,
the minimised evidence (that consent existed, for what, when, on which form) stays, the audit trail keeps
every event, and another family is untouched."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings
from django.db import models
from django.db.models import Q, TextField
from django.db.models.functions import Cast
from django.utils import timezone

from consents.errors import ConsentError
from consents.models import Carer, Child, ConsentRecord, ErasureRequest
from consents.services import signing as consent_services
from consents.services.erasure import erasure_request_cancel, erasure_request_record, erasures_due, family_erase
from fig_safety.vault import vault_read, vault_save
from photos.models import Photo
from social.models import Message
from staff.models import AuditEvent, OutboxEmail, User
from tests import factories
from tests.consents.factories import EVIDENCE, all_answers, family_with_child, request_for, sign
from tests.photos import images
from tests.photos.fixtures import ready_photo

pytestmark = pytest.mark.django_db

SECRETS = ("Zephyrine", "Quillfeather", "Oberon", "oberon.q@example.org", "900456")
KEPT = ("Marigold", "Thistlewood")  # another family's names: untouched


def _name(family, child, carer, *, first: str, last: str, carer_name: str, email: str, phone: str = "") -> None:
    Child.objects.filter(pk=child.pk).update(first_name=first, last_name=last)
    Carer.objects.filter(pk=carer.pk).update(full_name=carer_name, email=email, phone=phone)
    child.refresh_from_db()
    carer.refresh_from_db()


@pytest.fixture
def world(coordinator, django_capture_on_commit_callbacks):
    photographer = factories.staff_user("photographer", email="photographer@example.org")
    family, child, (carer,) = family_with_child(coordinator)
    _name(
        family,
        child,
        carer,
        first="Zephyrine",
        last="Quillfeather",
        carer_name="Oberon Quillfeather",
        email="oberon.q@example.org",
        phone="07700 900456",
    )
    other_family, other_child, (other_carer,) = family_with_child(coordinator)
    _name(
        other_family,
        other_child,
        other_carer,
        first="Marigold",
        last="Thistlewood",
        carer_name="Rowan Thistlewood",
        email="rowan.t@example.org",
    )
    with django_capture_on_commit_callbacks(execute=True):
        signed = sign(request_for(child, carer))  # a drawn signature, a typed name, an email with both names
        scanned = consent_services.consent_record_offline(
            child=child,
            carer=carer,
            answers=all_answers(),
            method=ConsentRecord.Method.PAPER,
            taken_by="A. Coordinator",
            by=coordinator,
            scan=(images.pdf(), "application/pdf"),
            evidence=EVIDENCE,
        )
        sign(request_for(other_child, other_carer))
    photo = ready_photo(family, [child], photographer)
    group = ready_photo(other_family, [child, other_child], photographer)
    kept_photo = ready_photo(other_family, [other_child], photographer)
    attachment = vault_save(images.jpeg(), folder="inbox-attachments")
    conversation = factories.make_conversation(
        "Please take down the photo of Zephyrine Quillfeather, her dad Oberon (07700 900456)",
        sender_name="Oberon Quillfeather",
        flagged_names=["Zephyrine Quillfeather"],
    )
    Message.objects.filter(conversation=conversation).update(
        attachments=[{"blob": attachment.name, "key_id": attachment.key_id, "content_type": "image/jpeg"}]
    )
    unrelated = factories.make_conversation("Is Zephyrine a nice name for a dog?")  # a first name alone
    other_message = factories.make_conversation("Marigold Thistlewood loved the trip")
    OutboxEmail.objects.create(
        subject="Lapse", body="Zephyrine Quillfeather's consent lapses", to=["coordinator@example.org"]
    )
    return {
        "family": family,
        "child": child,
        "carer": carer,
        "other_family": other_family,
        "signed": signed,
        "scanned": scanned,
        "photo": photo,
        "group": group,
        "kept_photo": kept_photo,
        "attachment": attachment,
        "unrelated": unrelated,
        "other_message": other_message,
        "coordinator": coordinator,
    }


def _text_columns(model: type[models.Model]) -> list[str]:
    return [
        f.name
        for f in model._meta.concrete_fields
        if isinstance(f, models.CharField | models.TextField | models.JSONField | models.EmailField)
    ]


def _found_anywhere(word: str) -> list[str]:
    """Every (table.column #pk) in the whole database whose text holds `word`, case-insensitively."""
    found = []
    for model in apps.get_models():
        if not model._meta.managed or model._meta.proxy:
            continue
        columns = _text_columns(model)
        if not columns:
            continue
        condition = Q()
        for column in columns:
            condition |= Q(**{f"_t_{column}__icontains": word})
        rows = model._base_manager.annotate(**{f"_t_{c}": Cast(c, TextField()) for c in columns}).filter(condition)
        found += [f"{model._meta.db_table} #{pk}" for pk in rows.values_list("pk", flat=True)]
    return found


def _vault_names() -> set[str]:
    root = Path(settings.FIG_VAULT_DIR)
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def test_erasure_leaves_no_name_address_number_signature_or_photo_of_the_family(
    world, django_capture_on_commit_callbacks
):
    for word in SECRETS:
        assert _found_anywhere(word), f"the fixture should have put {word} somewhere"
    signed, scanned, photo = world["signed"], world["scanned"], world["photo"]
    doomed_blobs = {
        signed.signature_blob,
        scanned.scan_blob,
        photo.original_blob,
        photo.thumbnail_blob,
        world["group"].original_blob,
        world["group"].thumbnail_blob,
        world["attachment"].name,
    }
    assert doomed_blobs <= _vault_names()

    with django_capture_on_commit_callbacks(execute=True):
        assert family_erase(family_id=world["family"].pk, reason="Asked by the father") is True

    unrelated = world["unrelated"]
    shares_a_first_name = {
        f"social_conversation #{unrelated.pk}",
        *(f"social_message #{pk}" for pk in unrelated.messages.values_list("pk", flat=True)),
    }
    for word in SECRETS:
        assert set(_found_anywhere(word)) - shares_a_first_name == set(), word
    assert not doomed_blobs & _vault_names()
    for name in _vault_names():
        assert not any(word.lower() in name.lower() for word in SECRETS)
    # The other family is untouched, and so is a message that only shares a first name.
    for word in KEPT:
        assert _found_anywhere(word), word
    world["unrelated"].refresh_from_db()
    assert world["unrelated"].text == "Is Zephyrine a nice name for a dog?"
    kept = world["kept_photo"]
    assert vault_read(name=kept.original_blob, key_id=kept.original_key_id)


@pytest.mark.parametrize(("entered", "written"), [("'", "’"), ("’", "'")])
def test_a_name_written_with_the_other_apostrophe_is_erased_too(
    coordinator, django_capture_on_commit_callbacks, entered, written
):
    family, child, (carer,) = family_with_child(coordinator)
    _name(
        family,
        child,
        carer,
        first="Aoibheann",
        last=f"O{entered}Shaughnessy",
        carer_name=f"Cormac O{entered}Shaughnessy",
        email="cormac.os@example.org",
    )
    factories.make_conversation(f"Lovely photo of Aoibheann O{written}Shaughnessy with her dad")
    with django_capture_on_commit_callbacks(execute=True):
        assert family_erase(family_id=family.pk, reason="Asked by the father") is True
    assert _found_anywhere("Shaughnessy") == []


def test_a_name_written_without_its_accents_is_erased_too(coordinator, django_capture_on_commit_callbacks):
    family, child, (carer,) = family_with_child(coordinator)
    _name(family, child, carer, first="Zoë", last="Ní Bhriain", carer_name="Máire Ní Bhriain", email="m@example.org")
    factories.make_conversation("Lovely photo of Zoe Ni Bhriain with her mam Maire")
    with django_capture_on_commit_callbacks(execute=True):
        assert family_erase(family_id=family.pk, reason="Asked by the mother") is True
    assert _found_anywhere("Bhriain") == []
    assert _found_anywhere("Maire") == []


def test_the_minimised_evidence_stays(world, django_capture_on_commit_callbacks):
    signed = world["signed"]
    before = {
        r.pk: (r.kind, r.answers, r.form_version_id, r.signed_at, r.evidence_sha256, r.text_sha256, r.method)
        for r in ConsentRecord.objects.filter(child=world["child"])
    }
    with django_capture_on_commit_callbacks(execute=True):
        family_erase(family_id=world["family"].pk, reason="Asked")
    after = {
        r.pk: (r.kind, r.answers, r.form_version_id, r.signed_at, r.evidence_sha256, r.text_sha256, r.method)
        for r in ConsentRecord.objects.filter(child=world["child"])
    }
    assert after == before
    record = ConsentRecord.objects.get(pk=signed.pk)
    assert (record.typed_name, record.text_shown, record.signature_blob, record.ip_address, record.user_agent) == (
        "",
        "",
        "",
        None,
        "",
    )
    child = Child.objects.get(pk=world["child"].pk)
    assert (child.first_name, child.last_name) == ("Child 1", world["family"].reference)
    assert child.date_of_birth.month == 1 and child.date_of_birth.day == 1


def test_the_audit_trail_keeps_every_event_and_says_what_was_erased(world, django_capture_on_commit_callbacks):
    events = set(AuditEvent.objects.values_list("pk", "action", "occurred_at", "target_type", "target_id"))
    with django_capture_on_commit_callbacks(execute=True):
        family_erase(family_id=world["family"].pk, reason="Asked")
    after = set(AuditEvent.objects.values_list("pk", "action", "occurred_at", "target_type", "target_id"))
    assert events < after
    erased = AuditEvent.objects.get(action="family.erased")
    assert erased.details["photos_deleted"] == 2 and erased.details["consent_records_minimised"] == 2
    assert not any(word.lower() in str(erased.details).lower() for word in SECRETS)


def test_the_parents_account_is_anonymised_and_off(world, django_capture_on_commit_callbacks):
    user = world["carer"].user
    assert user is not None
    with django_capture_on_commit_callbacks(execute=True):
        family_erase(family_id=world["family"].pk, reason="Asked")
    user = User.objects.get(pk=user.pk)
    assert not user.is_active and not user.has_usable_password()
    assert user.email.endswith("@erased.invalid") and user.full_name == ""


def test_erasing_twice_is_the_same_as_once(world, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        assert family_erase(family_id=world["family"].pk, reason="Asked") is True
    count = AuditEvent.objects.count()
    assert family_erase(family_id=world["family"].pk, reason="Asked") is False
    assert AuditEvent.objects.count() == count


def test_a_request_is_erased_after_its_review_period_unless_cancelled(
    world, settings, django_capture_on_commit_callbacks
):
    settings.FIG_ERASURE_REVIEW_DAYS = 30
    coordinator, family = world["coordinator"], world["family"]
    erasure = erasure_request_record(
        family=family, asked_by="The father, by phone", asked_at=timezone.now(), by=coordinator
    )
    family.refresh_from_db()
    assert family.closed_at is not None  # closed at once
    with pytest.raises(ConsentError):
        erasure_request_record(family=family, asked_by="Again", asked_at=timezone.now(), by=coordinator)

    assert erasures_due(timezone.now() + timedelta(days=29)) == 0
    family.refresh_from_db()
    assert family.erased_at is None
    with django_capture_on_commit_callbacks(execute=True):
        assert erasures_due(timezone.now() + timedelta(days=30, minutes=1)) == 1
    assert erasures_due(timezone.now() + timedelta(days=31)) == 0  # twice is the same as once
    erasure.refresh_from_db()
    family.refresh_from_db()
    assert erasure.status == ErasureRequest.Status.DONE and erasure.erased_at and family.erased_at


def test_a_cancelled_request_is_not_carried_out(world):
    coordinator, family = world["coordinator"], world["family"]
    erasure = erasure_request_record(family=family, asked_by="The father", asked_at=timezone.now(), by=coordinator)
    with pytest.raises(ConsentError):
        erasure_request_cancel(erasure=erasure, by=coordinator, reason="")
    erasure_request_cancel(erasure=erasure, by=coordinator, reason="He changed his mind on the phone.")
    assert erasures_due(timezone.now() + timedelta(days=365)) == 0
    family.refresh_from_db()
    assert family.erased_at is None
    assert Photo.objects.filter(pk=world["photo"].pk, status=Photo.Status.READY).exists()


def test_a_restore_carries_out_erasures_that_fell_due_while_the_backup_sat_on_the_shelf(
    world, settings, django_capture_on_commit_callbacks
):
    from fig_safety.backup import restore_sweeps

    settings.FIG_ERASURE_REVIEW_DAYS = 0
    family = world["family"]
    erasure_request_record(family=family, asked_by="The father", asked_at=timezone.now(), by=world["coordinator"])
    with django_capture_on_commit_callbacks(execute=True):
        for _, sweep in restore_sweeps():
            sweep()
    family.refresh_from_db()
    assert family.erased_at is not None
    assert _found_anywhere("Quillfeather") == []


def test_every_text_column_is_known_to_the_erasure():
    """A new text column must be sorted on purpose: searched and redacted (FREE_TEXT), rewritten by the erasure
    (FAMILY_ROWS), or one that never holds a family's personal data (NEVER_PERSONAL)."""
    from consents.services.erasure import FAMILY_ROWS, FREE_TEXT, NEVER_PERSONAL

    unsorted = []
    for model in apps.get_models():
        label = model._meta.label_lower
        if model._meta.app_label not in {"consents", "photos", "social", "staff"}:
            continue
        for column in model._meta.concrete_fields:
            if not isinstance(column, models.CharField | models.TextField | models.JSONField | models.BinaryField):
                continue
            known = {*FREE_TEXT.get(label, ()), *FAMILY_ROWS.get(label, ()), *NEVER_PERSONAL.get(label, ())}
            if column.name not in known:
                unsorted.append(f"{label}.{column.name}")
    assert unsorted == []
