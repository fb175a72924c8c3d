"""Video home visits: the policy checklist, approved platforms, who sees which visits, and the
public guidance for families.

Personas: a member of staff, another member of staff, the CEO, a parent and an
anonymous visitor (a family reading the guidance).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from staff.models import AuditEvent, VirtualVisit
from tests import factories
from tests.query_counts import STAFF_REQUEST_QUERIES

ROLES = ["coordinator", "photographer", "staff", "social_admin", "ceo"]
CHECKLIST = ["confidential_space", "not_overheard_or_interrupted", "guidance_given"]


@pytest.fixture
def teams(db):
    return factories.ApprovedPlatformFactory(name="Microsoft Teams (FiG tenant)")


@pytest.fixture
def retired(db):
    return factories.ApprovedPlatformFactory(
        name="Skype (retired)", is_active=False, security_notes="No longer meets FiG's standard."
    )


@pytest.fixture
def other_member_of_staff(db):
    return factories.staff_user("coordinator", email="other.coordinator@example.org")


def _local(moment: datetime) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%dT%H:%M")


def _form(platform, **overrides) -> dict[str, str]:
    return {
        "family_reference": " demo-1 ",
        "held_at": _local(timezone.now() - timedelta(hours=2)),
        "platform": str(platform.pk),
        "confidential_space": "on",
        "not_overheard_or_interrupted": "on",
        "guidance_given": "on",
        "notes": "Talked through the consent form.",
        **overrides,
    }


def _visit(staff_member, platform, family_reference="FAM-1", hours_ago=1) -> VirtualVisit:
    return VirtualVisit.objects.create(
        staff_member=staff_member,
        platform=platform,
        family_reference=family_reference,
        held_at=timezone.now() - timedelta(hours=hours_ago),
        confidential_space=True,
        not_overheard_or_interrupted=True,
        guidance_given=True,
    )


# --- recording a visit ------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
def test_it_records_a_visit_with_the_checklist(client, teams, role):
    user = factories.staff_user(role)
    client.force_login(user)
    assert client.get(reverse("staff:visit_new")).status_code == 200
    held_at = (timezone.now() - timedelta(hours=2)).replace(second=0, microsecond=0)

    response = client.post(reverse("staff:visit_new"), _form(teams, held_at=_local(held_at)), REMOTE_ADDR="192.0.2.7")

    assert response.status_code == 302
    assert response["Location"] == reverse("staff:visit_list")
    visit = VirtualVisit.objects.get()
    assert (visit.staff_member, visit.platform, visit.family_reference, visit.held_at) == (
        user,
        teams,
        "DEMO-1",
        held_at,
    )
    assert visit.confidential_space and visit.not_overheard_or_interrupted and visit.guidance_given
    assert visit.notes == "Talked through the consent form."
    event = AuditEvent.objects.get(action="visit.recorded")
    assert (event.actor, event.target_id, event.ip_address) == (user, str(visit.pk), "192.0.2.7")
    assert event.details == {"family_reference": "DEMO-1", "platform": teams.name}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("field", "message"),
    [
        ("confidential_space", "The policy requires a confidential space."),
        ("not_overheard_or_interrupted", "The policy requires that you cannot be overheard or interrupted."),
        ("guidance_given", "Give the family the guidance (the link is below) before recording the visit."),
    ],
)
def test_it_refuses_a_visit_with_a_box_unticked(client, member_of_staff, teams, field, message):
    client.force_login(member_of_staff)
    data = _form(teams)
    del data[field]

    response = client.post(reverse("staff:visit_new"), data)

    assert response.status_code == 200
    assert list(response.context["form"].errors) == [field]
    assert message.encode() in response.content
    assert not VirtualVisit.objects.exists()
    assert not AuditEvent.objects.filter(action="visit.recorded").exists()


@pytest.mark.django_db
def test_it_refuses_a_platform_that_is_no_longer_approved(client, member_of_staff, teams, retired):
    client.force_login(member_of_staff)
    response = client.post(reverse("staff:visit_new"), _form(retired))
    assert response.status_code == 200
    assert list(response.context["form"].errors) == ["platform"]
    assert b"That platform is not on FiG&#x27;s approved list." in response.content
    assert not VirtualVisit.objects.exists()
    assert not AuditEvent.objects.filter(action="visit.recorded").exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("platform", "message"),
    [
        ("999999", "That platform is not on FiG&#x27;s approved list."),
        ("zoom", "That platform is not on FiG&#x27;s approved list."),
        ("", "Choose the video platform the visit was held on."),
    ],
)
def test_it_refuses_an_unknown_platform(client, member_of_staff, teams, platform, message):
    client.force_login(member_of_staff)
    response = client.post(reverse("staff:visit_new"), {**_form(teams), "platform": platform})
    assert response.status_code == 200
    assert message.encode() in response.content
    assert not VirtualVisit.objects.exists()


@pytest.mark.django_db
def test_it_offers_only_active_platforms(client, member_of_staff, teams, retired):
    client.force_login(member_of_staff)
    response = client.get(reverse("staff:visit_new"))
    assert list(response.context["form"].fields["platform"].queryset) == [teams]
    assert teams.name.encode() in response.content
    assert retired.name.encode() not in response.content
    assert b"No video platforms have been approved yet" not in response.content


@pytest.mark.django_db
def test_it_warns_when_no_platform_is_approved(client, member_of_staff, retired):
    client.force_login(member_of_staff)
    response = client.get(reverse("staff:visit_new"))
    assert b"No video platforms have been approved yet" in response.content


@pytest.mark.django_db
def test_it_refuses_a_visit_in_the_future(client, member_of_staff, teams):
    client.force_login(member_of_staff)
    later = _local(timezone.now() + timedelta(hours=1))
    response = client.post(reverse("staff:visit_new"), _form(teams, held_at=later))
    assert response.status_code == 200
    assert response.context["form"].errors["held_at"] == ["The visit cannot be in the future."]
    assert b"The visit cannot be in the future." in response.content
    assert not VirtualVisit.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(("field", "value"), [("held_at", "yesterday afternoon"), ("family_reference", "")])
def test_it_refuses_a_visit_without_a_time_or_family(client, member_of_staff, teams, field, value):
    client.force_login(member_of_staff)
    response = client.post(reverse("staff:visit_new"), _form(teams, **{field: value}))
    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert not VirtualVisit.objects.exists()


@pytest.mark.django_db
def test_it_refuses_the_wrong_method_for_recording(client, member_of_staff, teams):
    client.force_login(member_of_staff)
    assert client.put(reverse("staff:visit_new"), _form(teams)).status_code == 405
    assert not VirtualVisit.objects.exists()


@pytest.mark.django_db
def test_it_keeps_parents_from_recording_visits(client, parent, teams):
    client.force_login(parent)
    assert client.get(reverse("staff:visit_new")).status_code == 403
    assert client.post(reverse("staff:visit_new"), _form(teams)).status_code == 403
    assert not VirtualVisit.objects.exists()


@pytest.mark.django_db
def test_it_sends_anonymous_people_from_recording_to_sign_in(client, teams):
    response = client.post(reverse("staff:visit_new"), _form(teams))
    assert response["Location"] == reverse("account_login") + "?next=" + reverse("staff:visit_new")
    assert not VirtualVisit.objects.exists()


# --- the list ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_lists_only_their_own_visits_for_a_member_of_staff(client, member_of_staff, other_member_of_staff, teams):
    own = _visit(member_of_staff, teams, "FAM-MINE")
    _visit(other_member_of_staff, teams, "FAM-THEIRS")
    client.force_login(member_of_staff)
    response = client.get(reverse("staff:visit_list"))
    assert response.status_code == 200
    assert list(response.context["page"]) == [own]
    assert b"FAM-MINE" in response.content
    assert b"FAM-THEIRS" not in response.content


@pytest.mark.django_db
def test_it_lists_every_visit_for_the_ceo_newest_first(client, ceo, member_of_staff, other_member_of_staff, teams):
    older = _visit(member_of_staff, teams, "FAM-OLD", hours_ago=48)
    newer = _visit(other_member_of_staff, teams, "FAM-NEW", hours_ago=1)
    client.force_login(ceo)
    response = client.get(reverse("staff:visit_list"))
    assert list(response.context["page"]) == [newer, older]
    assert escape(str(member_of_staff)).encode() in response.content
    assert escape(str(other_member_of_staff)).encode() in response.content


@pytest.mark.django_db
def test_it_refuses_the_wrong_method_for_the_list(client, member_of_staff):
    client.force_login(member_of_staff)
    assert client.post(reverse("staff:visit_list")).status_code == 405


@pytest.mark.django_db
def test_it_keeps_parents_and_anonymous_people_off_the_list(client, parent):
    assert client.get(reverse("staff:visit_list"))["Location"].startswith(reverse("account_login") + "?next=")
    client.force_login(parent)
    assert client.get(reverse("staff:visit_list")).status_code == 403


@pytest.mark.django_db
@pytest.mark.parametrize("rows", [2, 20])
def test_the_list_takes_the_same_number_of_queries_for_any_number_of_rows(
    client, ceo, teams, rows, django_assert_num_queries
):
    zoom = factories.ApprovedPlatformFactory(name="Zoom (FiG licence)")
    for n in range(rows):
        _visit(factories.staff_user("coordinator"), [teams, zoom][n % 2], f"FAM-{n}", hours_ago=n + 1)
    client.force_login(ceo)
    client.get(reverse("staff:visit_list"))  # the first request creates the usersession row

    # + the count for the paginator, and one page of visits with their platforms and staff.
    with django_assert_num_queries(STAFF_REQUEST_QUERIES + 2):
        response = client.get(reverse("staff:visit_list"))
    assert len(response.context["page"]) == rows


# --- guidance for families ------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_shows_families_the_guidance_without_signing_in(client, teams, retired):
    zoom = factories.ApprovedPlatformFactory(name="Zoom (FiG licence)", security_notes="End-to-end encryption on.")
    response = client.get(reverse("staff:visit_guidance"))
    assert response.status_code == 200
    html = response.content.decode()
    assert f"{teams.name}, {zoom.name}" in html
    assert retired.name not in html
    # Plain words for families: what to do, not the administrators' security notes.
    for advice in ("Find a quiet room", "Use headphones", "Do not share the meeting link", "end the call at any time"):
        assert advice in html
    assert "End-to-end encryption" not in html
    assert "No longer meets" not in html


@pytest.mark.django_db
def test_it_shows_the_guidance_to_parents_and_staff(client, parent, member_of_staff, teams):
    for user in (parent, member_of_staff):
        client.force_login(user)
        response = client.get(reverse("staff:visit_guidance"))
        assert response.status_code == 200
        assert teams.name.encode() in response.content


@pytest.mark.django_db
def test_it_refuses_the_wrong_method_for_the_guidance(client):
    assert client.post(reverse("staff:visit_guidance")).status_code == 405
