"""Breach reports: any member of staff reports, only the reporter and the CEO see, only the CEO decides.

Personas: the reporter (a member of staff), the CEO, another member of staff,
a superuser administrator without the CEO role, a parent and an anonymous visitor.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.core import mail
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from staff.models import AuditEvent, BreachReport
from tests import factories
from tests.query_counts import STAFF_REQUEST_QUERIES

ROLES = ["coordinator", "photographer", "staff", "social_admin", "ceo"]
SECRET_DESCRIPTION = "Jo posted a photo of the Smith twins outside their house on a private page."


@pytest.fixture
def other_member_of_staff(db):
    return factories.staff_user("staff", email="other.staff@example.org")


@pytest.fixture
def administrator(db):
    user = factories.UserFactory(roles=[], is_superuser=True, is_staff=True, email="admin@example.org")
    factories.add_totp(user)
    return user


@pytest.fixture
def report(member_of_staff):
    return factories.BreachReportFactory(reporter=member_of_staff, description=SECRET_DESCRIPTION)


def _form(**overrides) -> dict[str, str]:
    return {
        "occurred_on": (timezone.localdate() - timedelta(days=1)).isoformat(),
        "where": "A private Facebook group",
        "description": SECRET_DESCRIPTION,
        "people_involved": "Jo (volunteer)",
        **overrides,
    }


def _messages(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


# --- reporting ------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
def test_it_lets_any_member_of_staff_report(client, role, ceo, django_capture_on_commit_callbacks):
    reporter = ceo if role == "ceo" else factories.staff_user(role)
    client.force_login(reporter)
    assert client.get(reverse("staff:breach_new")).status_code == 200

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("staff:breach_new"), _form())

    report = BreachReport.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("staff:breach_detail", args=[report.pk])
    assert (report.reporter, report.status, report.description, report.people_involved) == (
        reporter,
        "new",
        SECRET_DESCRIPTION,
        "Jo (volunteer)",
    )
    assert report.occurred_on == timezone.localdate() - timedelta(days=1)
    assert AuditEvent.objects.filter(action="breach.reported", actor=reporter, target_id=str(report.pk)).count() == 1
    assert "Thank you. Your report has gone to the CEO only." in _messages(response)
    assert [message.to for message in mail.outbox] == [[ceo.email]]


@pytest.mark.django_db
def test_it_tells_the_ceo_without_the_details(client, member_of_staff, ceo, django_capture_on_commit_callbacks):
    second_ceo = factories.staff_user("ceo", email="deputy.ceo@example.org")
    client.force_login(member_of_staff)

    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("staff:breach_new"), _form())

    report = BreachReport.objects.get()
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert sorted(message.to) == sorted([ceo.email, second_ceo.email])
    assert member_of_staff.email not in message.to
    assert f"#{report.pk}" in message.subject
    assert reverse("staff:breach_detail", args=[report.pk]) in message.body
    for secret in (SECRET_DESCRIPTION, "Smith", "Jo (volunteer)"):
        assert secret not in message.body
        assert secret not in message.subject


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("overrides", "field", "error"),
    [
        (
            {"occurred_on": (timezone.localdate() + timedelta(days=2)).isoformat()},
            "occurred_on",
            "The date cannot be in the future.",
        ),
        ({"description": ""}, "description", "This field is required."),
        ({"where": ""}, "where", "This field is required."),
        ({"occurred_on": "last Tuesday"}, "occurred_on", "Enter a valid date."),
    ],
)
def test_it_refuses_a_report_that_is_not_complete(
    client, member_of_staff, ceo, overrides, field, error, django_capture_on_commit_callbacks
):
    client.force_login(member_of_staff)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("staff:breach_new"), _form(**overrides))
    assert response.status_code == 200
    assert response.context["form"].errors[field] == [error]
    assert error.encode() in response.content
    assert not BreachReport.objects.exists()
    assert not AuditEvent.objects.filter(action="breach.reported").exists()
    assert mail.outbox == []


@pytest.mark.django_db
def test_it_refuses_the_wrong_method_for_reporting(client, member_of_staff):
    client.force_login(member_of_staff)
    assert client.put(reverse("staff:breach_new"), _form()).status_code == 405
    assert not BreachReport.objects.exists()


@pytest.mark.django_db
def test_it_keeps_parents_from_reporting_here(client, parent):
    client.force_login(parent)
    assert client.get(reverse("staff:breach_new")).status_code == 403
    assert client.post(reverse("staff:breach_new"), _form()).status_code == 403
    assert not BreachReport.objects.exists()


@pytest.mark.django_db
def test_it_sends_anonymous_reporters_to_sign_in(client):
    response = client.post(reverse("staff:breach_new"), _form())
    assert response["Location"] == reverse("account_login") + "?next=" + reverse("staff:breach_new")
    assert not BreachReport.objects.exists()


# --- reading a report -------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_shows_the_reporter_their_report_without_the_ceo_form(client, report):
    client.force_login(report.reporter)
    response = client.get(reverse("staff:breach_detail", args=[report.pk]))
    assert response.status_code == 200
    assert SECRET_DESCRIPTION.encode() in response.content
    assert response.context["form"] is None
    assert reverse("staff:breach_update", args=[report.pk]).encode() not in response.content


@pytest.mark.django_db
def test_it_shows_the_ceo_the_report_with_the_form(client, report, ceo):
    client.force_login(ceo)
    response = client.get(reverse("staff:breach_detail", args=[report.pk]))
    assert response.status_code == 200
    assert SECRET_DESCRIPTION.encode() in response.content
    assert escape(str(report.reporter)).encode() in response.content  # a name like O'Sullivan is escaped
    assert reverse("staff:breach_update", args=[report.pk]).encode() in response.content


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["coordinator", "photographer", "staff", "social_admin"])
def test_it_hides_a_report_from_other_staff(client, report, role):
    client.force_login(factories.staff_user(role))
    response = client.get(reverse("staff:breach_detail", args=[report.pk]))
    assert response.status_code == 404
    assert SECRET_DESCRIPTION.encode() not in response.content


@pytest.mark.django_db
def test_it_hides_a_report_from_a_superuser_without_the_ceo_role(client, report, administrator):
    client.force_login(administrator)
    assert client.get(reverse("staff:breach_detail", args=[report.pk])).status_code == 404


@pytest.mark.django_db
def test_it_forbids_reports_to_parents(client, report, parent):
    client.force_login(parent)
    assert client.get(reverse("staff:breach_detail", args=[report.pk])).status_code == 403


@pytest.mark.django_db
def test_it_sends_anonymous_readers_to_sign_in(client, report):
    url = reverse("staff:breach_detail", args=[report.pk])
    response = client.get(url)
    assert response["Location"] == reverse("account_login") + "?next=" + url


@pytest.mark.django_db
def test_it_gives_404_for_a_report_that_does_not_exist(client, ceo):
    client.force_login(ceo)
    assert client.get(reverse("staff:breach_detail", args=[999999])).status_code == 404


@pytest.mark.django_db
def test_it_refuses_the_wrong_method_for_a_report(client, report):
    client.force_login(report.reporter)
    assert client.post(reverse("staff:breach_detail", args=[report.pk])).status_code == 405


# --- the list -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_lists_only_their_own_reports_for_a_member_of_staff(client, report, other_member_of_staff):
    others = factories.BreachReportFactory(reporter=other_member_of_staff, where="A group chat about a trip")
    client.force_login(report.reporter)
    response = client.get(reverse("staff:breach_list"))
    assert response.status_code == 200
    assert list(response.context["page"]) == [report]
    assert b"Your breach reports" in response.content
    assert reverse("staff:breach_detail", args=[others.pk]).encode() not in response.content
    assert b"A group chat about a trip" not in response.content


@pytest.mark.django_db
def test_it_lists_every_report_for_the_ceo(client, report, other_member_of_staff, ceo):
    others = factories.BreachReportFactory(reporter=other_member_of_staff)
    client.force_login(ceo)
    response = client.get(reverse("staff:breach_list"))
    assert set(response.context["page"]) == {report, others}
    assert escape(str(other_member_of_staff)).encode() in response.content  # the "By" column


@pytest.mark.django_db
def test_it_lists_only_their_own_reports_for_a_superuser(client, report, administrator):
    own = factories.BreachReportFactory(reporter=administrator)
    client.force_login(administrator)
    response = client.get(reverse("staff:breach_list"))
    assert list(response.context["page"]) == [own]


@pytest.mark.django_db
def test_it_filters_the_list_by_status(client, report, ceo):
    closed = factories.BreachReportFactory(status="closed", outcome="Dealt with.")
    client.force_login(ceo)
    assert list(client.get(reverse("staff:breach_list"), {"status": "closed"}).context["page"]) == [closed]
    assert list(client.get(reverse("staff:breach_list"), {"status": "new"}).context["page"]) == [report]
    assert len(client.get(reverse("staff:breach_list"), {"status": "nonsense"}).context["page"]) == 2


@pytest.mark.django_db
def test_it_refuses_the_wrong_method_for_the_list(client, member_of_staff):
    client.force_login(member_of_staff)
    assert client.post(reverse("staff:breach_list")).status_code == 405


@pytest.mark.django_db
def test_it_keeps_parents_and_anonymous_people_off_the_list(client, report, parent):
    assert client.get(reverse("staff:breach_list"))["Location"].startswith(reverse("account_login"))
    client.force_login(parent)
    assert client.get(reverse("staff:breach_list")).status_code == 403


@pytest.mark.django_db
@pytest.mark.parametrize("rows", [2, 20])
def test_the_list_takes_the_same_number_of_queries_for_any_number_of_rows(client, ceo, rows, django_assert_num_queries):
    for n in range(rows):
        factories.BreachReportFactory(reporter=factories.staff_user("staff"), status=["new", "closed"][n % 2])
    client.force_login(ceo)
    client.get(reverse("staff:breach_list"))  # the first request creates the usersession row

    # + the count for the paginator, and one page of reports with their reporters.
    with django_assert_num_queries(STAFF_REQUEST_QUERIES + 2):
        response = client.get(reverse("staff:breach_list"))
    assert len(response.context["page"]) == rows


# --- the CEO's update -------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_lets_the_ceo_move_a_report_on(client, report, ceo, django_capture_on_commit_callbacks):
    client.force_login(ceo)
    url = reverse("staff:breach_update", args=[report.pk])

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"status": "investigating", "outcome": ""}, REMOTE_ADDR="198.51.100.4")

    assert response.status_code == 302
    assert response["Location"] == reverse("staff:breach_detail", args=[report.pk])
    report.refresh_from_db()
    assert report.status == "investigating"
    assert timezone.now() - report.updated_at < timedelta(minutes=1)
    event = AuditEvent.objects.get(action="breach.updated")
    assert (event.actor, event.target_id, event.ip_address) == (ceo, str(report.pk), "198.51.100.4")
    assert event.details == {"from": {"status": "new", "outcome": ""}, "to": {"status": "investigating", "outcome": ""}}
    assert [message.to for message in mail.outbox] == [[report.reporter.email]]
    assert "being investigated" in mail.outbox[0].subject
    assert SECRET_DESCRIPTION not in mail.outbox[0].body


@pytest.mark.django_db
def test_it_lets_the_ceo_close_a_report_with_an_outcome(client, report, ceo, django_capture_on_commit_callbacks):
    client.force_login(ceo)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("staff:breach_update", args=[report.pk]),
            {"status": "closed", "outcome": "Post removed; training given."},
        )
    report.refresh_from_db()
    assert (report.status, report.outcome) == ("closed", "Post removed; training given.")
    assert "closed" in mail.outbox[0].subject
    response = client.get(reverse("staff:breach_detail", args=[report.pk]))
    assert b"Post removed; training given." in response.content


@pytest.mark.django_db
def test_it_audits_an_outcome_change_without_emailing(client, report, ceo, django_capture_on_commit_callbacks):
    client.force_login(ceo)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("staff:breach_update", args=[report.pk]), {"status": "new", "outcome": "Waiting to hear from Jo."}
        )
    report.refresh_from_db()
    assert report.outcome == "Waiting to hear from Jo."
    assert AuditEvent.objects.get(action="breach.updated").details["to"]["outcome"] == "Waiting to hear from Jo."
    assert mail.outbox == []


@pytest.mark.django_db
def test_it_refuses_to_close_a_report_without_an_outcome(client, report, ceo, django_capture_on_commit_callbacks):
    client.force_login(ceo)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("staff:breach_update", args=[report.pk]), {"status": "closed", "outcome": "   "})
    assert response.status_code == 400
    assert b"Write the outcome before closing the report." in response.content
    report.refresh_from_db()
    assert (report.status, report.outcome) == ("new", "")
    assert not AuditEvent.objects.filter(action="breach.updated").exists()
    assert mail.outbox == []


@pytest.mark.django_db
def test_it_refuses_a_status_that_does_not_exist(client, report, ceo):
    client.force_login(ceo)
    response = client.post(reverse("staff:breach_update", args=[report.pk]), {"status": "deleted", "outcome": "x"})
    assert response.status_code == 400
    report.refresh_from_db()
    assert report.status == "new"


@pytest.mark.django_db
def test_it_refuses_get_on_the_update(client, report, ceo):
    client.force_login(ceo)
    assert client.get(reverse("staff:breach_update", args=[report.pk])).status_code == 405


@pytest.mark.django_db
def test_it_gives_404_when_updating_a_report_that_does_not_exist(client, ceo):
    client.force_login(ceo)
    assert (
        client.post(reverse("staff:breach_update", args=[999999]), {"status": "closed", "outcome": "x"}).status_code
        == 404
    )


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["reporter", "other staff", "superuser reporter", "parent"])
def test_it_lets_nobody_but_the_ceo_update(client, report, other_member_of_staff, administrator, parent, who):
    if who == "superuser reporter":
        report = factories.BreachReportFactory(reporter=administrator)
    user = {
        "reporter": report.reporter,
        "other staff": other_member_of_staff,
        "superuser reporter": administrator,
        "parent": parent,
    }[who]
    client.force_login(user)
    response = client.post(
        reverse("staff:breach_update", args=[report.pk]), {"status": "closed", "outcome": "Nothing to see."}
    )
    assert response.status_code == 403
    report.refresh_from_db()
    assert (report.status, report.outcome) == ("new", "")
    assert not AuditEvent.objects.filter(action="breach.updated").exists()


@pytest.mark.django_db
def test_it_sends_anonymous_updaters_to_sign_in(client, report):
    response = client.post(reverse("staff:breach_update", args=[report.pk]), {"status": "closed", "outcome": "x"})
    assert response["Location"].startswith(reverse("account_login") + "?next=")
    report.refresh_from_db()
    assert report.status == "new"
