"""The CEO reminds staff who have not acknowledged the current policy, and downloads the register (issue 18.8).

Personas: the CEO, staff who have and have not read the current version, a coordinator, a superuser
administrator, a parent and an anonymous visitor.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from django.core import mail
from django.urls import reverse

from staff import services
from staff.models import AuditEvent, PolicyAcknowledgement, PolicyNudge, PolicyReminder
from tests import factories
from tests.query_counts import STAFF_REQUEST_QUERIES

REMIND = reverse("staff:policy_remind")
CSV = reverse("staff:policy_register_csv")


@pytest.fixture
def ceo(policy):
    """The CEO, who has read the current version (or every page would send them to it first)."""
    return factories.staff_user("ceo", email="ceo@example.org")


@pytest.fixture
def unread(policy):
    """Two people who have not read the current version, and one who has."""
    return [
        factories.staff_user("staff", acknowledged=False, email="ola@example.org", full_name="Ola Berg"),
        factories.staff_user(
            "photographer", "coordinator", acknowledged=False, email="pip@example.org", full_name="Pip O'Neil"
        ),
    ]


@pytest.fixture
def has_read(policy):
    return factories.staff_user("staff", email="read@example.org", full_name="Rae Reader")


def _ids(users) -> list[str]:
    return [str(user.pk) for user in users]


def _sent_to() -> list[str]:
    return sorted(address for message in mail.outbox for address in message.to)


# --- the page -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_lists_who_has_not_acknowledged_the_current_version(client, ceo, unread, has_read, parent, policy):
    client.force_login(ceo)
    response = client.get(REMIND)
    assert response.status_code == 200
    listed = [row["user"] for row in response.context["rows"]]
    assert listed == unread  # by name: Ola, then Pip
    page = response.content.decode()
    assert f"2 people have not acknowledged version {policy.number}" in page
    assert "Remind 2 people now" in page
    assert "Ola Berg" in page and "Pip O&#x27;Neil" in page  # who, before anything is sent
    assert "Coordinator" in page and "Photographer" in page
    assert "Rae Reader" not in page and parent.email not in page
    assert mail.outbox == []


@pytest.mark.django_db
def test_it_says_so_when_everyone_has_read_it(client, ceo, has_read):
    client.force_login(ceo)
    response = client.get(REMIND)
    assert b"There is nobody to remind." in response.content
    assert b"Remind them now" not in response.content


@pytest.mark.django_db
def test_it_reminds_each_person_who_has_not_acknowledged_it_once(
    client, ceo, unread, has_read, policy, django_capture_on_commit_callbacks
):
    client.force_login(ceo)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(REMIND, {"user": _ids(unread)}, REMOTE_ADDR="198.51.100.4")

    assert response.status_code == 302
    assert response["Location"] == REMIND
    assert _sent_to() == ["ola@example.org", "pip@example.org"]
    assert all(len(message.to) == 1 for message in mail.outbox)  # each on their own
    message = next(m for m in mail.outbox if m.to == ["pip@example.org"])
    assert f"version {policy.number}" in message.subject
    assert "Hello Pip," in message.body
    assert reverse("staff:policy") in message.body
    event = AuditEvent.objects.get(action="policy.reminders_sent")
    assert (event.actor, event.ip_address) == (ceo, "198.51.100.4")
    assert event.details == {"count": 2, "to": ["ola@example.org", "pip@example.org"]}
    assert PolicyNudge.objects.count() == 2

    # A second click the same day sends nothing, and says so.
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(REMIND, {"user": _ids(unread)}, follow=True)
    assert mail.outbox == []
    assert b"Nobody was emailed" in response.content
    assert b"Everyone listed has been reminded today." in response.content
    assert AuditEvent.objects.filter(action="policy.reminders_sent").count() == 1


@pytest.mark.django_db
def test_it_reminds_only_the_people_the_page_showed_who_still_have_not_read_it(
    client, ceo, unread, has_read, policy, django_capture_on_commit_callbacks
):
    ola, pip = unread
    PolicyAcknowledgement.objects.create(user=pip, version=policy)  # read it after the page was opened
    client.force_login(ceo)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(REMIND, {"user": [*_ids(unread), str(has_read.pk), "²", "9" * 30]})
    assert _sent_to() == ["ola@example.org"]


@pytest.mark.django_db
def test_someone_the_sweep_reminded_today_is_not_emailed_again(
    client, ceo, unread, policy, django_capture_on_commit_callbacks
):
    ola, pip = unread
    PolicyReminder.objects.create(user=ola, version=policy)
    client.force_login(ceo)
    assert [row["reminded_today"] for row in client.get(REMIND).context["rows"]] == [True, False]
    with django_capture_on_commit_callbacks(execute=True):
        client.post(REMIND, {"user": _ids(unread)})
    assert _sent_to() == ["pip@example.org"]


@pytest.mark.django_db
def test_a_reminder_goes_again_the_next_london_day(ceo, unread, policy, django_capture_on_commit_callbacks):
    late = datetime(2026, 7, 1, 22, 30, tzinfo=UTC)  # 23:30 in London
    with django_capture_on_commit_callbacks(execute=True):
        assert len(services.policy_remind_now(version=policy, user_ids=[u.pk for u in unread], by=ceo, now=late)) == 2
        # 00:30 the next morning in London, though still 1 July in UTC.
        after_midnight = late + timedelta(hours=1)
        assert (
            len(services.policy_remind_now(version=policy, user_ids=[u.pk for u in unread], by=ceo, now=after_midnight))
            == 2
        )
        assert (
            services.policy_remind_now(version=policy, user_ids=[u.pk for u in unread], by=ceo, now=after_midnight)
            == []
        )
    assert len(mail.outbox) == 4


@pytest.mark.django_db
def test_there_is_nothing_to_remind_of_before_a_policy_is_published(client):
    client.force_login(factories.staff_user("ceo"))
    assert client.get(REMIND).status_code == 404
    assert client.get(CSV).status_code == 404


@pytest.mark.django_db
@pytest.mark.parametrize("url", [REMIND, CSV])
def test_only_the_ceo_may_remind_or_download(
    client, ceo, unread, has_read, coordinator, parent, django_capture_on_commit_callbacks, url
):
    assert client.get(url)["Location"] == reverse("account_login") + "?next=" + url
    for user in (has_read, coordinator, parent, factories.staff_user("social_admin")):
        client.force_login(user)
        assert client.get(url).status_code == 403, user
        with django_capture_on_commit_callbacks(execute=True):
            assert client.post(url, {"user": _ids(unread)}).status_code == 403
    assert mail.outbox == []
    assert not PolicyNudge.objects.exists()

    client.force_login(ceo)
    assert client.get(url).status_code == 200
    assert client.put(url).status_code == 405


@pytest.mark.django_db
def test_the_ceos_register_links_to_both(client, ceo, unread):
    client.force_login(ceo)
    page = client.get(reverse("staff:policy_register")).content.decode()
    assert f'href="{CSV}"' in page and "Download the register (CSV)" in page
    assert f'href="{REMIND}"' in page
    assert f'href="{REMIND}"' in client.get(reverse("home")).content.decode()


@pytest.mark.django_db
def test_the_reminder_page_takes_the_same_queries_for_any_number_of_people(
    client, ceo, policy, django_assert_num_queries
):
    for _ in range(12):
        factories.staff_user("staff", acknowledged=False)
    client.force_login(ceo)
    client.get(REMIND)
    # + the policy, who has not read it, who was reminded today (by hand, by the sweep), their roles,
    # and when each was last reminded (by the sweep, by hand).
    with django_assert_num_queries(STAFF_REQUEST_QUERIES + 7):
        assert len(client.get(REMIND).context["rows"]) == 12


# --- the register as a spreadsheet ---------------------------------------------------------


@pytest.mark.django_db
def test_the_register_downloads_with_everyone_on_staff(client, ceo, unread, has_read, parent, policy):
    ack = PolicyAcknowledgement.objects.get(user=has_read, version=policy)
    PolicyAcknowledgement.objects.filter(pk=ack.pk).update(acknowledged_at=datetime(2026, 7, 1, 8, 5, tzinfo=UTC))
    factories.staff_user("staff", acknowledged=False, email="sly@example.org", full_name='=HYPERLINK("x")')
    client.force_login(ceo)

    response = client.get(CSV)

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Cache-Control"] == "private, no-store"
    assert response["Content-Disposition"].startswith(f'attachment; filename="policy-register-v{policy.number}-')
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == [
        "name",
        "email",
        "roles",
        "version",
        "acknowledged",
        "acknowledged_at",
        "latest_version_acknowledged",
    ]
    by_email = {row[1]: row for row in rows[1:]}
    assert set(by_email) == {ceo.email, "ola@example.org", "pip@example.org", "read@example.org", "sly@example.org"}
    assert by_email["read@example.org"] == [
        "Rae Reader",
        "read@example.org",
        "Staff or volunteer",
        str(policy.number),
        "yes",
        "2026-07-01 09:05",
        str(policy.number),
    ]
    assert by_email["pip@example.org"] == [
        "Pip O'Neil",
        "pip@example.org",
        "Family Service Coordinator; Photographer",
        str(policy.number),
        "no",
        "",
        "",
    ]
    assert by_email["sly@example.org"][0] == '\'=HYPERLINK("x")'  # not run as a formula
    assert rows[1][4] == "no"  # those who have not read it first
    event = AuditEvent.objects.get(action="policy.register_exported")
    assert (event.actor, event.details) == (ceo, {"rows": 5})


@pytest.mark.django_db
@pytest.mark.parametrize("count", [1, 20])
def test_the_register_download_takes_the_same_queries_for_any_number_of_staff(
    client, ceo, policy, count, django_assert_num_queries
):
    for n in range(count):
        factories.staff_user("staff", acknowledged=n % 2 == 0)
    client.force_login(ceo)
    client.get(CSV)
    # + the policy, the staff, their acknowledgements, their roles, and the audit event.
    with django_assert_num_queries(STAFF_REQUEST_QUERIES + 5):
        client.get(CSV)


@pytest.mark.django_db
def test_the_ceo_can_download_the_consent_register_too(client, ceo):
    client.force_login(ceo)
    response = client.get(reverse("consents:register"), {"format": "csv"})
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert "no-store" in response["Cache-Control"]
    assert AuditEvent.objects.filter(action="consents.register_exported", actor=ceo).exists()
