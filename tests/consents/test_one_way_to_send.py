"""Every consent request is sent by one function (consents.services.requests.consent_requests_send), so a
mass send and a one-family send apply the same rules: the carer is read again under the family's row lock,
and one who lost parental responsibility or whose address changed since they were listed is not emailed;
a family closed while its requests are being sent is not left with a live link; and a confirmed mass list is
exactly what is sent."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection
from django.utils import timezone

from consents import mass_email
from consents.errors import ConsentError
from consents.models import Carer, ConsentRequest, Family
from consents.services import closure
from consents.services import requests as requests_service
from consents.services.requests import consent_request_bulk, consent_request_send, consent_request_send_to_family
from tests import factories
from tests.consents.factories import CarerFactory, family_with_child, give, publish_version

DAY = timedelta(days=1)

# What changes about a carer while a send is under way, and the reason the send gives for leaving them out.
CHANGES = {
    "lost parental responsibility": ({"has_parental_responsibility": False}, "does not hold parental responsibility"),
    "address corrected": ({"email": "new.address@example.org"}, "email address has just changed"),
    "address removed": ({"email": ""}, "has no email address"),
}


def _pairs(requests) -> set[tuple[int, int, str]]:
    return {(r.child_id, r.carer_id, r.carer.email) for r in requests}


@pytest.mark.django_db
@pytest.mark.parametrize("change", list(CHANGES))
def test_a_mass_send_leaves_out_a_carer_changed_after_the_list_was_read(
    coordinator, monkeypatch, change, django_capture_on_commit_callbacks
):
    """A coordinator saving the carer meanwhile (carer_save does not wait for the families' locks) lands
    between the list being read and the emails going: the mass send then must not reach a carer the
    one-family send would now skip, nor the address that was corrected."""
    family, _, [mum, dad] = family_with_child(coordinator, carers=2)
    fields, reason = CHANGES[change]
    families = Family.objects.filter(pk=family.pk)
    confirmed = mass_email.bulk_request_list(families=families).fingerprint
    listed = mass_email.bulk_request_list

    def listed_then_changed(**kwargs):
        listing = listed(**kwargs)
        Carer.objects.filter(pk=dad.pk).update(**fields)
        return listing

    monkeypatch.setattr(mass_email, "bulk_request_list", listed_then_changed)
    with django_capture_on_commit_callbacks(execute=True):
        listing, sent = mass_email.bulk_request_send(families=families, confirmed=confirmed, by=coordinator)

    assert {r.carer for r in listing.recipients} == {mum, dad}  # the list confirmed
    assert sent.sent == 1 and len(sent.problems) == 1
    assert family.reference in sent.problems[0] and reason in sent.problems[0]
    assert [r.carer for r in ConsentRequest.objects.all()] == [mum]
    assert [m.to for m in mail.outbox] == [[mum.email]]


@pytest.mark.django_db
@pytest.mark.parametrize("change", list(CHANGES))
def test_a_single_send_reads_the_carer_again(coordinator, change, django_capture_on_commit_callbacks):
    """The carer as the coordinator's page read them, changed since: the send goes by the carer as they are."""
    _, child, [mum] = family_with_child(coordinator)
    fields, reason = CHANGES[change]
    Carer.objects.filter(pk=mum.pk).update(**fields)

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(ConsentError, match=reason):
        consent_request_send(child=child, carer=mum, by=coordinator)

    assert not ConsentRequest.objects.exists() and mail.outbox == []


@pytest.mark.django_db
def test_a_confirmed_reconsent_sends_exactly_the_list_confirmed(
    coordinator, monkeypatch, django_capture_on_commit_callbacks
):
    """A carer added between the list being read and the emails going is not emailed: they were not in the
    list the coordinator confirmed (the next list will show them)."""
    family, child, [mum] = family_with_child(coordinator)
    give(child, mum, at=timezone.now() - 30 * DAY)
    publish_version(requires_reconsent=True)
    families = Family.objects.filter(pk=family.pk)
    confirmed = mass_email.reconsent_list(families=families).fingerprint
    listed = mass_email.reconsent_list

    def listed_then_added(**kwargs):
        listing = listed(**kwargs)
        CarerFactory(family=family, full_name="Added Meanwhile")
        return listing

    monkeypatch.setattr(mass_email, "reconsent_list", listed_then_added)
    with django_capture_on_commit_callbacks(execute=True):
        listing, result = mass_email.reconsent_send(families=families, confirmed=confirmed, by=coordinator)

    assert result is not None and result.sent == 1
    assert _pairs(ConsentRequest.objects.select_related("carer")) == {(child.pk, mum.pk, mum.email)}
    assert {(r.child.pk, r.carer.pk, r.carer.email) for r in listing.recipients} == {(child.pk, mum.pk, mum.email)}
    assert [m.to for m in mail.outbox] == [[mum.email]]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_family_closed_while_its_request_is_sent_is_left_with_no_live_link(monkeypatch):
    """The closure is pressed after the send has read the family and before it writes the request. The send
    holds the family's row lock, which family_close takes too, so the closure waits, then cancels the request
    it finds. Never a pending request (and a reminder a week later) in a closed family."""
    coordinator = factories.staff_user("coordinator")
    family, child, [mum] = family_with_child(coordinator)
    current = requests_service.form_version_current
    errors: list[BaseException] = []

    def close() -> None:
        try:
            closure.family_close(family=Family.objects.get(pk=family.pk), by=coordinator, reason="Moved away.")
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)
        finally:
            connection.close()

    closer = threading.Thread(target=close)

    def closed_meanwhile():
        closer.start()
        closer.join(timeout=1)  # with the family locked, the closure waits for the send to commit
        return current()

    monkeypatch.setattr(requests_service, "form_version_current", closed_meanwhile)
    [sent] = consent_request_send_to_family(child=child, by=coordinator)
    closer.join(timeout=30)

    assert not errors, errors
    assert Family.objects.get(pk=family.pk).closed_at is not None
    sent.refresh_from_db()
    assert sent.status == ConsentRequest.Status.CANCELLED  # the closure, after the send, stopped its link


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_bulk_requests_at_the_same_moment_ask_once(monkeypatch):
    """A second "every child without an answer" run starts while the first is sending: it waits for the
    families' locks, then finds the first's requests open and sends nothing (as the confirmed mass send does)."""
    coordinator = factories.staff_user("coordinator")
    _, child, [mum] = family_with_child(coordinator)
    current = requests_service.form_version_current
    second: list[tuple[int, list[str]]] = []
    errors: list[BaseException] = []

    def run_second() -> None:
        try:
            second.append(consent_request_bulk(families=Family.objects.all(), by=coordinator))
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)
        finally:
            connection.close()

    runner = threading.Thread(target=run_second)

    def second_run_meanwhile():
        if runner.ident is None:  # the first run only
            runner.start()
            runner.join(timeout=1)  # with the families locked, the second run waits for the first to commit
        return current()

    monkeypatch.setattr(requests_service, "form_version_current", second_run_meanwhile)
    first = consent_request_bulk(families=Family.objects.all(), by=coordinator)
    runner.join(timeout=30)

    assert not errors, errors
    assert (first, second) == ((1, []), [(0, [])])
    assert [(r.child, r.carer) for r in ConsentRequest.objects.all()] == [(child, mum)]
