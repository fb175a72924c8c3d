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
    event = AuditEvent.objects.get(action="post.register_checked")
    assert event.actor == person and event.details["text_length"] == len("Well done to Tyler Hughes today!")
    assert event.details["children"] == [register[0].pk] and event.details["where"] == "live_check"
    client.post(URL, {"text": "A lovely sunny afternoon in the garden."})
    assert AuditEvent.objects.filter(action="post.register_checked").count() == 1  # no names, no row


@pytest.mark.parametrize("person", ROLES, indirect=True)
def test_the_live_check_is_rate_limited_per_person(client, settings, register, person):
    settings.FIG_LIVE_CHECK_RATES = "3/m"
    client.force_login(person)
    for _ in range(3):
        assert client.post(URL, {"text": "Tyler Hughes"}).status_code == 200
    refused = client.post(URL, {"text": "Maisie Norland"})
    assert refused.status_code == 429 and refused["Retry-After"] == "60"
    assert "Too many checks" in refused.json()["error"] and "findings" not in refused.json()
    assert AuditEvent.objects.filter(action="post.register_checked").count() == 3
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
    assert not AuditEvent.objects.filter(action="post.register_checked").exists()


@pytest.mark.parametrize("person", ROLES, indirect=True)
def test_the_draft_form_shown_again_is_the_same_oracle_counted_and_audited(client, settings, register, person):
    """An invalid draft POST shows the checks on its text again: the same rate and the same audit (audit C)."""
    settings.FIG_LIVE_CHECK_RATES = "2/m"
    client.force_login(person)
    for _ in range(2):
        page = client.post(reverse("social:post_new"), {"text": "Tyler Hughes"})  # no channel: shown again
        assert page.status_code == 400 and "Tyler Hughes" in page.content.decode()
    page = client.post(reverse("social:post_new"), {"text": "Maisie Norland"}).content.decode()
    assert "Too many checks" in page and "matches a child" not in page
    events = AuditEvent.objects.filter(action="post.register_checked")
    assert [e.details["where"] for e in events] == ["draft_form", "draft_form"]
    assert client.post(URL, {"text": "Tyler Hughes"}).status_code == 429  # one rate for both pages


def test_a_familys_contact_details_found_are_audited_too(client, register):
    """Asking whether a phone number is a family's is asking the register (audit D)."""
    carer = register[0].family.carers.create(full_name="Joanne Hughes", phone="07700 900123")
    assert carer.pk
    writer = factories.staff_user("staff", email="writer-probe@example.org")
    client.force_login(writer)
    findings = client.post(URL, {"text": "ring 07700 900 123"}).json()["findings"]
    assert any(f["check"] == "contact" and not f["dismissible"] for f in findings)
    event = AuditEvent.objects.get(action="post.register_checked")
    assert event.details["family_contacts"] == 1 and event.details["children"] == []


def test_saving_a_draft_that_names_the_register_is_audited_with_the_children(register):
    from social.posts.services import post_save_draft

    writer = factories.staff_user("staff", email="saver-probe@example.org")
    post = post_save_draft(
        author=writer, text="Tyler Hughes and Noor Haddad", channels=["website"], scheduled_for=None, photos=[]
    )
    event = AuditEvent.objects.get(action="post.register_checked")
    assert event.details["where"] == "draft_saved" and event.target_id == str(post.pk)
    assert event.details["children"] == sorted([register[0].pk, register[4].pk])


@pytest.mark.redis
def test_with_the_cache_away_the_checks_do_not_run(client, settings, register):
    """The rate cannot be counted, so the register is not answered: a clear 503, nothing audited (audit F)."""
    writer = factories.staff_user("staff", email="outage-probe@example.org")
    client.force_login(writer)
    # Redis gone for the counts; the session keeps a cache of its own here so the request gets that far.
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:1/0"},
        "sessions": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    }
    settings.SESSION_CACHE_ALIAS = "sessions"
    response = client.post(URL, {"text": "Tyler Hughes"})
    assert response.status_code == 503 and "cannot run just now" in response.json()["error"]
    assert not AuditEvent.objects.filter(action="post.register_checked").exists()


def test_the_audit_names_the_child_however_the_name_was_written(client, register):
    """Lower case, a zero-width space or a look-alike letter: the audit row still says which child was asked about."""
    writer = factories.staff_user("staff", email="spelling-probe@example.org")
    client.force_login(writer)
    for text in ("well done to tyler hughes", "Ty\u200bler Hughes", "T\u0443ler Hughes"):
        client.post(URL, {"text": text})
    events = AuditEvent.objects.filter(action="post.register_checked").order_by("pk")
    assert [e.details["children"] for e in events] == [[register[0].pk]] * 3
