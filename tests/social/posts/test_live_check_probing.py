"""No probing the consent register through the live check (issue 14, point 6): it is rate-limited per person,
a check that finds register names writes an audit row, and a text listing many names gets one finding that
does not echo them. As a member of staff, a photographer and a social media administrator."""

from __future__ import annotations

import pytest
from django.urls import reverse

from staff.models import AuditEvent
from tests import factories
from tests.consents.factories import ChildFactory, FamilyFactory

URL = reverse("social:live_check")
ROLES = ["staff", "photographer", "social_admin"]


@pytest.fixture
def register(db):
    """Six children in the register."""
    family = FamilyFactory()
    names = ["Tyler Hughes", "Maisie Norland", "Ruby Ashcombe", "Idris Pellow", "Noor Haddad", "Otis Brannagh"]
    return [ChildFactory(family=family, first_name=n.split()[0], last_name=n.split()[1]) for n in names]


@pytest.fixture
def person(request, db):
    return factories.staff_user(request.param, email=f"{request.param}-probe@example.org")


@pytest.mark.parametrize("person", ROLES, indirect=True)
def test_a_check_that_finds_register_names_is_audited(client, register, person):
    client.force_login(person)
    response = client.post(URL, {"text": "Well done to Tyler Hughes today!"})
    assert response.status_code == 200
    assert any(f["check"] == "names" for f in response.json()["findings"])
    event = AuditEvent.objects.get(action="post.live_check_names")
    assert event.actor == person and event.details["text_length"] == len("Well done to Tyler Hughes today!")
    client.post(URL, {"text": "A lovely sunny afternoon in the garden."})
    assert AuditEvent.objects.filter(action="post.live_check_names").count() == 1  # no names, no row


@pytest.mark.parametrize("person", ROLES, indirect=True)
def test_the_live_check_is_rate_limited_per_person(client, settings, register, person):
    settings.FIG_LIVE_CHECK_RATES = "3/m"
    client.force_login(person)
    for _ in range(3):
        assert client.post(URL, {"text": "Tyler Hughes"}).status_code == 200
    refused = client.post(URL, {"text": "Maisie Norland"})
    assert refused.status_code == 429 and refused["Retry-After"] == "60"
    assert "Too many checks" in refused.json()["error"] and "findings" not in refused.json()
    assert AuditEvent.objects.filter(action="post.live_check_names").count() == 3
    # Someone else is not held up by it.
    other = factories.staff_user("staff", email="someone-else@example.org")
    client.force_login(other)
    assert client.post(URL, {"text": "Hello"}).status_code == 200


@pytest.mark.parametrize("person", ROLES, indirect=True)
def test_a_list_of_names_gets_one_finding_that_does_not_echo_them(client, register, person):
    client.force_login(person)
    text = ", ".join(f"{c.first_name} {c.last_name}" for c in register)
    findings = client.post(URL, {"text": text}).json()["findings"]
    names = [f for f in findings if f["check"] == "names"]
    assert len(names) == 1
    echoed = " ".join(names[0]["matches"]) + " " + names[0]["explanation"] + " " + names[0]["title"]
    assert not any(c.last_name in echoed for c in register)
    assert "several children" in (names[0]["title"] + " " + names[0]["explanation"]).lower()


def test_the_live_check_refuses_parents_and_anonymous_people(client, register):
    assert client.post(URL, {"text": "Tyler Hughes"}).status_code in {302, 403}
    parent = factories.parent_user(email="parent-probe@example.org")
    client.force_login(parent)
    assert client.post(URL, {"text": "Tyler Hughes"}).status_code in {403, 404}
    assert not AuditEvent.objects.filter(action="post.live_check_names").exists()
