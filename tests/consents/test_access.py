"""The access helpers for a family's carers and consent requests: outsiders get 404, overseers 403 on changes."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied
from django.http import Http404

from consents.access import access_carer, access_consent_request, access_parent_carer
from tests import factories
from tests.consents.factories import CarerFactory, family_with_child, request_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(coordinator):
    family, child, (carer,) = family_with_child(coordinator)
    return family, child, carer, request_for(child, carer)


def test_it_gives_a_coordinator_their_familys_request_to_change(coordinator, world):
    _, _, _, consent_request = world
    assert access_consent_request(coordinator, consent_request.pk, write=True) == consent_request


@pytest.mark.parametrize("role", ["social_admin", "ceo"])
def test_an_overseer_sees_a_request_but_may_not_change_it(world, role):
    overseer = factories.staff_user(role)
    _, _, _, consent_request = world
    assert access_consent_request(overseer, consent_request.pk) == consent_request
    with pytest.raises(PermissionDenied):
        access_consent_request(overseer, consent_request.pk, write=True)


@pytest.mark.parametrize("write", [False, True])
def test_a_request_is_not_found_for_outsiders(world, parent, write):
    _, _, _, consent_request = world
    other_coordinator = factories.staff_user("coordinator")
    family_with_child(other_coordinator)
    for outsider in (other_coordinator, parent, factories.staff_user("photographer")):
        with pytest.raises(Http404):
            access_consent_request(outsider, consent_request.pk, write=write)
    with pytest.raises(Http404):
        access_consent_request(factories.staff_user("ceo"), consent_request.pk + 1000, write=write)


def test_it_gives_a_coordinator_a_carer_of_their_family_only(coordinator, world):
    family, _, carer, _ = world
    other_family, _, (stranger_carer,) = family_with_child(factories.staff_user("coordinator"))
    assert access_carer(coordinator, family.reference, carer.pk, write=True) == carer
    with pytest.raises(Http404):
        access_carer(coordinator, family.reference, stranger_carer.pk, write=True)
    with pytest.raises(Http404):
        access_carer(coordinator, other_family.reference, stranger_carer.pk)


def test_an_overseer_may_not_change_a_carer(world):
    family, _, carer, _ = world
    with pytest.raises(PermissionDenied):
        access_carer(factories.staff_user("ceo"), family.reference, carer.pk, write=True)


def test_a_parent_speaks_for_a_child_only_as_a_carer_with_parental_responsibility(world, parent, stranger):
    family, child, _, _ = world
    mum = CarerFactory(family=family, email=parent.email)
    assert access_parent_carer(parent, child) == mum
    CarerFactory(family=family, email=stranger.email, has_parental_responsibility=False)
    with pytest.raises(Http404):
        access_parent_carer(stranger, child)
