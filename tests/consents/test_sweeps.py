"""Periodic consent sweeps: expire old links, remind once after a week, ask for renewal before expiry."""

from __future__ import annotations

import datetime as dt
import threading
import time
from unittest import mock

import pytest
from dateutil.relativedelta import relativedelta
from django.core import mail
from django.db import connection
from django.utils import timezone

from consents import sweeps
from consents.models import ConsentRecord, ConsentRequest, Purpose
from consents.services.families import carer_save
from consents.services.requests import consent_request_email
from tests.consents.factories import CarerFactory, all_answers, family_with_child, give, request_for, sign, withdraw

DAY = dt.timedelta(days=1)


@pytest.fixture
def now() -> dt.datetime:
    return timezone.now()


# --- expiry -----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_expires_pending_requests_past_their_expiry(now):
    _, child, (mum, dad) = family_with_child(carers=2)
    old = request_for(child, mum, at=now - 15 * DAY)
    fresh = request_for(child, dad, at=now - 13 * DAY)
    _, child2, (carer2,) = family_with_child()
    answered = request_for(child2, carer2, at=now - 13 * DAY)
    sign(answered, at=now - 12 * DAY)

    assert sweeps.expire_requests() == 1
    assert sweeps.expire_requests() == 0

    statuses = dict(ConsentRequest.objects.values_list("pk", "status"))
    assert statuses == {
        old.pk: ConsentRequest.Status.EXPIRED,
        fresh.pk: ConsentRequest.Status.PENDING,
        answered.pk: ConsentRequest.Status.SIGNED,
    }
    assert sweeps.expire_requests(now + 2 * DAY) == 1
    fresh.refresh_from_db()
    assert fresh.status == ConsentRequest.Status.EXPIRED


# --- reminders --------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_reminds_once_after_seven_days(now, settings, django_capture_on_commit_callbacks):
    assert settings.FIG_CONSENT_REMINDER_DAYS == 7
    _, child, (carer,) = family_with_child()
    consent_request = request_for(child, carer, at=now)

    with django_capture_on_commit_callbacks(execute=True):
        assert sweeps.send_request_reminders(now + 6 * DAY) == 0
    assert mail.outbox == []

    with django_capture_on_commit_callbacks(execute=True):
        assert sweeps.send_request_reminders(now + 7 * DAY + dt.timedelta(minutes=1)) == 1
        assert sweeps.send_request_reminders(now + 8 * DAY) == 0
        assert sweeps.send_request_reminders(now + 9 * DAY) == 0

    assert len(mail.outbox) == 1
    reminder = mail.outbox[0]
    assert reminder.subject.startswith("Reminder:")
    assert reminder.to == [carer.email]
    assert "reminder" in reminder.body
    consent_request.refresh_from_db()
    assert consent_request.reminder_sent_at == now + 7 * DAY + dt.timedelta(minutes=1)
    assert consent_request.status == ConsentRequest.Status.PENDING


@pytest.mark.django_db
def test_the_reminder_days_are_configurable(now, settings, django_capture_on_commit_callbacks):
    settings.FIG_CONSENT_REMINDER_DAYS = 2
    _, child, (carer,) = family_with_child()
    request_for(child, carer, at=now - 3 * DAY)
    with django_capture_on_commit_callbacks(execute=True):
        assert sweeps.send_request_reminders() == 1
    assert len(mail.outbox) == 1


@pytest.mark.django_db
def test_it_does_not_remind_about_answered_cancelled_or_expired_requests(now, django_capture_on_commit_callbacks):
    _, signed_child, (c1,) = family_with_child()
    sign(request_for(signed_child, c1, at=now - 10 * DAY), at=now - 9 * DAY)
    _, declined_child, (c2,) = family_with_child()
    sign(request_for(declined_child, c2, at=now - 10 * DAY), answers=all_answers(False), at=now - 9 * DAY)
    _, cancelled_child, (c3,) = family_with_child()
    request_for(cancelled_child, c3, at=now - 10 * DAY)
    request_for(cancelled_child, c3, at=now - DAY)  # cancels the first; too new to remind
    _, expired_child, (c4,) = family_with_child()
    request_for(expired_child, c4, at=now - 15 * DAY)

    with django_capture_on_commit_callbacks(execute=True):
        assert sweeps.send_request_reminders() == 0
    assert mail.outbox == []


@pytest.mark.django_db
def test_a_sweep_runs_everything_once(now, django_capture_on_commit_callbacks):
    _, child, (mum, dad) = family_with_child(carers=2)
    request_for(child, mum, at=now - 15 * DAY)
    request_for(child, dad, at=now - 8 * DAY)
    _, renew_child, (renew_carer,) = family_with_child()
    give(renew_child, renew_carer, at=now - relativedelta(months=12) + 10 * DAY)

    with django_capture_on_commit_callbacks(execute=True):
        assert sweeps.consent_sweep() == {
            "expired": 1,
            "reminded": 1,
            "renewals": 1,
            "lapse_notices": 1,
            "lapsed": 0,
        }
        assert sweeps.consent_sweep() == dict.fromkeys(
            ["expired", "reminded", "renewals", "lapse_notices", "lapsed"], 0
        )
    assert len(mail.outbox) == 2  # one reminder, one renewal request (no coordinator to tell of the lapse)


# --- renewals ---------------------------------------------------------------------------------------


def _expiring_in(days: int, now: dt.datetime) -> dt.datetime:
    """The signing time of a consent that expires `days` days after `now`."""
    return now - relativedelta(months=12) + days * DAY


