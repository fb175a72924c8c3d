"""Mass emails ask first: "request consent for every child without an answer" and re-consent list who
would be emailed (for the register as filtered), send nothing until confirmed, send exactly that list,
and show the list again instead of sending when it changed since."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.core import mail
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from consents.mass_email import bulk_request_list, bulk_request_send
from consents.models import Carer, Child, ConsentRequest, Family
from consents.services.closure import family_close
from staff.models import AuditEvent
from tests import factories
from tests.consents.factories import (
    CarerFactory,
    ChildFactory,
    FamilyFactory,
    assign,
    family_with_child,
    give,
    publish_version,
)

BULK = reverse("consents:request_bulk")
RECONSENT = reverse("consents:reconsent")
DAY = timedelta(days=1)


@pytest.fixture
def other_coordinator(db):
    return factories.staff_user("coordinator", email="other.coordinator@example.org")


@pytest.fixture
def two_families(coordinator):
    """Family `a`: Cleo (no answer) with two carers, Mary O'Neil and Dev; family `b`: Ben (no answer)."""
    a = FamilyFactory()
    assign(coordinator, a)
    cleo = ChildFactory(family=a, first_name="Cleo")
    mary = CarerFactory(family=a, full_name="Mary O'Neil", email="mary@example.org")
    dev = CarerFactory(family=a, full_name="Dev Shah", email="dev@example.org")
    b, ben, [ben_carer] = family_with_child(coordinator)
    Child.objects.filter(pk=ben.pk).update(first_name="Ben")
    return {"a": a, "cleo": cleo, "mary": mary, "dev": dev, "b": b, "ben_carer": ben_carer}


def _confirm(listing, **filters) -> dict[str, str]:
    return {**filters, "confirm": "yes", "fingerprint": listing.fingerprint}


def _nothing_sent() -> bool:
    return not ConsentRequest.objects.exists() and mail.outbox == []


# --- the confirmation page ----------------------------------------------------------------------


@pytest.mark.django_db
def test_it_lists_who_the_filtered_request_would_email_and_sends_nothing(
    client, coordinator, two_families, django_capture_on_commit_callbacks
):
    a = two_families["a"]
    client.force_login(coordinator)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client.get(BULK, {"family": a.reference})
    assert response.status_code == 200
    listing = response.context["listing"]
    assert [(r.child.first_name, r.carer.full_name) for r in listing.recipients] == [
        ("Cleo", "Dev Shah"),
        ("Cleo", "Mary O'Neil"),
    ]
    body = response.content.decode()
    assert "This will email 2 carers about 1 child: 2 emails" in body
    assert "Mary O&#x27;Neil" in body and "mary@example.org" in body and a.reference in body
    assert two_families["b"].reference not in body  # the filter holds: another family is not in the list
    assert "Send 2 emails" in body
    assert f'<input type="hidden" name="family" value="{a.reference}">' in body
    assert callbacks == [] and _nothing_sent()


@pytest.mark.django_db
def test_the_register_button_carries_its_filter_to_the_confirmation(client, coordinator, two_families):
    client.force_login(coordinator)
    reference = two_families["a"].reference
    body = client.get(reverse("consents:register"), {"family": reference}).content.decode()
    assert f'href="{BULK}?family={reference}"' in body
    assert "Request consent for every child without an answer in this list" in body


@pytest.mark.django_db
def test_a_post_without_the_confirmation_only_shows_the_list(client, coordinator, two_families):
    client.force_login(coordinator)
    response = client.post(BULK)
    assert response.status_code == 200
    assert response.context["listing"].emails == 3
    assert _nothing_sent()


