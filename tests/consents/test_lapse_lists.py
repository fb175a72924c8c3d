"""Consents running out in the next 30 days, listed on the register and on a coordinator's home page: their
own families only, and a fixed number of queries whatever the number of rows."""

from __future__ import annotations

import datetime as dt

import pytest
from dateutil.relativedelta import relativedelta
from django.urls import reverse
from django.utils import timezone

from consents.models import Child, ConsentRecord, Purpose
from consents.selectors import families_managed_by
from consents.selectors_register import consents_lapsing
from tests import factories
from tests.consents.factories import all_answers, family_with_child, give, request_for, withdraw
from tests.query_counts import STAFF_REQUEST_QUERIES

REGISTER = reverse("consents:register")
HOME = "/"
DAY = dt.timedelta(days=1)


def _signed_for_expiry_in(days: float) -> dt.datetime:
    return timezone.now() - relativedelta(months=12) + dt.timedelta(days=days)


def _named(child: Child, name: str) -> Child:
    Child.objects.filter(pk=child.pk).update(first_name=name, last_name="Lapse")
    child.first_name, child.last_name = name, "Lapse"
    return child


@pytest.fixture
def other_coordinator(db):
    return factories.staff_user("coordinator", email="other.coordinator@example.org")


@pytest.fixture
def lapsing(coordinator, other_coordinator):
    """Ava runs out in 10 days (her parent asked again), Ben in 25 (not asked; he said no to online use),
    Cara in 40 (too far off), Dan ran out yesterday, Eve in 5 days but she has two carers and the other's
    consent runs a year; Frank withdrew everything; Gus, in another coordinator's family, runs out in 3 days."""
    family, ava, [mum] = family_with_child(coordinator)
    _named(ava, "Ava")
    give(ava, mum, at=_signed_for_expiry_in(10))
    request_for(ava, mum)
    second, ben, [dad] = family_with_child(coordinator)
    _named(ben, "Ben")
    give(ben, dad, all_answers(True, online=False), at=_signed_for_expiry_in(25))
    _, cara, [carer] = family_with_child(coordinator)
    give(_named(cara, "Cara"), carer, at=_signed_for_expiry_in(40))
    _, dan, [carer] = family_with_child(coordinator)
    give(_named(dan, "Dan"), carer, at=_signed_for_expiry_in(-1))
    _, eve, [mum, dad] = family_with_child(coordinator, carers=2)
    _named(eve, "Eve")
    give(eve, mum, at=_signed_for_expiry_in(5))
    give(eve, dad, at=timezone.now() - DAY)
    _, frank, [carer] = family_with_child(coordinator)
    give(_named(frank, "Frank"), carer, at=_signed_for_expiry_in(15))
    withdraw(frank, carer, list(all_answers()))  # withdrew everything: nothing left to run out
    elsewhere, gus, [carer] = family_with_child(other_coordinator)
    give(_named(gus, "Gus"), carer, at=_signed_for_expiry_in(3))
    return family, second, elsewhere


def _rows(response) -> list[tuple]:
    return [
        (row.child_name, row.family_reference, row.purposes, row.lapses_at.date(), row.asked)
        for row in response.context["lapsing"]
    ]


@pytest.mark.django_db
def test_the_register_lists_consents_running_out_in_the_next_30_days(client, coordinator, lapsing):
    family, second, elsewhere = lapsing
    client.force_login(coordinator)

    response = client.get(REGISTER)

    assert response.status_code == 200
    rows = response.context["lapsing"]
    assert [(row.child_name, row.purposes, row.asked) for row in rows] == [
        ("Ava Lapse", list(all_answers()), True),
        ("Ben Lapse", [Purpose.PHOTOGRAPHED, Purpose.STORED, Purpose.TRAINING, Purpose.PRINT], False),
    ]
    assert rows[0].family_reference == family.reference and rows[1].family_reference == second.reference
    ava_signed = ConsentRecord.objects.get(child_id=rows[0].child_id).signed_at
    assert rows[0].lapses_at == ava_signed + relativedelta(months=12)
    html = response.content.decode()
    assert "Consent running out in the next 30 days" in html
    assert f"{timezone.localtime(rows[0].lapses_at):%-d %B %Y}" in html  # London's date
    assert reverse("consents:child_history", args=[family.reference, rows[0].child_id]) in html
    assert "Asked, no answer yet" in html and "Not asked" in html
    assert "Gus" not in html and elsewhere.reference not in html  # another coordinator's family


