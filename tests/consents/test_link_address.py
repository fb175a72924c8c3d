"""A signing link dies with the address it was sent to: correcting a carer's email, or taking away their
parental responsibility, cancels what was waiting (audited, in the same transaction), and every link is
bound to the address it was emailed to, so holding an old email signs nothing."""

from __future__ import annotations

import threading
import time

import pytest
from django.core import signing
from django.db import transaction
from django.urls import reverse

from consents.errors import LinkProblem
from consents.links import LINK_SALT, request_link_token
from consents.models import Carer, ConsentRecord, ConsentRequest
from consents.selectors import request_from_token, request_from_token_any
from consents.services.families import carer_save
from staff.models import AuditEvent
from tests.consents.factories import EVIDENCE, PNG_DATA_URL, all_answers, family_with_child, request_for, sign
from tests.threads import at_once

pytestmark = pytest.mark.django_db


@pytest.fixture
def waiting(coordinator):
    family, child, (carer,) = family_with_child(coordinator)
    consent_request = request_for(child, carer)
    return consent_request, request_link_token(consent_request)


def _details(carer: Carer, **changes) -> dict:
    fields = {
        "full_name": carer.full_name,
        "relationship": carer.relationship,
        "email": carer.email,
        "phone": carer.phone,
        "has_parental_responsibility": carer.has_parental_responsibility,
    }
    return {**fields, **changes}


def _sign_form() -> dict:
    return {
        **{f"purpose_{purpose}": "yes" for purpose in all_answers()},
        "typed_name": "Whoever Holds It",
        "confirm_parental_responsibility": "on",
        "signature": PNG_DATA_URL,
    }


def test_correcting_the_email_cancels_the_waiting_link_and_says_so_in_the_audit_trail(waiting, coordinator):
    consent_request, token = waiting
    carer = consent_request.carer
    carer_save(family=carer.family, carer=carer, by=coordinator, **_details(carer, email="new.address@example.org"))

    consent_request.refresh_from_db()
    assert consent_request.status == ConsentRequest.Status.CANCELLED
    with pytest.raises(LinkProblem) as problem:
        request_from_token(token)
    assert problem.value.kind == "invalid"
    event = AuditEvent.objects.get(action="consent.requests_cancelled")
    assert event.details == {"carer": carer.pk, "requests": [consent_request.pk], "because": "email"}
    assert event.actor == coordinator


def test_the_old_email_cannot_sign_through_the_page_after_the_correction(client, waiting, coordinator):
    consent_request, token = waiting
    carer = consent_request.carer
    carer_save(family=carer.family, carer=carer, by=coordinator, **_details(carer, email="new.address@example.org"))

    url = reverse("consents:sign", args=[token])
    assert client.get(url).status_code == 404
    response = client.post(url, _sign_form())
    assert response.status_code == 404
    assert not ConsentRecord.objects.exists()


def test_a_change_that_fails_keeps_the_link(waiting, coordinator):
    # Same transaction: if saving the carer fails, nothing was cancelled either.
    consent_request, token = waiting
    carer = consent_request.carer
    with pytest.raises(RuntimeError), transaction.atomic():
        carer_save(family=carer.family, carer=carer, by=coordinator, **_details(carer, email="new@example.org"))
        raise RuntimeError("the save failed after the cancel")
    consent_request.refresh_from_db()
    assert consent_request.status == ConsentRequest.Status.PENDING
    assert request_from_token(token) == consent_request


def test_taking_away_parental_responsibility_cancels_the_waiting_link(waiting, coordinator):
    consent_request, token = waiting
    carer = consent_request.carer
    carer_save(family=carer.family, carer=carer, by=coordinator, **_details(carer, has_parental_responsibility=False))

    consent_request.refresh_from_db()
    assert consent_request.status == ConsentRequest.Status.CANCELLED
    with pytest.raises(LinkProblem):
        request_from_token(token)
    assert AuditEvent.objects.get(action="consent.requests_cancelled").details["because"] == "responsibility"


@pytest.mark.parametrize("same_address", ["  PARENT.ONE@Example.org ", "parent.one@example.org"])
def test_the_same_address_typed_differently_keeps_the_link(coordinator, same_address):
    family, child, (carer,) = family_with_child(coordinator)
    Carer.objects.filter(pk=carer.pk).update(email="parent.one@example.org")
    carer.refresh_from_db()
    consent_request = request_for(child, carer)
    token = request_link_token(consent_request)

    carer_save(family=family, carer=carer, by=coordinator, **_details(carer, email=same_address, phone="07700 900123"))

    consent_request.refresh_from_db()
    assert consent_request.status == ConsentRequest.Status.PENDING
    assert request_from_token(token) == consent_request
    assert not AuditEvent.objects.filter(action="consent.requests_cancelled").exists()


def test_a_link_is_bound_to_its_address_even_if_the_email_changed_some_other_way(waiting):
    # Belt and braces: an address changed without the service (the admin, a data fix) still kills the link.
    consent_request, token = waiting
    Carer.objects.filter(pk=consent_request.carer_id).update(email="someone.else@example.org")
    with pytest.raises(LinkProblem) as problem:
        request_from_token(token)
    assert problem.value.kind == "invalid"
    assert request_from_token_any(token) is None


