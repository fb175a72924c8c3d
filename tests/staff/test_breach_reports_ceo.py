"""Breach reports a CEO can act on (issue 18.8): severity, a child's data, the ICO decision and its 72-hour
clock (shown in London time and reminded by email), who else must be told, and the timeline.

Personas: the CEO, the reporter (a member of staff), a coordinator, a superuser administrator without the
CEO role, a parent and an anonymous visitor.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from django.core import mail
from django.test import TestCase
from django.urls import reverse
from django.utils import timezone

from fig_safety.append_only import AppendOnlyError
from staff import services
from staff.models import AuditEvent, BreachAction, BreachContact, BreachReport
from staff.sweeps import ico_deadline_sweep
from tests import factories
from tests.query_counts import STAFF_REQUEST_QUERIES

SECRET = "Jo posted a photo of the Smith twins outside their house."
HOUR = timedelta(hours=1)


@pytest.fixture
def administrator(db):
    user = factories.UserFactory(roles=[], is_superuser=True, is_staff=True, email="admin@example.org")
    factories.add_totp(user)
    return user


@pytest.fixture
def report(member_of_staff, ceo, django_capture_on_commit_callbacks):
    """Made as a member of staff makes one, so its timeline starts with it."""
    with django_capture_on_commit_callbacks(execute=True):
        made = services.breach_report_create(
            reporter=member_of_staff,
            occurred_on=timezone.localdate() - timedelta(days=1),
            where="A private Facebook group",
            description=SECRET,
        )
    mail.outbox.clear()
    return made


def _timeline(report: BreachReport) -> list[str]:
    return list(BreachAction.objects.filter(report=report).values_list("what", flat=True))


def _sweep(now: datetime) -> dict[str, int]:
    with TestCase.captureOnCommitCallbacks(execute=True):
        return ico_deadline_sweep(now=now)


def _assess(**overrides) -> dict[str, str]:
    local = timezone.localtime().replace(second=0, microsecond=0) - HOUR
    return {
        "assess-severity": "high",
        "assess-child_data": "yes",
        "assess-reportable_to_ico": "undecided",
        "assess-reportable_reason": "",
        "assess-became_aware_at": local.strftime("%Y-%m-%dT%H:%M"),
        **overrides,
    }


# --- the clock ------------------------------------------------------------------------------


def _clock(aware: datetime, now: datetime) -> str:
    report = BreachReport(became_aware_at=aware)
    return str(report.ico_clock(now))


def test_the_deadline_is_72_hours_after_fig_became_aware_on_londons_clock():
    aware = datetime(2026, 12, 5, 14, 5, tzinfo=UTC)  # a Saturday in winter: London is on UTC
    assert BreachReport(became_aware_at=aware).ico_deadline == aware + timedelta(hours=72)
    assert _clock(aware, aware + timedelta(hours=41)) == "ICO deadline: Tue 8 Dec 14:05 (31 hours left)"
    assert _clock(aware, aware + timedelta(hours=71, minutes=15)) == "ICO deadline: Tue 8 Dec 14:05 (45 minutes left)"
    assert _clock(aware, aware + timedelta(hours=71)) == "ICO deadline: Tue 8 Dec 14:05 (1 hour left)"
    assert _clock(aware, aware + timedelta(hours=72)) == "ICO deadline: Tue 8 Dec 14:05 (overdue by 0 minutes)"
    assert (
        _clock(aware, aware + timedelta(hours=77, minutes=30)) == "ICO deadline: Tue 8 Dec 14:05 (overdue by 5 hours)"
    )


def test_the_deadline_is_shown_in_british_summer_time_in_summer():
    aware = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)  # 13:00 in London
    assert _clock(aware, aware) == "ICO deadline: Sat 4 Jul 13:00 (72 hours left)"


@pytest.mark.parametrize(
    ("aware", "shown"),
    [
        # The clocks go back at 02:00 on Sunday 25 October 2026: 72 hours from 10:00 on Friday is 09:00 on Monday.
        (datetime(2026, 10, 23, 9, 0, tzinfo=UTC), "Mon 26 Oct 09:00"),
        # They go forward at 01:00 on Sunday 29 March 2026: 72 hours from 10:00 on Friday is 11:00 on Monday.
        (datetime(2026, 3, 27, 10, 0, tzinfo=UTC), "Mon 30 Mar 11:00"),
    ],
)
def test_the_deadline_is_72_real_hours_across_a_clock_change(aware, shown):
    assert _clock(aware, aware) == f"ICO deadline: {shown} (72 hours left)"


@pytest.mark.django_db
def test_the_ceo_sees_the_clock_on_the_report_and_the_list(client, report, ceo):
    BreachReport.objects.filter(pk=report.pk).update(became_aware_at=timezone.now() - timedelta(hours=41, minutes=30))
    report.refresh_from_db()
    client.force_login(ceo)
    deadline = timezone.localtime(report.ico_deadline)
    expected = f"{deadline:%a} {deadline.day} {deadline:%b %H:%M} (30 hours left)"

    detail = client.get(reverse("staff:breach_detail", args=[report.pk])).content.decode()
    listing = client.get(reverse("staff:breach_list")).content.decode()

    assert f"ICO deadline: {expected}" in detail
    assert expected in listing


@pytest.mark.django_db
def test_an_overdue_deadline_is_said_plainly_in_london_time(client, report, ceo):
    BreachReport.objects.filter(pk=report.pk).update(became_aware_at=datetime(2026, 10, 23, 9, 0, tzinfo=UTC))
    client.force_login(ceo)
    detail = client.get(reverse("staff:breach_detail", args=[report.pk])).content.decode()
    assert "ICO deadline: Mon 26 Oct 09:00 (overdue by" in detail
    assert "The 72 hours for telling the Information Commissioner's Office have passed." in detail
    assert "Overdue" in client.get(reverse("staff:breach_list")).content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "change",
    [
        {"reportable_to_ico": "no", "reportable_reason": "Nobody outside FiG saw it."},
        {"ico_reported_at": datetime(2026, 12, 1, tzinfo=UTC)},
        {"status": "closed", "outcome": "Dealt with."},
    ],
    ids=["not reportable", "ICO told", "closed"],
)
def test_there_is_no_clock_when_the_ico_need_not_or_has_heard(client, report, ceo, change):
    BreachReport.objects.filter(pk=report.pk).update(**change)
    client.force_login(ceo)
    assert b"ICO deadline:" not in client.get(reverse("staff:breach_detail", args=[report.pk])).content
    assert client.get(reverse("staff:breach_list")).context["rows"] == [(BreachReport.objects.get(), None)]


@pytest.mark.django_db
def test_the_reporter_sees_neither_the_clock_nor_the_ceos_assessment(client, report):
    client.force_login(report.reporter)
    response = client.get(reverse("staff:breach_detail", args=[report.pk]))
    assert response.status_code == 200
    for private in (b"ICO deadline", b"Timeline", b"Assess the breach", b"Who else must be told"):
        assert private not in response.content
    assert b"ICO deadline" not in client.get(reverse("staff:breach_list")).content


# --- reminders ------------------------------------------------------------------------------


AWARE = datetime(2026, 12, 5, 14, 5, tzinfo=UTC)


@pytest.fixture
def aware_report(report):
    BreachReport.objects.filter(pk=report.pk).update(became_aware_at=AWARE)
    report.refresh_from_db()
    return report


@pytest.mark.django_db
def test_it_reminds_the_ceo_24_and_4_hours_before_and_when_overdue_each_once(aware_report, ceo):
    deputy = factories.staff_user("ceo", email="deputy.ceo@example.org")

    assert _sweep(AWARE + timedelta(hours=47, minutes=59)) == {"overdue_sent": 0, "reminded_4h": 0, "reminded_24h": 0}
    assert mail.outbox == []

    assert _sweep(AWARE + timedelta(hours=48))["reminded_24h"] == 1
    assert _sweep(AWARE + timedelta(hours=50)) == {"overdue_sent": 0, "reminded_4h": 0, "reminded_24h": 0}
    assert _sweep(AWARE + timedelta(hours=68))["reminded_4h"] == 1
    assert _sweep(AWARE + timedelta(hours=69))["reminded_4h"] == 0
    assert _sweep(AWARE + timedelta(hours=72))["overdue_sent"] == 1
    assert _sweep(AWARE + timedelta(hours=100)) == {"overdue_sent": 0, "reminded_4h": 0, "reminded_24h": 0}

    subjects = [message.subject for message in mail.outbox]
    number = aware_report.pk
    assert subjects == [
        f"Breach report #{number}: 24 hours left to tell the ICO",
        f"Breach report #{number}: 4 hours left to tell the ICO",
        f"Breach report #{number}: the deadline for telling the ICO has passed",
    ]
    assert all(sorted(message.to) == sorted([ceo.email, deputy.email]) for message in mail.outbox)
    assert "Tuesday 8 December 2026 at 14:05" in mail.outbox[0].body
    assert "24 hours left" in mail.outbox[0].body
    assert "Information Commissioner's Office" in mail.outbox[0].body  # not escaped in a plain-text email
    assert reverse("staff:breach_detail", args=[number]) in mail.outbox[0].body
    for message in mail.outbox:
        assert SECRET not in message.body
        assert aware_report.reporter.email not in message.to
    aware_report.refresh_from_db()
    assert aware_report.ico_reminded_24h_at == AWARE + timedelta(hours=48)
    assert aware_report.ico_reminded_4h_at == AWARE + timedelta(hours=68)
    assert aware_report.ico_overdue_sent_at == AWARE + timedelta(hours=72)
    assert _timeline(aware_report)[-3:] == [
        "The CEO was reminded: 24 hours left to tell the ICO.",
        "The CEO was reminded: 4 hours left to tell the ICO.",
        "The CEO was told the deadline for telling the ICO has passed.",
    ]


@pytest.mark.django_db
def test_a_late_first_sweep_sends_only_the_most_urgent_reminder(aware_report):
    assert _sweep(AWARE + timedelta(hours=70)) == {"overdue_sent": 0, "reminded_4h": 1, "reminded_24h": 0}
    assert _sweep(AWARE + timedelta(hours=71)) == {"overdue_sent": 0, "reminded_4h": 0, "reminded_24h": 0}
    assert [message.subject.split(": ")[1] for message in mail.outbox] == ["4 hours left to tell the ICO"]
    aware_report.refresh_from_db()
    assert aware_report.ico_reminded_24h_at == AWARE + timedelta(hours=70)  # stamped, never sent

    mail.outbox.clear()
    other = factories.BreachReportFactory(became_aware_at=AWARE)
    assert _sweep(AWARE + timedelta(hours=80))["overdue_sent"] == 2
    assert _sweep(AWARE + timedelta(hours=81))["overdue_sent"] == 0
    assert len(mail.outbox) == 2  # just the overdue notice, for each
    other.refresh_from_db()
    assert other.ico_reminded_24h_at == other.ico_reminded_4h_at == AWARE + timedelta(hours=80)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "change",
    [
        {"reportable_to_ico": "no", "reportable_reason": "Nobody outside FiG saw it."},
        {"ico_reported_at": AWARE + timedelta(hours=10)},
        {"status": "closed", "outcome": "Dealt with."},
    ],
    ids=["decided not reportable", "already reported", "closed"],
)
def test_it_sends_no_reminder_for_a_report_the_ico_need_not_or_has_heard_of(aware_report, change):
    BreachReport.objects.filter(pk=aware_report.pk).update(**change)
    for hours in (48, 68, 72, 100):
        assert sum(_sweep(AWARE + timedelta(hours=hours)).values()) == 0
    assert mail.outbox == []


@pytest.mark.django_db
def test_it_reminds_for_a_report_the_ico_must_hear_of(aware_report):
    BreachReport.objects.filter(pk=aware_report.pk).update(reportable_to_ico="yes")
    assert _sweep(AWARE + timedelta(hours=48))["reminded_24h"] == 1


@pytest.mark.django_db
def test_it_waits_for_a_ceo_when_there_is_none(aware_report, ceo):
    ceo.is_active = False
    ceo.save(update_fields=["is_active"])
    assert sum(_sweep(AWARE + timedelta(hours=49)).values()) == 0
    aware_report.refresh_from_db()
    assert aware_report.ico_reminded_24h_at is None

    factories.staff_user("ceo", email="new.ceo@example.org")
    assert _sweep(AWARE + timedelta(hours=50))["reminded_24h"] == 1
    assert [message.to for message in mail.outbox] == [["new.ceo@example.org"]]


@pytest.mark.django_db
def test_moving_the_awareness_later_reminds_again(aware_report, ceo):
    _sweep(AWARE + timedelta(hours=69))  # the 4-hour reminder (and the 24-hour stamp)
    now = timezone.now()
    services.breach_report_assess(
        report_id=aware_report.pk,
        by=ceo,
        severity="",
        child_data_involved=None,
        reportable_to_ico="undecided",
        reportable_reason="",
        became_aware_at=now - timedelta(hours=10),
    )
    aware_report.refresh_from_db()
    assert aware_report.ico_reminded_24h_at is None
    assert aware_report.ico_reminded_4h_at is None
    mail.outbox.clear()
    assert _sweep(now + timedelta(hours=38))["reminded_24h"] == 1


@pytest.mark.django_db
def test_beat_runs_the_ico_sweep_every_15_minutes():
    from fig_safety.celery import app

    [entry] = [e for e in app.conf.beat_schedule.values() if e["task"] == "staff.tasks.ico_deadline_sweep"]
    assert entry["schedule"].minute == {0, 15, 30, 45}
    assert "staff.tasks.ico_deadline_sweep" in app.tasks


# --- the CEO's assessment, the ICO, who else must be told, the timeline -----------------------


@pytest.mark.django_db
def test_the_timeline_starts_with_the_report(report, member_of_staff):
    [first] = BreachAction.objects.filter(report=report)
    assert (first.by, first.what, first.at) == (member_of_staff, f"Reported by {member_of_staff}.", report.created_at)


@pytest.mark.django_db
def test_a_report_found_automatically_starts_its_timeline_too(ceo):
    with TestCase.captureOnCommitCallbacks(execute=True):
        found = services.breach_report_record_found(
            occurred_on=date(2026, 12, 1), where="The vault", description="Photos left on a phone.", details={}
        )
    [first] = BreachAction.objects.filter(report=found)
    assert (first.by, first.what) == (None, "Found automatically by FiG Safety.")


@pytest.mark.django_db
def test_the_ceo_assesses_a_report(client, report, ceo, django_capture_on_commit_callbacks):
    client.force_login(ceo)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("staff:breach_assess", args=[report.pk]),
            _assess(
                **{
                    "assess-became_aware_at": "2026-12-05T14:05",
                    "assess-reportable_to_ico": "yes",
                    "assess-reportable_reason": "A child's photo and street were public for a day.",
                }
            ),
            REMOTE_ADDR="198.51.100.4",
        )
    assert response.status_code == 302
    assert response["Location"] == reverse("staff:breach_detail", args=[report.pk])
    report.refresh_from_db()
    assert (report.severity, report.child_data_involved, report.reportable_to_ico) == ("high", True, "yes")
    assert report.reportable_reason == "A child's photo and street were public for a day."
    assert report.became_aware_at == datetime(2026, 12, 5, 14, 5, tzinfo=UTC)  # typed on London's clock
    assert _timeline(report)[1:] == [
        "Severity: high.",
        "Personal data of a child is involved: yes.",
        "The ICO must be told: A child's photo and street were public for a day.",
        "FiG became aware on Saturday 5 December 2026 at 14:05.",
    ]
    assert all(action.by == ceo for action in BreachAction.objects.filter(report=report)[1:])
    event = AuditEvent.objects.get(action="breach.assessed")
    assert (event.actor, event.target_id, event.ip_address) == (ceo, str(report.pk), "198.51.100.4")
    assert event.details["to"]["severity"] == "high"
    assert event.details["from"]["reportable_to_ico"] == "undecided"
    assert mail.outbox == []  # the reporter is not told of the CEO's assessment

    page = client.get(reverse("staff:breach_detail", args=[report.pk])).content.decode()
    assert "a real risk to a child&#x27;s" in page.lower()
    assert "Timeline" in page


@pytest.mark.django_db
def test_only_what_the_ceo_changed_goes_on_the_timeline(client, report, ceo):
    client.force_login(ceo)
    form = client.get(reverse("staff:breach_detail", args=[report.pk])).context["assess_form"]
    shown = {f"assess-{name}": form[name].value() for name in form.fields}
    shown["assess-became_aware_at"] = form["became_aware_at"].value().strftime("%Y-%m-%dT%H:%M")  # whole minutes
    shown["assess-severity"] = "medium"
    client.post(reverse("staff:breach_assess", args=[report.pk]), shown)
    assert _timeline(report)[1:] == ["Severity: medium."]
    assert BreachReport.objects.get().became_aware_at == report.became_aware_at  # to the microsecond, untouched


@pytest.mark.django_db
def test_saving_the_same_assessment_again_adds_nothing(client, report, ceo):
    client.force_login(ceo)
    form = _assess()
    client.post(reverse("staff:breach_assess", args=[report.pk]), form)
    before = _timeline(report)
    client.post(reverse("staff:breach_assess", args=[report.pk]), form)
    assert _timeline(report) == before
    assert AuditEvent.objects.filter(action="breach.assessed").count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("overrides", "field", "error"),
    [
        ({"assess-reportable_to_ico": "no"}, "reportable_reason", "Write why the ICO must, or need not, be told."),
        ({"assess-reportable_to_ico": "yes"}, "reportable_reason", "Write why the ICO must, or need not, be told."),
        (
            {"assess-reportable_to_ico": ""},
            "reportable_to_ico",
            "Say whether the ICO must be told, or that you have not decided yet.",
        ),
        (
            {"assess-severity": "catastrophic"},
            "severity",
            "Select a valid choice. catastrophic is not one of the available choices.",
        ),
        ({"assess-became_aware_at": "2099-01-01T10:00"}, "became_aware_at", "The time cannot be in the future."),
        (
            {"assess-became_aware_at": "2000-01-01T10:00"},
            "became_aware_at",
            "FiG cannot have become aware before the breach happened.",
        ),
        ({"assess-became_aware_at": "yesterday"}, "became_aware_at", "Enter a date and time."),
    ],
)
def test_it_refuses_an_assessment_that_does_not_add_up(client, report, ceo, overrides, field, error):
    client.force_login(ceo)
    response = client.post(reverse("staff:breach_assess", args=[report.pk]), _assess(**overrides))
    assert response.status_code == 400
    assert response.context["assess_form"].errors[field] == [error]
    assert b"There is a problem" in response.content
    assert response.content.decode().count(f'href="#id_assess-{field}') == 1  # the summary links to the box
    report.refresh_from_db()
    assert report.severity == ""
    assert not AuditEvent.objects.filter(action="breach.assessed").exists()
    assert len(_timeline(report)) == 1


@pytest.mark.django_db
def test_the_ceo_records_that_the_ico_was_told(client, report, ceo):
    client.force_login(ceo)
    told = timezone.localtime().replace(second=0, microsecond=0) - HOUR
    response = client.post(
        reverse("staff:breach_ico", args=[report.pk]),
        {"ico-reported_at": told.strftime("%Y-%m-%dT%H:%M"), "ico-reference": "IC-123456-A1B2"},
    )
    assert response.status_code == 302
    report.refresh_from_db()
    assert (report.ico_reported_at, report.ico_reference, report.reportable_to_ico) == (told, "IC-123456-A1B2", "yes")
    assert report.ico_clock() is None
    timeline = _timeline(report)
    assert timeline[-2] == "The ICO must be told."
    assert timeline[-1].startswith("The ICO was told on ")
    assert timeline[-1].endswith(", in time (reference IC-123456-A1B2).")
    assert AuditEvent.objects.get(action="breach.ico_reported").details["to"]["ico_reference"] == "IC-123456-A1B2"
    page = client.get(reverse("staff:breach_detail", args=[report.pk])).content.decode()
    assert "ICO deadline:" not in page
    assert "(reference IC-123456-A1B2)" in page


@pytest.mark.django_db
def test_the_timeline_says_when_the_ico_was_told_late(report, ceo):
    services.breach_report_record_ico(
        report_id=report.pk, by=ceo, reported_at=report.became_aware_at + timedelta(hours=80), reference=""
    )
    assert _timeline(report)[-1].endswith(", after the 72-hour deadline.")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("form", "error"),
    [
        ({"ico-reported_at": "2099-01-01T10:00"}, "The time cannot be in the future."),
        ({"ico-reported_at": ""}, "Enter when the ICO was told."),
    ],
)
def test_it_refuses_an_ico_record_that_cannot_be(client, report, ceo, form, error):
    client.force_login(ceo)
    response = client.post(reverse("staff:breach_ico", args=[report.pk]), form)
    assert response.status_code == 400
    assert response.context["ico_form"].errors["reported_at"] == [error]
    report.refresh_from_db()
    assert report.ico_reported_at is None


@pytest.mark.django_db
def test_the_ceo_records_who_else_must_be_told(client, report, ceo):
    client.force_login(ceo)
    url = reverse("staff:breach_people", args=[report.pk])
    told = timezone.localdate() - timedelta(days=1)

    response = client.post(url, {"people-family": "on", "people-lado": "on", "people-police_told_on": told.isoformat()})

    assert response.status_code == 302
    assert {(c.party, c.told_on) for c in BreachContact.objects.filter(report=report)} == {
        ("family", None),
        ("lado", None),
        ("police", told),  # a date means they were to be told
    }
    assert _timeline(report)[1:] == [
        "The family affected: must be told.",
        "The police: must be told.",
        f"The police: told on {told.day} {told:%B %Y}.",
        "The local authority designated officer (LADO): must be told.",
    ]

    client.post(
        url,
        {"people-family": "on", "people-family_told_on": told.isoformat(), "people-police_told_on": told.isoformat()},
    )

    assert {(c.party, c.told_on) for c in BreachContact.objects.filter(report=report)} == {
        ("family", told),
        ("police", told),
    }
    assert _timeline(report)[5:] == [
        f"The family affected: told on {told.day} {told:%B %Y}.",
        "The local authority designated officer (LADO): no longer need to be told.",
    ]
    assert AuditEvent.objects.filter(action="breach.people_to_tell").count() == 2
    page = client.get(reverse("staff:breach_detail", args=[report.pk])).content.decode()
    assert f"The police: told on {told.day} {told:%B %Y}" in page


@pytest.mark.django_db
def test_it_refuses_a_told_on_date_in_the_future(client, report, ceo):
    client.force_login(ceo)
    tomorrow = timezone.localdate() + timedelta(days=1)
    response = client.post(
        reverse("staff:breach_people", args=[report.pk]),
        {"people-insurers": "on", "people-insurers_told_on": tomorrow.isoformat()},
    )
    assert response.status_code == 400
    assert response.context["people_form"].errors["insurers_told_on"] == ["The date cannot be in the future."]
    assert not BreachContact.objects.exists()


@pytest.mark.django_db
def test_the_ceo_adds_to_the_timeline(client, report, ceo):
    client.force_login(ceo)
    url = reverse("staff:breach_action", args=[report.pk])

    response = client.post(url, {"action-what": "Rang Jo; the post is down.", "action-at": ""})

    assert response.status_code == 302
    assert response["Location"].endswith("#timeline")
    action = BreachAction.objects.filter(report=report).last()
    assert (action.what, action.by) == ("Rang Jo; the post is down.", ceo)
    assert AuditEvent.objects.get(action="breach.action_recorded").details == {"action": action.pk}

    earlier = timezone.localtime().replace(second=0, microsecond=0) - timedelta(days=1)
    client.post(url, {"action-what": "Took advice from the LADO.", "action-at": earlier.strftime("%Y-%m-%dT%H:%M")})
    # In order of when things happened, not of when they were written down.
    assert _timeline(report) == [
        "Took advice from the LADO.",
        f"Reported by {report.reporter}.",
        "Rang Jo; the post is down.",
    ]
    page = client.get(reverse("staff:breach_detail", args=[report.pk])).content.decode()
    assert page.index("Took advice from the LADO.") < page.index("Rang Jo; the post is down.")

    response = client.post(url, {"action-what": "  ", "action-at": ""})
    assert response.status_code == 400
    assert response.context["action_form"].errors["what"] == ["Write what was done."]


@pytest.mark.django_db
def test_status_changes_and_outcomes_go_on_the_timeline(client, report, ceo):
    client.force_login(ceo)
    url = reverse("staff:breach_update", args=[report.pk])
    client.post(url, {"status": "investigating", "outcome": ""})
    client.post(url, {"status": "closed", "outcome": "Post removed; training given."})
    assert _timeline(report)[1:] == [
        "Status changed from New to Being investigated.",
        "Status changed from Being investigated to Closed.",
        "Outcome: Post removed; training given.",
    ]


@pytest.mark.django_db
def test_a_report_the_ico_must_hear_of_is_not_closed_before_they_have(client, report, ceo):
    BreachReport.objects.filter(pk=report.pk).update(reportable_to_ico="yes", reportable_reason="A child's photo.")
    client.force_login(ceo)
    response = client.post(reverse("staff:breach_update", args=[report.pk]), {"status": "closed", "outcome": "Done."})
    assert response.status_code == 400
    assert response.context["form"].errors["status"] == [
        "The ICO must be told of this breach: record when they were told before closing it."
    ]
    report.refresh_from_db()
    assert report.status == "new"


@pytest.mark.django_db
def test_the_timeline_cannot_be_rewritten(report):
    action = BreachAction.objects.get(report=report)
    action.what = "Nothing happened."
    with pytest.raises(AppendOnlyError):
        action.save()
    with pytest.raises(AppendOnlyError):
        BreachAction.objects.filter(report=report).delete()


# --- who may --------------------------------------------------------------------------------


CEO_ACTIONS = {
    "staff:breach_assess": _assess(),
    "staff:breach_ico": {"ico-reported_at": "2026-12-05T14:05", "ico-reference": "IC-1"},
    "staff:breach_people": {"people-police": "on"},
    "staff:breach_action": {"action-what": "Rang the police."},
}


@pytest.mark.django_db
@pytest.mark.parametrize("name", CEO_ACTIONS)
def test_only_the_ceo_may_act_on_a_report(client, report, coordinator, administrator, parent, ceo, name):
    url = reverse(name, args=[report.pk])
    data = CEO_ACTIONS[name]
    before = len(_timeline(report))

    anonymous = client.post(url, data)
    assert anonymous["Location"] == reverse("account_login") + "?next=" + url
    for user in (report.reporter, coordinator, administrator, parent):
        client.force_login(user)
        assert client.post(url, data).status_code == 403, user
    assert len(_timeline(report)) == before

    client.force_login(ceo)
    assert client.get(url).status_code == 405
    assert client.post(reverse(name, args=[999999]), data).status_code == 404
    assert client.post(url, data).status_code == 302
    assert len(_timeline(report)) > before


@pytest.mark.django_db
def test_other_staff_and_parents_cannot_see_a_report(client, report, coordinator, parent):
    url = reverse("staff:breach_detail", args=[report.pk])
    assert client.get(url)["Location"].startswith(reverse("account_login"))
    client.force_login(coordinator)
    assert client.get(url).status_code == 404
    client.force_login(parent)
    assert client.get(url).status_code == 403


# --- queries --------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("count", [1, 20])
def test_the_ceos_list_takes_the_same_queries_for_any_number_of_reports(client, ceo, count, django_assert_num_queries):
    for n in range(count):
        factories.BreachReportFactory(
            reporter=factories.staff_user("staff"),
            severity=["low", "high"][n % 2],
            child_data_involved=bool(n % 2),
            reportable_to_ico=["undecided", "no", "yes"][n % 3],
            became_aware_at=timezone.now() - timedelta(hours=n * 5),
        )
    client.force_login(ceo)
    client.get(reverse("staff:breach_list"))  # the first request creates the usersession row

    # + the count for the paginator, and one page of reports with their reporters.
    with django_assert_num_queries(STAFF_REQUEST_QUERIES + 2):
        response = client.get(reverse("staff:breach_list"))
    assert len(response.context["rows"]) == count


@pytest.mark.django_db
@pytest.mark.parametrize("actions", [1, 20])
def test_the_report_page_takes_the_same_queries_for_any_length_of_timeline(
    client, report, ceo, actions, django_assert_num_queries
):
    for n in range(actions):
        services.breach_action_record(report_id=report.pk, by=ceo, what=f"Step {n}.")
    services.breach_report_set_people(report_id=report.pk, by=ceo, people={"police": None, "family": None})
    client.force_login(ceo)
    client.get(reverse("staff:breach_detail", args=[report.pk]))

    # + the report with its reporter, who else must be told, and the timeline with who did each step.
    with django_assert_num_queries(STAFF_REQUEST_QUERIES + 3):
        response = client.get(reverse("staff:breach_detail", args=[report.pk]))
    assert len(response.context["actions"]) == actions + 3
