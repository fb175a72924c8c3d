"""The inbox sweep: reminders, escalations, the daily digest and takedown escalations, each sent once.

The sweep's memory is the stamp columns in the database (reminder_sent_at,
escalated_at, last_escalated_at, DigestSent), so running it twice, twice at
once, or after Redis lost its data sends nothing more.
"""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from io import StringIO
from unittest import mock

import pytest
from celery.schedules import crontab
from django.conf import settings as django_settings
from django.core import mail
from django.core.cache import cache
from django.core.management import call_command
from django.db import connection
from django.test import TestCase
from django.urls import reverse
from django.utils import timezone

from fig_safety.celery import app
from fig_safety.times import LONDON, when
from social import tasks
from social.inbox import sweeps
from social.inbox.services import takedown_record_removal
from social.models import Conversation, DigestSent, Platform, Takedown, policy_due_at
from staff.models import User
from staff.notifications import deliver_outbox
from tests import factories

NOW = datetime(2025, 3, 12, 10, 0, tzinfo=LONDON)  # a Wednesday morning, weeks from a clock change
MINUTE, HOUR, DAY = timedelta(minutes=1), timedelta(hours=1), timedelta(days=1)

REMINDER = re.compile(r"^Reply due by ")
ESCALATION = re.compile(r"^(\d+) social media messages? (?:is|are) past the one-week deadline$")
DIGEST = re.compile(r"^Social media inbox, ")
TAKEDOWN = re.compile(r"^(\d+) takedowns? still open( and overdue)?$")
NOTHING = {
    "deliveries_resumed": 0,
    "flags_recovered": 0,
    "fetches_resumed": 0,
    "replies_resumed": 0,
    "reminders": 0,
    "escalations": 0,
    "digest": 0,
    "takedown_escalations": 0,
    "removals_resumed": 0,
}


@pytest.fixture
def admins(db) -> list[User]:
    return [factories.staff_user("social_admin", email=f"admin{n}@example.org") for n in (1, 2)]


def _message(due_in: timedelta, *, now: datetime = NOW, **fields) -> Conversation:
    """An open message received (on the platform's clock) a week before it falls due."""
    received_at = now + due_in - timedelta(days=7)
    fields = {
        "platform": Platform.FACEBOOK,
        "kind": Conversation.Kind.MESSAGE,
        "status": Conversation.Status.OPEN,
        **fields,
    }
    message = Conversation.objects.create(received_at=received_at, due_at=policy_due_at(received_at), **fields)
    assert message.due_at == now + due_in  # no clock change in the week, so the policy week is 168 hours
    return message


def _takedown(due_in: timedelta, *, now: datetime = NOW, **fields) -> Takedown:
    fields = {"reason": "Names a child in a comment", **fields}
    return Takedown.objects.create(opened_at=now + due_in - DAY, due_at=now + due_in, **fields)


