"""Coordinators assign each other to families; the register says how each consent was given."""

from __future__ import annotations

import threading
import time
from unittest import mock

import pytest
from django.db import connection
from django.urls import reverse

from consents.errors import ConsentError
from consents.selectors import coordinators_of, families_managed_by
from consents.services import families as family_services
from consents.services.families import family_unassign_coordinator
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


def test_the_service_never_removes_the_last_coordinator(coordinator, family):
    with pytest.raises(ConsentError, match="A family needs at least one coordinator."):
        family_unassign_coordinator(family=family, coordinator=coordinator, by=coordinator)
    assert list(coordinators_of(family)) == [coordinator]
    assert not AuditEvent.objects.filter(action="family.coordinator_unassigned").exists()


def test_the_service_removes_a_coordinator_while_another_is_left(coordinator, family):
    colleague = factories.staff_user("coordinator")
    cf.assign(colleague, family)
    family_unassign_coordinator(family=family, coordinator=colleague, by=coordinator)
    assert list(coordinators_of(family)) == [coordinator]
    assert AuditEvent.objects.filter(
        action="family.coordinator_unassigned", details__coordinator=colleague.email
    ).exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_coordinators_taking_each_other_off_at_once_leave_one():
    assert connection.vendor == "postgresql"
    first, second = factories.staff_user("coordinator"), factories.staff_user("coordinator")
    family, _child, _carers = cf.family_with_child(coordinator=first)
    cf.assign(second, family)
    original = family_services.remove_perm

    def slow_remove(*args, **kwargs):
        time.sleep(0.3)  # both have counted before either removes, unless the family's row lock makes them take turns
        return original(*args, **kwargs)

    barrier = threading.Barrier(2)
    refused: list[ConsentError] = []
    errors: list[BaseException] = []

    def take_off(by, coordinator) -> None:
        try:
            barrier.wait()
            family_unassign_coordinator(family=family, coordinator=coordinator, by=by)
        except ConsentError as exc:
            refused.append(exc)
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)
        finally:
            connection.close()

    with mock.patch.object(family_services, "remove_perm", slow_remove):
        threads = [
            threading.Thread(target=take_off, args=(first, second)),
            threading.Thread(target=take_off, args=(second, first)),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)

    assert not errors, errors
    assert [str(exc) for exc in refused] == ["A family needs at least one coordinator."]
    assert coordinators_of(family).count() == 1