@pytest.mark.django_db
def test_it_respects_a_state_filter(client, coordinator, two_families):
    """With "Expired" chosen, only the children whose consent ran out are asked, not those never asked."""
    lapsed, lapsed_carer = ChildFactory(family=two_families["b"], first_name="Lena"), two_families["ben_carer"]
    give(lapsed, lapsed_carer, at=timezone.now() - 800 * DAY)
    client.force_login(coordinator)
    listing = client.get(BULK, {"state": "expired"}).context["listing"]
    assert [(r.child, r.carer) for r in listing.recipients] == [(lapsed, lapsed_carer)]
    response = client.post(BULK, _confirm(listing, state="expired"))
    assert response.status_code == 302
    assert response["Location"] == reverse("consents:register") + "?state=expired"
    assert [(r.child, r.carer) for r in ConsentRequest.objects.all()] == [(lapsed, lapsed_carer)]


# --- sending ----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_confirming_sends_exactly_the_listed_emails(
    client, coordinator, two_families, django_capture_on_commit_callbacks
):
    a = two_families["a"]
    client.force_login(coordinator)
    listing = client.get(BULK, {"family": a.reference}).context["listing"]
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(BULK, _confirm(listing, family=a.reference))
    assert response.status_code == 302
    assert response["Location"] == reverse("consents:register") + f"?family={a.reference}"
    assert sorted((r.child.first_name, r.carer.email) for r in ConsentRequest.objects.all()) == [
        ("Cleo", "dev@example.org"),
        ("Cleo", "mary@example.org"),
    ]
    assert sorted(m.to[0] for m in mail.outbox) == ["dev@example.org", "mary@example.org"]
    assert [str(m) for m in get_messages(response.wsgi_request)] == ["2 consent requests sent."]
    assert AuditEvent.objects.filter(action="consent.requested", actor=coordinator).count() == 2


@pytest.mark.django_db
def test_a_double_submit_sends_once(client, coordinator, two_families, django_capture_on_commit_callbacks):
    client.force_login(coordinator)
    confirm = _confirm(client.get(BULK).context["listing"])
    with django_capture_on_commit_callbacks(execute=True):
        first = client.post(BULK, confirm)
        second = client.post(BULK, confirm)
    assert first.status_code == 302
    assert second.status_code == 409  # the list has changed: everyone in it has been asked
    assert second.context["listing"].emails == 0
    assert "Nothing has been sent" in second.content.decode()
    assert ConsentRequest.objects.count() == 3 and len(mail.outbox) == 3


@pytest.mark.django_db
def test_a_stale_confirmation_shows_the_new_list_and_sends_nothing(
    client, coordinator, two_families, django_capture_on_commit_callbacks
):
    a = two_families["a"]
    client.force_login(coordinator)
    confirm = _confirm(client.get(BULK, {"family": a.reference}).context["listing"], family=a.reference)
    newcomer = ChildFactory(family=a, first_name="Nia")  # added while the page was open
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client.post(BULK, confirm)
    assert response.status_code == 409
    assert callbacks == [] and _nothing_sent()
    listing = response.context["listing"]
    assert {r.child for r in listing.recipients} == {two_families["cleo"], newcomer}
    body = response.content.decode()
    assert "the list changed since you looked at it" in body and "Nia" in body and "Send 4 emails" in body
    # Confirming the list as it is now sends it.
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(BULK, _confirm(listing, family=a.reference)).status_code == 302
    assert ConsentRequest.objects.count() == 4


@pytest.mark.django_db
def test_a_changed_address_is_a_changed_list(client, coordinator, two_families):
    client.force_login(coordinator)
    confirm = _confirm(client.get(BULK).context["listing"])
    Carer.objects.filter(pk=two_families["mary"].pk).update(email="mary.new@example.org")
    assert client.post(BULK, confirm).status_code == 409
    assert _nothing_sent()