@pytest.mark.django_db
def test_it_asks_for_renewal_thirty_days_before_expiry_once(now, settings, django_capture_on_commit_callbacks):
    assert settings.FIG_CONSENT_RENEWAL_DAYS == 30
    _, due_child, (due_carer,) = family_with_child()
    due = give(due_child, due_carer, at=_expiring_in(29, now))
    _, later_child, (later_carer,) = family_with_child()
    give(later_child, later_carer, at=_expiring_in(31, now))

    with django_capture_on_commit_callbacks(execute=True):
        assert sweeps.request_renewals() == 1
        assert sweeps.request_renewals() == 0

    renewal = ConsentRequest.objects.get()
    assert (renewal.child, renewal.carer, renewal.renews) == (due_child, due_carer, due)
    assert renewal.status == ConsentRequest.Status.PENDING
    assert [m.to for m in mail.outbox] == [[due_carer.email]]

    # The other consent comes into the window later, and is asked about then, once.
    assert sweeps.request_renewals(now + 2 * DAY) == 1
    assert sweeps.request_renewals(now + 3 * DAY) == 0
    assert ConsentRequest.objects.count() == 2


@pytest.mark.django_db
def test_a_renewal_is_asked_once_even_after_the_renewal_request_was_answered_or_expired(now):
    _, child, (carer,) = family_with_child()
    give(child, carer, at=_expiring_in(20, now))
    assert sweeps.request_renewals() == 1
    ConsentRequest.objects.update(status=ConsentRequest.Status.EXPIRED)
    assert sweeps.request_renewals() == 0


@pytest.mark.django_db
def test_no_renewal_for_a_consent_that_has_a_newer_consent(now):
    _, child, (carer,) = family_with_child()
    give(child, carer, at=_expiring_in(20, now))
    give(child, carer, at=now - 5 * DAY)

    assert sweeps.request_renewals() == 0
    assert not ConsentRequest.objects.exists()


@pytest.mark.django_db
def test_no_renewal_for_an_all_no_consent(now):
    _, child, (carer,) = family_with_child()
    give(child, carer, answers=all_answers(False), at=_expiring_in(20, now))

    assert sweeps.request_renewals() == 0
    assert not ConsentRequest.objects.exists()


@pytest.mark.django_db
def test_no_renewal_for_an_expired_consent_or_a_carer_without_email_or_responsibility(now, coordinator):
    _, expired_child, (c1,) = family_with_child()
    give(expired_child, c1, at=_expiring_in(-1, now))
    family, no_email_child, (c2,) = family_with_child()
    give(no_email_child, c2, at=_expiring_in(20, now))
    carer_save(family=family, carer=c2, by=coordinator, email="")
    family3, lost_pr_child, (c3,) = family_with_child()
    give(lost_pr_child, c3, at=_expiring_in(20, now))
    carer_save(family=family3, carer=c3, by=coordinator, has_parental_responsibility=False)

    assert sweeps.request_renewals() == 0
    assert not ConsentRequest.objects.exists()


@pytest.mark.django_db
def test_no_renewal_after_the_carer_withdrew_everything_they_had_said_yes_to(now):
    _, child, (carer,) = family_with_child()
    give(child, carer, answers=all_answers(False, photographed=True, stored=True), at=_expiring_in(20, now))
    withdraw(child, carer, [Purpose.PHOTOGRAPHED, Purpose.STORED], at=now - 5 * DAY)

    assert sweeps.request_renewals() == 0


@pytest.mark.django_db
def test_a_renewal_still_goes_out_after_a_partial_withdrawal(now):
    _, child, (carer,) = family_with_child()
    give(child, carer, at=_expiring_in(20, now))
    withdraw(child, carer, [Purpose.ONLINE], at=now - 5 * DAY)

    assert sweeps.request_renewals() == 1


@pytest.mark.django_db
def test_each_carer_is_asked_to_renew_their_own_consent(now):
    _, child, (mum, dad) = family_with_child(carers=2)
    give(child, mum, at=_expiring_in(20, now))
    give(child, dad, at=_expiring_in(25, now))
    CarerFactory(family=child.family)  # never consented: not a renewal

    assert sweeps.request_renewals() == 2
    assert set(ConsentRequest.objects.values_list("carer_id", flat=True)) == {mum.pk, dad.pk}
    assert ConsentRecord.objects.count() == 2


# --- two sweeps at once -----------------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_reminder_sweeps_at_once_send_one_email_per_request():
    assert connection.vendor == "postgresql"
    now = timezone.now()
    due = []
    for _ in range(3):
        _, child, (carer,) = family_with_child()
        due.append(request_for(child, carer, at=now - 8 * DAY))
    mail.outbox.clear()  # the original requests' emails

    original = consent_request_email

    def slow_email(consent_request, *, reminder):
        time.sleep(0.2)  # hold the row locks long enough for the other sweep to meet them
        original(consent_request=consent_request, reminder=reminder)

    barrier = threading.Barrier(2)
    results: list[int] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait()
            results.append(sweeps.send_request_reminders(now))
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)
        finally:
            connection.close()

    with mock.patch.object(sweeps, "consent_request_email", slow_email):
        threads = [threading.Thread(target=run) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)

    assert not errors, errors
    assert sum(results) == 3
    reminders = [m for m in mail.outbox if m.subject.startswith("Reminder:")]
    assert sorted(m.to[0] for m in reminders) == sorted(r.carer.email for r in due)
    assert ConsentRequest.objects.filter(reminder_sent_at__isnull=True).count() == 0