@pytest.mark.django_db
def test_the_register_lists_every_family_for_an_overseer(client, ceo, lapsing):
    client.force_login(ceo)
    names = [row.child_name for row in client.get(REGISTER).context["lapsing"]]
    assert names == ["Gus Lapse", "Ava Lapse", "Ben Lapse"]


@pytest.mark.django_db
def test_a_coordinators_home_page_lists_their_own_families_consents_running_out(
    client, coordinator, other_coordinator, lapsing
):
    family, _, elsewhere = lapsing
    client.force_login(coordinator)
    response = client.get(HOME)
    assert [row.child_name for row in response.context["lapsing"]] == ["Ava Lapse", "Ben Lapse"]
    html = response.content.decode()
    assert "Consent running out in the next 30 days" in html and "Gus" not in html

    client.force_login(other_coordinator)
    response = client.get(HOME)
    assert [row.child_name for row in response.context["lapsing"]] == ["Gus Lapse"]
    assert "Ava" not in response.content.decode() and family.reference not in response.content.decode()


@pytest.mark.django_db
def test_a_coordinator_with_nothing_running_out_is_told_so(client, lapsing):
    quiet = factories.staff_user("coordinator", email="quiet@example.org")
    client.force_login(quiet)
    response = client.get(HOME)
    assert response.context["lapsing"] == []
    assert "No consent runs out in the next 30 days." in response.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["photographer", "staff", "social_admin", "ceo"])
def test_other_staff_get_no_list_on_their_home_page(client, lapsing, role):
    client.force_login(factories.staff_user(role, email=f"{role}.lapse@example.org"))
    response = client.get(HOME)
    assert response.status_code == 200
    assert "lapsing" not in response.context
    assert "Consent running out" not in response.content.decode()


@pytest.mark.django_db
def test_parents_and_visitors_get_no_list(client, parent, lapsing):
    response = client.get(HOME)
    assert "Consent running out" not in response.content.decode()
    assert client.get(REGISTER)["Location"].startswith(reverse("account_login"))
    client.force_login(parent)
    assert "Consent running out" not in client.get(HOME).content.decode()
    assert client.get(REGISTER).status_code == 403


@pytest.mark.django_db
def test_the_register_refuses_staff_without_a_consent_role(client, lapsing):
    client.force_login(factories.staff_user("photographer", email="photographer.lapse@example.org"))
    assert client.get(REGISTER).status_code == 403


@pytest.mark.django_db
def test_a_renewed_consent_is_not_listed(coordinator, lapsing):
    family, _, _ = lapsing
    ava = family.children.get()
    give(ava, family.carers.get())  # renewed today
    assert "Ava Lapse" not in [row.child_name for row in consents_lapsing(families_managed_by(coordinator))]


# --- query counts ---------------------------------------------------------------------------------


def _lapsing_children(coordinator, count: int) -> None:
    for i in range(count):
        _, child, [carer] = family_with_child(coordinator)
        give(child, carer, at=_signed_for_expiry_in(2 + i % 25))
        if i % 2:
            request_for(child, carer)


@pytest.mark.django_db
@pytest.mark.parametrize("count", [1, 12])
def test_the_register_and_home_page_need_the_same_number_of_queries_for_1_and_12_rows(
    client, coordinator, django_assert_num_queries, count
):
    _lapsing_children(coordinator, count)
    client.force_login(coordinator)
    client.get(REGISTER)  # the first request creates the usersession row
    # + the register's own six (see test_register); the children with a yes running out within 30 days,
    # with their family and whether a request is open; their consent positions (children's families,
    # carers with PR, re-consent cutoff, records).
    with django_assert_num_queries(STAFF_REQUEST_QUERIES + 6 + 5):
        response = client.get(REGISTER)
    assert len(response.context["lapsing"]) == count
    # + the home page's current policy and my open reports; the five above.
    with django_assert_num_queries(STAFF_REQUEST_QUERIES + 2 + 5):
        response = client.get(HOME)
    assert len(response.context["lapsing"]) == count