def test_a_link_without_an_address_binding_is_invalid(waiting):
    consent_request, _ = waiting
    unbound = signing.dumps({"r": consent_request.pk, "n": consent_request.nonce}, salt=LINK_SALT, compress=True)
    with pytest.raises(LinkProblem) as problem:
        request_from_token(unbound)
    assert problem.value.kind == "invalid"


def test_other_carers_links_in_the_family_keep_working(coordinator):
    family, child, (first, second) = family_with_child(coordinator, carers=2)
    first_request, second_request = request_for(child, first), request_for(child, second)
    carer_save(family=family, carer=first, by=coordinator, **_details(first, email="moved@example.org"))
    assert request_from_token(request_link_token(second_request)) == second_request
    first_request.refresh_from_db()
    assert first_request.status == ConsentRequest.Status.CANCELLED


def test_the_coordinator_is_told_the_old_link_no_longer_works(client, waiting, coordinator):
    consent_request, token = waiting
    carer = consent_request.carer
    client.force_login(coordinator)
    url = reverse("consents:carer_edit", args=[carer.family.reference, carer.pk])
    response = client.post(url, _details(carer, email="new.address@example.org", phone=""), follow=True)
    assert response.status_code == 200
    assert "The consent link sent before this change no longer works" in response.content.decode()
    assert client.get(reverse("consents:sign", args=[token])).status_code == 404


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("change", ["email", "responsibility"])
@pytest.mark.parametrize("path", ["link", "signed in by code"])
def test_a_carer_corrected_while_they_are_giving_consent_waits_for_it_without_a_deadlock(
    coordinator, monkeypatch, change, path
):
    """Giving consent holds the request and then the carer (by link, both at once; signed in by code, the
    request first, as it says). Correcting the carer must take them in the same order, or each waits for the
    other until PostgreSQL kills one of them: the parent's consent or the coordinator's correction lost."""
    from consents.services import signing

    _family, child, (carer,) = family_with_child(coordinator)
    consent_request = request_for(child, carer)
    carer.refresh_from_db()
    holding, correcting = threading.Event(), threading.Event()
    # Pause the parent's transaction just after it has locked the request, while the correction starts.
    where = "_create_given_record" if path == "link" else "_open_request_locked"
    original = getattr(signing, where)

    def paused(**kwargs):
        result = original(**kwargs)
        holding.set()
        correcting.wait(timeout=10)
        time.sleep(0.5)  # the correction is under way, waiting for a lock or holding one
        return result

    monkeypatch.setattr(signing, where, paused)
    changes = {"email": "new.address@example.org"} if change == "email" else {"has_parental_responsibility": False}

    def give() -> None:
        if path == "link":
            sign(consent_request)
            return
        signing.consent_give_signed_in(
            user=carer.user,
            child=child,
            answers=all_answers(),
            typed_name=carer.full_name,
            confirmed_pr=True,
            signature_data_url=PNG_DATA_URL,
            evidence=EVIDENCE,
        )

    def correct() -> None:
        holding.wait(timeout=10)
        correcting.set()
        carer_save(family=carer.family, carer=carer, by=coordinator, **_details(carer, **changes))

    errors = at_once(give, correct)
    assert not errors, errors
    assert ConsentRecord.objects.filter(request=consent_request).count() == 1  # given before the change
    consent_request.refresh_from_db()
    assert consent_request.status == ConsentRequest.Status.SIGNED
    carer.refresh_from_db()
    assert carer.email == "new.address@example.org" if change == "email" else not carer.has_parental_responsibility


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("other", ["closing the family", "sending a new link"])
def test_a_link_signed_while_the_family_is_locked_waits_without_a_deadlock(coordinator, monkeypatch, other):
    """Closing a family and sending a link lock the family and then its requests. A parent pressing "Send"
    in between must not lock the family after the request (signing once locked every row it read)."""
    from consents.models import Family
    from consents.services import requests
    from consents.services.closure import family_close
    from consents.services.requests import consent_request_send

    family, child, (carer,) = family_with_child(coordinator)
    consent_request = request_for(child, carer)
    holding, signing = threading.Event(), threading.Event()

    def pausing(original):
        def paused(*args, **kwargs):
            result = original(*args, **kwargs)
            holding.set()  # the family is locked now
            signing.wait(timeout=10)
            time.sleep(0.5)  # the parent's statement is under way
            return result

        return paused

    if other == "closing the family":
        monkeypatch.setattr(Family, "save", pausing(Family.save))
    else:
        monkeypatch.setattr(requests, "_why_not", pausing(requests._why_not))

    def lock_the_family() -> None:
        if other == "closing the family":
            family_close(family=family, by=coordinator, reason="The family moved away")
        else:
            consent_request_send(child=child, carer=carer, by=coordinator)

    def sign_the_link() -> None:
        holding.wait(timeout=10)
        signing.set()
        sign(consent_request)

    errors = at_once(lock_the_family, sign_the_link)
    assert not errors, errors
    consent_request.refresh_from_db()
    assert consent_request.status == ConsentRequest.Status.SIGNED  # signed while the other waited for it
    family.refresh_from_db()
    if other == "closing the family":
        assert family.closed_at is not None
    else:
        assert ConsentRequest.objects.filter(carer=carer, status=ConsentRequest.Status.PENDING).count() == 1