@pytest.mark.django_db
def test_it_leaves_out_closed_families_and_says_who_cannot_be_emailed(client, coordinator, two_families):
    family_close(family=two_families["b"], by=coordinator, reason="Moved away.")
    nobody = FamilyFactory()
    assign(coordinator, nobody)
    ChildFactory(family=nobody, first_name="Hal")
    CarerFactory(family=nobody, email="")
    client.force_login(coordinator)
    response = client.get(BULK, {"closed": "on"})  # closed families shown on the register: still not asked
    listing = response.context["listing"]
    assert {r.child for r in listing.recipients} == {two_families["cleo"]}
    assert [c.first_name for c in listing.unreachable] == ["Hal"]
    assert "Nobody can be emailed about 1 child" in response.content.decode()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_confirmations_at_the_same_moment_send_once():
    coordinator = factories.staff_user("coordinator")
    family, _, _ = family_with_child(coordinator)
    families = Family.objects.filter(pk=family.pk)
    confirmed = bulk_request_list(families=families).fingerprint
    barrier = threading.Barrier(2)
    results, errors = [], []

    def click() -> None:
        try:
            barrier.wait()
            results.append(bulk_request_send(families=families, confirmed=confirmed, by=coordinator)[1])
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
    assert sorted(result is None for result in results) == [False, True]  # one sent, one found the list changed
    assert ConsentRequest.objects.count() == 1


# --- re-consent -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_reconsent_lists_first_then_sends_on_confirmation(client, coordinator, django_capture_on_commit_callbacks):
    family, child, [mum] = family_with_child(coordinator)
    give(child, mum)  # on version 1
    publish_version(requires_reconsent=True)
    client.force_login(coordinator)
    response = client.get(RECONSENT)
    assert response.status_code == 200
    assert "This will email 1 carer about 1 child" in response.content.decode()
    assert "Ask families to sign version 2" in response.content.decode()
    assert _nothing_sent()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(RECONSENT, _confirm(response.context["listing"]))
    assert response["Location"] == reverse("consents:form_versions")
    assert [m.to for m in mail.outbox] == [[mum.email]]


@pytest.mark.django_db
def test_a_stale_reconsent_confirmation_sends_nothing(client, coordinator):
    family, child, [mum] = family_with_child(coordinator)
    give(child, mum)
    publish_version(requires_reconsent=True)
    client.force_login(coordinator)
    confirm = _confirm(client.get(RECONSENT).context["listing"])
    CarerFactory(family=family, full_name="New Carer")  # a second carer to ask
    response = client.post(RECONSENT, confirm)
    assert response.status_code == 409 and response.context["listing"].emails == 2
    assert _nothing_sent()


# --- who may -------------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("url", [BULK, RECONSENT])
def test_it_sends_anonymous_people_to_sign_in(client, two_families, url):
    listing = bulk_request_list(families=Family.objects.all())
    for response in (client.get(url), client.post(url, _confirm(listing))):
        assert response.status_code == 302 and response["Location"].startswith(reverse("account_login"))
    assert _nothing_sent()


@pytest.mark.django_db
@pytest.mark.parametrize("persona", ["parent", "ceo"])
@pytest.mark.parametrize("url", [BULK, RECONSENT])
def test_it_refuses_people_who_are_not_coordinators(client, two_families, persona, url, request):
    client.force_login(request.getfixturevalue(persona))
    listing = bulk_request_list(families=Family.objects.all())
    assert client.get(url).status_code == 403
    assert client.post(url, _confirm(listing)).status_code == 403
    assert _nothing_sent()


@pytest.mark.django_db
def test_another_coordinator_neither_sees_nor_sends_to_these_families(client, two_families, other_coordinator):
    theirs, their_child, _ = family_with_child(other_coordinator)
    client.force_login(other_coordinator)
    response = client.get(BULK)
    assert [r.child for r in response.context["listing"].recipients] == [their_child]
    assert two_families["a"].reference not in response.content.decode()
    # Replaying a confirmation of the first coordinator's list: not their list, so nothing is sent.
    mine = bulk_request_list(families=Family.objects.exclude(pk=theirs.pk))
    assert client.post(BULK, _confirm(mine)).status_code == 409
    assert _nothing_sent()
    # Naming the other family in the filter finds nothing.
    assert client.get(BULK, {"family": two_families["a"].reference}).context["listing"].emails == 0


@pytest.mark.django_db
@pytest.mark.parametrize("url", [BULK, RECONSENT])
def test_it_refuses_the_wrong_http_method(client, coordinator, url):
    client.force_login(coordinator)
    assert client.put(url).status_code == 405
    assert client.delete(url).status_code == 405
