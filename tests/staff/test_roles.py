"""Roles are groups made by a migration; object permissions come through django-guardian."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.contrib.auth.models import Group

from staff.roles import Role, has_role, is_staff_member
from tests import factories


@pytest.mark.django_db
def test_the_migration_creates_one_group_per_role():
    assert set(Group.objects.values_list("name", flat=True)) >= {
        "coordinator",
        "photographer",
        "staff",
        "post_writer",
        "social_admin",
        "ceo",
    }
    assert {role.value for role in Role} == {
        "coordinator",
        "photographer",
        "staff",
        "post_writer",
        "social_admin",
        "ceo",
    }


@pytest.mark.django_db
def test_it_tells_staff_from_parents():
    coordinator = factories.staff_user("coordinator")
    parent = factories.parent_user()
    assert is_staff_member(coordinator) and has_role(coordinator, Role.COORDINATOR)
    assert not has_role(coordinator, Role.CEO)
    assert not is_staff_member(parent)


@pytest.mark.django_db
def test_django_guardian_answers_object_permissions():
    from guardian.shortcuts import assign_perm

    assert "guardian.backends.ObjectPermissionBackend" in settings.AUTHENTICATION_BACKENDS
    user, other = factories.staff_user("coordinator"), factories.staff_user("coordinator")
    group = Group.objects.get(name="coordinator")
    assign_perm("auth.change_group", user, group)
    assert user.has_perm("auth.change_group", group)
    assert not other.has_perm("auth.change_group", group)
