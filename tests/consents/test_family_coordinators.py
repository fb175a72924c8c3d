"""Coordinators assign each other to families; the register says how each consent was given."""

from __future__ import annotations

import pytest
from django.urls import reverse

from consents.selectors import coordinators_of, families_managed_by
from staff.models import AuditEvent
from tests import factories
from tests.consents import factories as cf


@pytest.fixture
def family(db, coordinator):
    family, _child, _carers = cf.family_with_child(coordinator=coordinator)
    return family


def _url(family) -> str:
    return reverse("consents:family_coordinators", args=[family.reference])


def test_it_assigns_another_coordinator(client, coordinator, family):
    colleague = factories.staff_user("coordinator")
    client.force_login(coordinator)
    response = client.post(_url(family), {"user": colleague.pk})
    assert response.status_code == 302
    assert family in families_managed_by(colleague)
    assert AuditEvent.objects.filter(
        action="family.coordinator_assigned", details__coordinator=colleague.email
    ).exists()


def test_it_removes_a_coordinator_but_never_the_last(client, coordinator, family):
    colleague = factories.staff_user("coordinator")
    cf.assign(colleague, family)
    client.force_login(coordinator)
    client.post(_url(family), {"user": colleague.pk, "action": "remove"})
    assert list(coordinators_of(family)) == [coordinator]
    response = client.post(_url(family), {"user": coordinator.pk, "action": "remove"}, follow=True)
    assert b"at least one coordinator" in response.content
    assert list(coordinators_of(family)) == [coordinator]


def test_it_only_assigns_people_with_the_coordinator_role(client, coordinator, family):
    photographer = factories.staff_user("photographer")
    client.force_login(coordinator)
    assert client.post(_url(family), {"user": photographer.pk}).status_code == 404
    assert family not in families_managed_by(photographer)


@pytest.mark.parametrize("role", ["social_admin", "ceo"])
def test_overseers_cannot_assign(client, family, role):
    overseer = factories.staff_user(role)
    colleague = factories.staff_user("coordinator")
    client.force_login(overseer)
    assert client.post(_url(family), {"user": colleague.pk}).status_code == 403
    assert family not in families_managed_by(colleague)


def test_a_coordinator_of_another_family_gets_404(client, family):
    outsider = factories.staff_user("coordinator")
    client.force_login(outsider)
    assert client.post(_url(family), {"user": outsider.pk}).status_code == 404
    assert family not in families_managed_by(outsider)


def test_it_is_post_only_and_needs_sign_in(client, coordinator, family):
    client.force_login(coordinator)
    assert client.get(_url(family)).status_code == 405
    client.logout()
    assert client.post(_url(family), {"user": coordinator.pk}).status_code == 302


def test_the_family_page_lists_its_coordinators(client, coordinator, family):
    client.force_login(coordinator)
    response = client.get(reverse("consents:family_detail", args=[family.reference]))
    assert coordinator.email.encode() in response.content