def _sweep(now: datetime = NOW) -> dict[str, int]:
    """Run the sweep as beat would, and deliver the emails it queued for after the commit."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        return sweeps.inbox_sweep(now)


def _sent(pattern: re.Pattern) -> list[mail.EmailMessage]:
    """The emails whose subject matches; the sweep addresses each one to a single person."""
    found = [email for email in mail.outbox if pattern.match(email.subject)]
    assert all(len(email.to) == 1 for email in found), [email.to for email in found]
    return found


def _to(emails: list[mail.EmailMessage]) -> list[str]:
    return sorted(email.to[0] for email in emails)


def _emails(*users: User) -> list[str]:
    return sorted(user.email for user in users)


def _reload(*rows):
    for row in rows:
        row.refresh_from_db()
    return rows


# --- reminders ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_reminds_the_assignee_when_two_days_remain(admins, ceo):
    assert django_settings.FIG_INBOX_REMIND_DAYS_LEFT == 2
    assignee = admins[0]
    message = _message(2 * DAY, assignee=assignee)

    assert _sweep()["reminders"] == 1

    [email] = _sent(REMINDER)
    assert email.to == [assignee.email]
    assert email.subject == "Reply due by Friday 14 March at 10:00"
    assert django_settings.FIG_SITE_URL + reverse("social:message", args=[message.pk]) in email.body
    _reload(message)
    assert (message.reminder_sent_at, message.escalated_at) == (NOW, None)


@pytest.mark.django_db
def test_it_reminds_every_social_administrator_when_nobody_is_assigned(admins, ceo, member_of_staff):
    factories.staff_user("social_admin", email="left@example.org", is_active=False)
    _message(DAY)

    assert _sweep()["reminders"] == 1

    assert _to(_sent(REMINDER)) == _emails(*admins)  # one email each, not the CEO, staff or a former admin


@pytest.mark.django_db
def test_the_member_of_staff_a_message_was_passed_on_to_is_reminded_too(admins, member_of_staff):
    unassigned = _message(DAY, passed_to=member_of_staff)
    assigned = _message(DAY + timedelta(hours=1), assignee=admins[0], passed_to=member_of_staff)

    assert _sweep()["reminders"] == 2

    reminders = _sent(REMINDER)
    link = django_settings.FIG_SITE_URL + reverse("social:message", args=[unassigned.pk])
    assert _to([e for e in reminders if link in e.body]) == sorted(_emails(*admins) + [member_of_staff.email])
    link = django_settings.FIG_SITE_URL + reverse("social:message", args=[assigned.pk])
    assert _to([e for e in reminders if link in e.body]) == sorted([admins[0].email, member_of_staff.email])


@pytest.mark.django_db
def test_it_does_not_remind_before_two_days_remain(admins):
    message = _message(2 * DAY + MINUTE, assignee=admins[0])

    assert _sweep()["reminders"] == 0
    assert _sent(REMINDER) == []
    assert _reload(message)[0].reminder_sent_at is None

    assert _sweep(NOW + MINUTE)["reminders"] == 1
    assert _to(_sent(REMINDER)) == [admins[0].email]


@pytest.mark.django_db
def test_the_reminder_window_follows_the_setting(settings, admins):
    settings.FIG_INBOX_REMIND_DAYS_LEFT = 3
    _message(3 * DAY, assignee=admins[1])
    assert _sweep()["reminders"] == 1
    assert _to(_sent(REMINDER)) == [admins[1].email]


@pytest.mark.django_db
@pytest.mark.parametrize("status", [Conversation.Status.ANSWERED, Conversation.Status.CLOSED])
def test_it_neither_reminds_nor_escalates_a_message_that_is_done(admins, ceo, status):
    soon = _message(DAY, status=status, assignee=admins[0])
    late = _message(-DAY, status=status)

    result = _sweep()

    assert (result["reminders"], result["escalations"]) == (0, 0)
    assert _sent(REMINDER) == _sent(ESCALATION) == []
    for message in _reload(soon, late):
        assert (message.reminder_sent_at, message.escalated_at) == (None, None)


@pytest.mark.django_db
def test_it_reminds_once_however_often_the_sweep_runs(admins):
    message = _message(2 * DAY, assignee=admins[0])

    assert _sweep()["reminders"] == 1
    assert _sweep()["reminders"] == 0
    assert _sweep(NOW + DAY)["reminders"] == 0

    assert len(_sent(REMINDER)) == 1
    assert _reload(message)[0].reminder_sent_at == NOW


# --- escalations ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_escalates_an_overdue_message_to_the_administrators_and_the_ceo(admins, ceo, member_of_staff):
    overdue = _message(-MINUTE, assignee=admins[0])
    not_yet = _message(MINUTE, assignee=admins[0])

    assert _sweep()["escalations"] == 1

    escalations = _sent(ESCALATION)
    assert _to(escalations) == _emails(*admins, ceo)
    assert {email.subject for email in escalations} == {"1 social media message is past the one-week deadline"}
    assert "due 12 March, 09:59" in escalations[0].body
    assert "10:01" not in escalations[0].body
    assert django_settings.FIG_SITE_URL + reverse("social:inbox") + "?tab=overdue" in escalations[0].body
    _reload(overdue, not_yet)
    assert (overdue.escalated_at, not_yet.escalated_at) == (NOW, None)


@pytest.mark.django_db
def test_it_escalates_each_message_once(admins, ceo):
    first, second = _message(-2 * HOUR), _message(-HOUR)
    third = _message(HOUR)

    assert _sweep()["escalations"] == 2
    assert _sweep()["escalations"] == 0
    assert _sweep(NOW + 30 * MINUTE)["escalations"] == 0
    escalations = _sent(ESCALATION)
    assert _to(escalations) == _emails(*admins, ceo)
    assert {email.subject for email in escalations} == {"2 social media messages are past the one-week deadline"}

    assert _sweep(NOW + 2 * HOUR)["escalations"] == 1  # the third is now late too; only it is listed
    later = [email for email in _sent(ESCALATION) if email not in escalations]
    assert _to(later) == _emails(*admins, ceo)
    assert "11:00" in later[0].body and "08:00" not in later[0].body and "09:00" not in later[0].body
    assert [m.escalated_at for m in _reload(first, second, third)] == [NOW, NOW, NOW + 2 * HOUR]


@pytest.mark.django_db
def test_one_sweep_takes_every_due_message_batch_after_batch(monkeypatch, admins, ceo):
    """More messages due than a batch holds: the sweep does not leave the rest for its next run."""
    monkeypatch.setattr(sweeps, "BATCH", 3)
    late = [_message(-n * MINUTE - MINUTE) for n in range(7)]
    soon = [_message(DAY + n * MINUTE) for n in range(4)]

    counts = _sweep()
    assert (counts["reminders"], counts["escalations"]) == (11, 7)
    assert len(_sent(REMINDER)) == 11 * len(admins)  # nobody is assigned: each administrator, for each message
    sizes = sorted(int(ESCALATION.match(email.subject)[1]) for email in _sent(ESCALATION) if email.to == [ceo.email])
    assert sizes == [1, 3, 3]  # one email a batch, each message in one of them
    assert all(m.reminder_sent_at == NOW for m in _reload(*late, *soon))
    assert all(m.escalated_at == NOW for m in _reload(*late))
    assert _sweep() == NOTHING | {"digest": 0}


@pytest.mark.django_db
@pytest.mark.parametrize("due", [2, 40])
def test_the_sweep_takes_the_same_number_of_queries_however_many_are_due(admins, ceo, due, django_assert_num_queries):
    for n in range(due):
        _message(-HOUR - n * MINUTE, assignee=admins[n % 2])
        _message(DAY + n * MINUTE)
    sweeps.send_digest(NOW)  # today's digest has gone: the sweep below only checks that
    # Webhook deliveries to resume: the claim of those never started, and of those stopped. Messages whose
    # flagging was lost: one select. Attachments to fetch again: one select, and the claim of those given up
    # on. Replies to resume: the claim, and those whose call stopped.
    # Reminders: claim, stamp, the administrators' addresses, one insert of emails. Escalations: the same.
    # The digest: its row exists already (the insert fails). Takedowns: the claim. Graph API removals to
    # resume: the claim, and those whose call stopped. Each of the nine transactions is a savepoint pair
    # here, inside the test's transaction.
    with django_assert_num_queries(
        (1 + 2) + (1 + 2) + 1 + 1 + (1 + 2) + (1 + 2 + 1) + (4 + 2) + (4 + 2) + (1 + 3) + (1 + 2) + (1 + 2 + 1)
    ):  # the failed insert is rolled back too
        counts = sweeps.inbox_sweep(NOW)
    assert (counts["reminders"], counts["escalations"]) == (2 * due, due)


# --- the daily digest -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_sends_the_digest_once_a_london_day_from_eight(admins, ceo):
    flagged = _message(  # due at 07:00, so overdue by the 08:00 digest
        -3 * HOUR,
        urgent=True,
        kind=Conversation.Kind.COMMENT,
        sender_name="Jo O'Brien",
        text="Please take down the photo of Sam at the picnic,\nhis dad and I never agreed to it being online at all.",
    )
    asked = _message(3 * DAY, sender_id="17841400000000", text="When is the next family day?", assignee=admins[0])
    _message(-DAY, status=Conversation.Status.ANSWERED, sender_name="Answered Already", text="Thank you!")
    takedown = _takedown(HOUR, message=flagged, reason="Names a child & his school")

    def digests_at(day: int, hour: int, minute: int) -> int:
        return _sweep(datetime(2025, 3, day, hour, minute, tzinfo=LONDON))["digest"]

    assert digests_at(12, 7, 59) == 0
    assert _sent(DIGEST) == []
    assert digests_at(12, 8, 0) == 1
    assert [digests_at(12, h, m) for h, m in [(8, 0), (8, 15), (12, 0), (23, 59)]] == [0, 0, 0, 0]
    [first, _] = digests = _sent(DIGEST)
    assert _to(digests) == _emails(*admins)  # not the CEO
    assert first.subject == "Social media inbox, Wednesday 12 March"
    site = django_settings.FIG_SITE_URL
    # Each item: channel, sender, a short excerpt on one line, when it is due in London and how long is
    # left, and a link. Plain text, so nothing is HTML-escaped.
    assert (
        first.body
        == f"""Good morning,

The social media inbox today: 2 open, 1 overdue, 1 urgent; 1 takedown open.

Past the one-week deadline (1):

- Facebook Page public comment from Jo O'Brien: “Please take down the photo of Sam at the picnic, his dad and I never agreed to…”
  Was due Wednesday 12 March at 07:00 (1 hour overdue). Flagged: it may identify a family.
  {site}{reverse("social:message", args=[flagged.pk])}

Open, least time left first (1):

- Facebook Page private message from 17841400000000: “When is the next family day?”
  Due Saturday 15 March at 10:00 (3 days left). Assigned to {admins[0]}.
  {site}{reverse("social:message", args=[asked.pk])}

Takedowns open (1):

- Facebook Page public comment from Jo O'Brien: “Please take down the photo of Sam at the picnic, his dad and I never agreed to…”
  Must be down by Wednesday 12 March at 11:00 (due in 3 hours). Why: Names a child & his school
  {site}{reverse("social:takedowns")}#takedown-{takedown.pk}

The inbox: {site}{reverse("social:inbox")}

FiG Safety
"""
    )

    assert [digests_at(13, 0, 0), digests_at(13, 7, 45)] == [0, 0]
    assert digests_at(13, 8, 0) == 1
    assert digests_at(13, 9, 0) == 0
    later = [email for email in _sent(DIGEST) if email not in digests]
    assert _to(later) == _emails(*admins)
    assert later[0].subject == "Social media inbox, Thursday 13 March"
    assert "Was due Wednesday 12 March at 07:00 (1 day overdue)." in later[0].body
    assert "Due Saturday 15 March at 10:00 (2 days left)." in later[0].body
    assert sorted(DigestSent.objects.values_list("day", flat=True)) == [date(2025, 3, 12), date(2025, 3, 13)]


@pytest.mark.django_db
@pytest.mark.parametrize("more", [0, 5])
def test_the_digest_lists_twenty_of_each_in_a_fixed_number_of_queries(admins, django_assert_num_queries, more):
    for n in range(20 + more):
        _message(-(n + 1) * HOUR, sender_name=f"Late {n}")
        _message(DAY + n * HOUR, sender_name=f"Waiting {n}")
        _takedown(HOUR + n * HOUR)
    _message(-MINUTE, urgent=True, sender_name="Flagged")  # the least overdue, but listed first
    _message(-HOUR, status=Conversation.Status.CLOSED, sender_name="Closed")

    # The stamp (a savepoint pair around its insert); open messages counted; the overdue ones; the ones
    # not yet due; open takedowns counted; the first of them with their messages and posts; the
    # administrators' addresses; one insert of the emails.
    with TestCase.captureOnCommitCallbacks(execute=True), django_assert_num_queries(3 + 1 + 1 + 1 + 1 + 1 + 1 + 1):
        assert sweeps.send_digest(NOW) == 1

    body = _sent(DIGEST)[0].body
    assert f"{41 + 2 * more} open, {21 + more} overdue, 1 urgent; {20 + more} takedowns open." in body
    assert re.findall(r"^- Facebook Page private message from ([^:\n]+)$", body, re.M) == [
        "Flagged",
        *[f"Late {n}" for n in range(19 + more, more, -1)],  # flagged first, then the most overdue
        *[f"Waiting {n}" for n in range(20)],  # the least time left first
    ]
    assert len(re.findall(r"^  Must be down by ", body, re.M)) == 20
    inbox = django_settings.FIG_SITE_URL + reverse("social:inbox")
    takedowns = django_settings.FIG_SITE_URL + reverse("social:takedowns")
    assert re.findall(r"^And .*$", body, re.M) == [f"And {1 + more} more: {inbox}?tab=overdue"] + (
        [f"And {more} more: {inbox}", f"And {more} more: {takedowns}"] if more else []
    )


@pytest.mark.django_db
def test_the_digest_keeps_londons_day_in_summer(admins):
    """In British Summer Time 08:00 in London is 07:00 UTC, and 23:30 UTC is already tomorrow."""
    assert _sweep(datetime(2025, 7, 1, 7, 0, tzinfo=UTC))["digest"] == 1
    assert _sweep(datetime(2025, 7, 1, 23, 30, tzinfo=UTC))["digest"] == 0  # 00:30 on 2 July: too early
    assert _sweep(datetime(2025, 7, 2, 7, 0, tzinfo=UTC))["digest"] == 1
    assert [email.subject for email in _sent(DIGEST)][::2] == [
        "Social media inbox, Tuesday 1 July",
        "Social media inbox, Wednesday 2 July",
    ]


# --- takedowns ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_escalates_an_open_takedown_hourly_to_the_administrators(admins, ceo):
    takedown = _takedown(20 * HOUR)

    assert _sweep()["takedown_escalations"] == 1
    assert _to(_sent(TAKEDOWN)) == _emails(*admins)  # not overdue: not the CEO yet
    assert {email.subject for email in _sent(TAKEDOWN)} == {"1 takedown still open"}

    assert [_sweep(NOW + m * MINUTE)["takedown_escalations"] for m in (0, 15, 30, 59)] == [0, 0, 0, 0]
    assert len(_sent(TAKEDOWN)) == 2
    assert _reload(takedown)[0].last_escalated_at == NOW

    assert _sweep(NOW + HOUR)["takedown_escalations"] == 1
    assert len(_sent(TAKEDOWN)) == 4
    assert _reload(takedown)[0].last_escalated_at == NOW + HOUR


@pytest.mark.django_db
def test_an_overdue_takedown_goes_to_the_ceo_too(admins, ceo, member_of_staff):
    late, on_time = _takedown(-MINUTE), _takedown(HOUR)

    assert _sweep()["takedown_escalations"] == 2

    overdue = [email for email in _sent(TAKEDOWN) if email.subject == "1 takedown still open and overdue"]
    still_open = [email for email in _sent(TAKEDOWN) if email.subject == "1 takedown still open"]
    assert _to(overdue) == _emails(*admins, ceo)
    assert _to(still_open) == _emails(*admins)
    assert len(_sent(TAKEDOWN)) == 5
    assert f"#{late.pk}," in overdue[0].body and f"#{on_time.pk}," not in overdue[0].body
    assert django_settings.FIG_SITE_URL + reverse("social:takedowns") in overdue[0].body


@pytest.mark.django_db
def test_a_removed_or_cancelled_takedown_is_not_escalated(admins, ceo):
    removed = _takedown(-HOUR, message=_message(DAY, kind=Conversation.Kind.COMMENT))
    _takedown(-HOUR, status=Takedown.Status.CANCELLED)
    assert _sweep()["takedown_escalations"] == 1
    sent = len(_sent(TAKEDOWN))

    takedown_record_removal(takedown=removed, how=Takedown.How.BY_HAND, notes="Deleted on Facebook", by=admins[0])

    assert [_sweep(NOW + h * HOUR)["takedown_escalations"] for h in (1, 2, 30)] == [0, 0, 0]
    assert len(_sent(TAKEDOWN)) == sent
    assert _reload(removed)[0].last_escalated_at == NOW


# --- the command, the task and beat ---------------------------------------------------------------


@pytest.mark.django_db
def test_the_command_runs_the_sweep_once_and_prints_the_counts(admins):
    soon, late = _message(DAY, assignee=admins[0]), _message(-DAY)
    out = StringIO()

    with (
        mock.patch.object(timezone, "now", return_value=NOW),
        mock.patch("social.management.commands.inbox_sweep.inbox_sweep", wraps=sweeps.inbox_sweep) as sweep,
        TestCase.captureOnCommitCallbacks(execute=True),
    ):
        call_command("inbox_sweep", stdout=out)

    sweep.assert_called_once_with()
    assert out.getvalue() == (
        "deliveries resumed: 0, flags recovered: 0, fetches resumed: 0, replies resumed: 0, "
        "reminders: 2, escalations: 1, digest: 1, takedown escalations: 0, removals resumed: 0\n"
    )
    assert [(m.reminder_sent_at, m.escalated_at) for m in _reload(soon, late)] == [(NOW, None), (NOW, NOW)]
    assert len(_sent(REMINDER)) == 1 + len(admins)

    out = StringIO()
    with mock.patch.object(timezone, "now", return_value=NOW + MINUTE), TestCase.captureOnCommitCallbacks(execute=True):
        call_command("inbox_sweep", stdout=out)
    assert out.getvalue() == ", ".join(f"{key.replace('_', ' ')}: 0" for key in NOTHING) + "\n"


@pytest.mark.django_db
def test_the_task_runs_the_same_sweep(admins):
    received_at = timezone.now() - 8 * DAY  # the task reads the real clock
    late = Conversation.objects.create(platform=Platform.X, received_at=received_at, due_at=policy_due_at(received_at))
    with TestCase.captureOnCommitCallbacks(execute=True):
        result = tasks.inbox_sweep.delay().get()
    assert (result["reminders"], result["escalations"]) == (1, 1)
    assert _reload(late)[0].escalated_at is not None


def test_beat_runs_the_inbox_sweep_every_fifteen_minutes():
    app.loader.import_default_modules()
    entry = app.conf.beat_schedule["inbox"]
    assert entry["task"] == "social.tasks.inbox_sweep"
    assert entry["task"] in app.tasks
    assert entry["schedule"] == crontab(minute="*/15")
    assert entry["schedule"].minute == {0, 15, 30, 45}
    assert entry["schedule"].hour == set(range(24))
    assert not entry.get("args") and not entry.get("kwargs")  # the sweep reads the clock itself


# --- Redis lost its data --------------------------------------------------------------------------


@pytest.mark.redis
@pytest.mark.django_db
def test_after_a_redis_flushall_a_second_sweep_sends_nothing_more(celery_on_private_redis, admins, ceo):
    """Redis (here a server of this test's own, so FLUSHALL harms no other run) holds the cache and the
    Celery broker. The sweep's deliveries wait in the broker; FLUSHALL loses them and everything else.
    The outbox sweep still delivers each email once, and the next inbox sweep sends nothing more."""
    store = celery_on_private_redis.client()
    soon, late = _message(DAY, assignee=admins[0]), _message(-HOUR)
    _takedown(3 * HOUR)
    cache.set("probe", "kept in Redis")

    assert _sweep() == NOTHING | {"reminders": 2, "escalations": 1, "digest": 1, "takedown_escalations": 1}
    stamps = [(m.reminder_sent_at, m.escalated_at) for m in _reload(soon, late)]
    assert mail.outbox == []  # queued for a worker, and there is none
    assert store.llen("celery") == 4  # one delivery task each for reminders, escalations, digest, takedowns

    assert store.flushall()
    assert store.dbsize() == 0
    assert cache.get("probe") is None  # the cache went too

    assert _sweep(NOW + 5 * MINUTE) == NOTHING
    assert store.llen("celery") == 0  # nothing new to deliver
    assert [(m.reminder_sent_at, m.escalated_at) for m in _reload(soon, late)] == stamps

    # Beat's every-minute outbox sweep sends what the lost tasks would have: each email once.
    assert deliver_outbox() == 10
    assert [len(_sent(kind)) for kind in (REMINDER, ESCALATION, DIGEST, TAKEDOWN)] == [3, 3, 2, 2]
    # An hour on: the open takedown's hourly reminder, and nothing about the messages again.
    assert _sweep(NOW + HOUR + 5 * MINUTE) == NOTHING | {"takedown_escalations": 1}
    assert deliver_outbox() == 2
    assert [len(_sent(kind)) for kind in (REMINDER, ESCALATION, DIGEST, TAKEDOWN)] == [3, 3, 2, 4]


# --- two sweeps at once ---------------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_sweeps_at_once_send_each_notice_once():
    """Two sweeps on two PostgreSQL connections, started together, with slow sending so that each
    meets rows the other has locked: every message still gets one reminder and one escalation."""
    assert connection.vendor == "postgresql"
    admins = [factories.staff_user("social_admin", email=f"admin{n}@example.org") for n in (1, 2, 3)]
    ceo = factories.staff_user("ceo", email="ceo@example.org")
    messages = [_message(-(n + 1) * 10 * MINUTE, assignee=admins[n % 3]) for n in range(6)]
    messages += [_message(-(n + 7) * 10 * MINUTE) for n in range(2)]  # unassigned: every admin is reminded
    _takedown(HOUR)

    original = sweeps.notify

    def slow_notify(**kwargs) -> None:
        time.sleep(0.2)  # inside the sweep's transaction: hold the row locks while the other sweep runs
        original(**kwargs)

    barrier = threading.Barrier(2)
    results: list[dict[str, int]] = []
    spans: list[tuple[float, float]] = []
    errors: list[BaseException] = []

    def run(now: datetime) -> None:
        try:
            barrier.wait(timeout=10)
            started = time.monotonic()
            results.append(sweeps.inbox_sweep(now))
            spans.append((started, time.monotonic()))
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)
        finally:
            connection.close()

    nows = [NOW, NOW + timedelta(seconds=1)]
    with mock.patch.object(sweeps, "notify", slow_notify):
        threads = [threading.Thread(target=run, args=(now,)) for now in nows]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)

    assert not errors, errors
    assert len(results) == 2
    assert max(start for start, _ in spans) < min(end for _, end in spans)  # the two sweeps overlapped
    assert dict(sum((Counter(r) for r in results), Counter())) == {
        "reminders": 8,
        "escalations": 8,
        "digest": 1,
        "takedown_escalations": 1,
    }

    # One reminder per message: to its assignee, or one to each admin when nobody is assigned.
    expected = Counter()
    for message in messages:
        subject = f"Reply due by {when(message.due_at)}"
        for address in [message.assignee.email] if message.assignee else _emails(*admins):
            expected[(address, subject)] += 1
    assert Counter((email.to[0], email.subject) for email in _sent(REMINDER)) == expected

    # Escalations are grouped per sweep; each admin and the CEO hear of each message once in all.
    for person in [*admins, ceo]:
        theirs = [email for email in _sent(ESCALATION) if email.to == [person.email]]
        assert sum(int(ESCALATION.match(email.subject)[1]) for email in theirs) == len(messages)
        listed = [line for email in theirs for line in email.body.splitlines() if line.startswith("- ")]
        assert len(listed) == len(set(listed)) == len(messages)

    assert _to(_sent(DIGEST)) == _emails(*admins)
    assert _to(_sent(TAKEDOWN)) == _emails(*admins)
    assert DigestSent.objects.count() == 1
    for message in _reload(*messages):
        assert message.reminder_sent_at in nows and message.escalated_at in nows
