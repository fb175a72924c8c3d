"""Lapsed consent is acted on: coordinators told 30 and 7 days before a child's consent to be photographed and
kept runs out, and at expiry without renewal the child's photos go to the deletion queue under the same
rules as a withdrawal. The sweeps are called with `now` moved on: nothing sleeps."""

from __future__ import annotations

import datetime as dt
import threading
import time
from unittest import mock

import pytest
from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.core import mail
from django.db import connection
from django.test import TestCase
from django.urls import reverse
from django.utils import timezone

from consents import sweeps
from consents.models import LapseNotice, Purpose
from photos import sweeps as photo_sweeps
from photos.models import Photo
from photos.services import photo_keep
from staff.models import AuditEvent
from tests import factories
from tests.consents.factories import all_answers, family_with_child, give, withdraw
from tests.photos.fixtures import consented_child, ready_photo

DAY = dt.timedelta(days=1)
HOUR = dt.timedelta(hours=1)
REASON = "Evidence in an open safeguarding case; the police asked us to keep it."


def _signed_for_expiry_in(days: float) -> dt.datetime:
    """When a consent was signed that runs out `days` days from now."""
    return timezone.now() - relativedelta(months=12) + dt.timedelta(days=days)


def _run(fn, now: dt.datetime) -> int:
    """A sweep step at `now`, with the emails it queues sent."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        return fn(now)


def _fresh(photo: Photo) -> Photo:
    return Photo.objects.get(pk=photo.pk)


def _to(user) -> list:
    return [m for m in mail.outbox if m.to == [user.email]]


def _london_day(moment: dt.datetime) -> str:
    local = timezone.localtime(moment, sweeps.LONDON)
    return f"{local.day} {local:%B %Y}"


@pytest.fixture
def other_coordinator(db):
    return factories.staff_user("coordinator", email="other.coordinator@example.org")


@pytest.fixture
def lapsing(coordinator, other_coordinator):
    """Ava's consent (all yes) runs out in 40 days; another coordinator's family has a child whose
    consent runs out at the same moment."""
    signed_at = _signed_for_expiry_in(40)
    family, ava, [carer] = family_with_child(coordinator)
    record = give(ava, carer, at=signed_at)
    _, elsewhere, [their_carer] = family_with_child(other_coordinator)
    give(elsewhere, their_carer, at=signed_at)
    mail.outbox.clear()
    return family, ava, carer, record.signed_at + relativedelta(months=12)


# --- the notices ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_tells_the_coordinators_thirty_days_and_seven_days_before_once_each(coordinator, other_coordinator, lapsing):
    family, ava, _, expires = lapsing

    assert _run(sweeps.send_lapse_notices, timezone.now()) == 0  # 40 days off
    assert _run(sweeps.send_lapse_notices, expires - 31 * DAY) == 0
    assert _run(sweeps.send_lapse_notices, expires - 30 * DAY) == 2  # Ava's, and the other family's child's
    assert _run(sweeps.send_lapse_notices, expires - 30 * DAY) == 0  # the sweep run twice
    assert _run(sweeps.send_lapse_notices, expires - 20 * DAY) == 0
    [notice] = _to(coordinator)
    assert notice.subject == f"Photo consent runs out in 30 days in family {family.reference}"
    assert f"runs out on {sweeps._day(expires)}, in 30 days" in notice.body
    assert "Nobody has been asked to renew it yet" in notice.body
    assert "will be deleted 7 days later, unless you record a lawful reason" in notice.body
    assert reverse("consents:child_history", args=[family.reference, ava.pk]) in notice.body
    assert ava.first_name not in notice.body  # a family reference in an email, never a name

    assert _run(sweeps.send_lapse_notices, expires - 7 * DAY - HOUR) == 0
    assert _run(sweeps.send_lapse_notices, expires - 7 * DAY) == 2
    assert _run(sweeps.send_lapse_notices, expires - 7 * DAY) == 0
    assert _run(sweeps.send_lapse_notices, expires - DAY) == 0
    assert [m.subject for m in _to(coordinator)][1] == f"Photo consent runs out in 7 days in family {family.reference}"
    assert len(_to(coordinator)) == 2
    # The other coordinator heard about their own family's child only.
    theirs = _to(other_coordinator)
    assert len(theirs) == 2 and not any(family.reference in m.subject + m.body for m in theirs)
    assert set(LapseNotice.objects.filter(child=ava).values_list("step", "lapses_at")) == {
        (LapseNotice.Step.NOTICE_30, expires),
        (LapseNotice.Step.NOTICE_7, expires),
    }


@pytest.mark.django_db
def test_a_consent_first_seen_within_seven_days_gets_the_seven_day_notice_only(coordinator):
    _, ava, [carer] = family_with_child(coordinator)
    give(ava, carer, at=_signed_for_expiry_in(5))
    mail.outbox.clear()
    assert _run(sweeps.send_lapse_notices, timezone.now()) == 1
    assert _run(sweeps.send_lapse_notices, timezone.now() + DAY) == 0
    assert list(LapseNotice.objects.values_list("step", flat=True)) == [LapseNotice.Step.NOTICE_7]
    assert len(_to(coordinator)) == 1


@pytest.mark.django_db
def test_the_notice_says_when_the_parent_has_been_asked_to_renew(coordinator, lapsing):
    family, _, carer, expires = lapsing
    assert _run(sweeps.consent_sweep, expires - 30 * DAY)["lapse_notices"] == 2  # the renewal requests first
    [notice] = _to(coordinator)
    assert "has been asked to renew it and has not answered yet" in notice.body
    assert [m.to for m in mail.outbox if m.to == [carer.email]]  # the parent was asked again, as before


@pytest.mark.django_db
def test_no_notice_once_renewed(coordinator, lapsing):
    _, ava, carer, expires = lapsing
    assert _run(sweeps.send_lapse_notices, expires - 30 * DAY) == 2
    give(ava, carer, at=expires - 10 * DAY)  # renewed in time
    for when in (expires - 7 * DAY, expires - DAY, expires + HOUR):
        assert _run(sweeps.send_lapse_notices, when) <= 1  # the other family's child only
    assert len(_to(coordinator)) == 1


@pytest.mark.django_db
def test_no_notice_for_a_child_who_may_not_be_photographed_and_kept(coordinator):
    _, ava, [carer] = family_with_child(coordinator)
    give(ava, carer, answers=all_answers(True, stored=False), at=_signed_for_expiry_in(20))
    assert _run(sweeps.send_lapse_notices, timezone.now()) == 0


# --- at expiry ----------------------------------------------------------------------------------------


def _ava_lapsing(coordinator, in_days: float = 20):
    """A family with Ava, whose only consent runs out in `in_days` days, and her photos."""
    family, ava, [carer] = family_with_child(coordinator)
    _, ben, _ = consented_child(family)
    # Ava's consent: signed (in the past) so that it runs out in `in_days` days; her photos are taken now.
    record = give(ava, carer, at=_signed_for_expiry_in(in_days))
    expires = record.signed_at + relativedelta(months=12)
    photos = {
        "solo_ava": ready_photo(family, [ava], coordinator),
        "group": ready_photo(family, [ava, ben], coordinator),
        "solo_ben": ready_photo(family, [ben], coordinator),
    }
    return family, ava, ben, carer, expires, photos


@pytest.mark.django_db
def test_at_expiry_without_renewal_the_childs_photos_go_to_the_deletion_queue(coordinator, other_coordinator):
    family, ava, ben, carer, expires, photos = _ava_lapsing(coordinator)
    _, cara, _ = consented_child(family)
    _, dan, _ = consented_child(family)
    kept = ready_photo(family, [ava, cara], coordinator)
    queued = ready_photo(family, [ava, dan], coordinator)
    withdraw(cara, carer, [Purpose.PHOTOGRAPHED])  # queues `kept`, which the coordinator then keeps
    photo_keep(photo=_fresh(kept), reason=REASON, by=coordinator)
    withdraw(dan, carer, [Purpose.STORED])  # queues `queued`, left in the queue
    queued_due = _fresh(queued).deletion_due_at
    mail.outbox.clear()

    assert _run(sweeps.act_on_lapses, expires - HOUR) == 0  # not yet
    assert not Photo.objects.filter(pk=photos["solo_ava"].pk, deletion_due_at__isnull=False).exists()

    now = expires + HOUR  # the clock moved on past the expiry
    assert _run(sweeps.act_on_lapses, now) == 1
    assert _run(sweeps.act_on_lapses, now) == 0  # once
    assert _run(sweeps.act_on_lapses, now + 3 * DAY) == 0

    grace = dt.timedelta(days=settings.FIG_WITHDRAWN_PHOTO_GRACE_DAYS)
    lapsed_on = _london_day(expires)
    for photo in (photos["solo_ava"], photos["group"]):  # the group photo too: Ava is in it
        photo = _fresh(photo)
        assert photo.deletion_due_at == now + grace
        assert photo.deletion_reason == f"Consent to be photographed or kept lapsed on {lapsed_on} and was not renewed."
        assert photo.status == Photo.Status.READY  # still there during the grace period
    assert _fresh(photos["solo_ben"]).deletion_due_at is None  # another child's photo, untouched
    # The kept photo follows the withdrawal's rule: the lapse newly takes consent away, so it is decided again.
    kept = _fresh(kept)
    assert kept.deletion_due_at == now + grace
    assert (kept.keep_reason, kept.keep_recorded_by) == ("", None)
    assert kept.deletion_reason.startswith(f"Consent to be photographed or kept lapsed on {lapsed_on}")
    assert _fresh(queued).deletion_due_at == queued_due  # already queued: left as it was

    event = AuditEvent.objects.filter(action="photo.deletion_queued").latest("id")
    assert sorted(event.details["photos"]) == sorted([photos["solo_ava"].pk, photos["group"].pk, kept.pk])
    assert event.details["requeued_after_keep"] == [kept.pk]
    assert (event.details["child"], event.details["lapsed_at"]) == (ava.pk, expires.isoformat())
    lapse = AuditEvent.objects.get(action="consent.lapsed")
    assert lapse.details == {"child": ava.pk, "lapsed_at": expires.isoformat(), "photos": 3}
    notice = LapseNotice.objects.get(step=LapseNotice.Step.LAPSED)
    assert (notice.child, notice.lapses_at, notice.done_at) == (ava, expires, now)

    [told] = _to(coordinator)
    assert told.subject == f"Photo consent has run out in family {family.reference}"
    assert f"ran out on {sweeps._day(expires)} and was not renewed" in told.body
    assert f"3 photos of the child will be deleted on {sweeps._day(now + grace)}" in told.body
    assert "1 of them was kept for a lawful reason after an earlier withdrawal" in told.body
    assert reverse("photos:deletion_queue") in told.body
    assert not _to(other_coordinator)

    # After the grace period the vault sweep deletes them, as after a withdrawal.
    assert _run(photo_sweeps.delete_due, now + grace + HOUR) == 4  # Ava's three and the one queued before
    assert _fresh(photos["solo_ava"]).status == Photo.Status.DELETED
    assert _fresh(photos["solo_ben"]).status == Photo.Status.READY


@pytest.mark.django_db
def test_with_a_renewal_in_time_nothing_is_queued(coordinator):
    _, ava, _, carer, expires, photos = _ava_lapsing(coordinator)
    give(ava, carer, at=expires - 5 * DAY)  # the parent renewed
    assert _run(sweeps.act_on_lapses, expires + HOUR) == 0
    assert _run(sweeps.act_on_lapses, expires + 20 * DAY) == 0
    assert not Photo.objects.filter(deletion_due_at__isnull=False).exists()
    assert not LapseNotice.objects.filter(step=LapseNotice.Step.LAPSED).exists()
    assert not _to(coordinator)


@pytest.mark.django_db
def test_a_renewal_that_lapses_in_turn_is_acted_on_then(coordinator):
    _, ava, _, carer, expires, photos = _ava_lapsing(coordinator)
    renewal = give(ava, carer, at=expires - 5 * DAY)
    renewed_until = renewal.signed_at + relativedelta(months=12)
    assert _run(sweeps.act_on_lapses, expires + HOUR) == 0
    assert _run(sweeps.act_on_lapses, renewed_until + HOUR) == 2  # Ava's, and Ben's (given a year before)
    assert LapseNotice.objects.get(child=ava, step=LapseNotice.Step.LAPSED).lapses_at == renewed_until
    assert _fresh(photos["solo_ava"]).deletion_due_at is not None


@pytest.mark.django_db
def test_a_lapse_the_sweep_sees_late_is_acted_on_once_with_the_grace_from_then(coordinator):
    _, _, _, _, expires, photos = _ava_lapsing(coordinator)
    now = expires + 10 * DAY  # the sweep did not run for ten days
    assert _run(sweeps.act_on_lapses, now) == 1
    assert _fresh(photos["solo_ava"]).deletion_due_at == now + dt.timedelta(
        days=settings.FIG_WITHDRAWN_PHOTO_GRACE_DAYS
    )


@pytest.mark.django_db
def test_a_lapse_long_unacted_on_is_still_acted_on(coordinator):
    """A sweep stopped for months, or a lapse from before this step existed: the photos are still queued."""
    _, _, _, _, expires, photos = _ava_lapsing(coordinator)
    now = expires + 200 * DAY
    assert _run(sweeps.act_on_lapses, now) == 1
    assert _fresh(photos["solo_ava"]).deletion_due_at == now + dt.timedelta(
        days=settings.FIG_WITHDRAWN_PHOTO_GRACE_DAYS
    )
    assert _run(sweeps.act_on_lapses, now + HOUR) == 0


@pytest.mark.django_db
def test_a_child_with_a_refusal_already_in_force_is_left_as_it_is(coordinator):
    _, ava, _, carer, expires, photos = _ava_lapsing(coordinator)
    withdraw(ava, carer, [Purpose.PHOTOGRAPHED])  # the withdrawal queues her photos
    photo_keep(photo=_fresh(photos["solo_ava"]), reason=REASON, by=coordinator)
    due = _fresh(photos["group"]).deletion_due_at
    mail.outbox.clear()

    assert _run(sweeps.act_on_lapses, expires + HOUR) == 0
    assert _fresh(photos["solo_ava"]).keep_reason == REASON  # still kept
    assert _fresh(photos["solo_ava"]).deletion_due_at is None
    assert _fresh(photos["group"]).deletion_due_at == due
    assert not LapseNotice.objects.exists()
    assert not _to(coordinator)


@pytest.mark.django_db
def test_with_two_carers_the_consent_runs_out_with_the_later_yes(coordinator):
    family, ava, [mum, dad] = family_with_child(coordinator, carers=2)
    first = give(ava, mum, at=_signed_for_expiry_in(10))
    second = give(ava, dad, at=_signed_for_expiry_in(20))
    photo = ready_photo(family, [ava], coordinator)
    first_expires = first.signed_at + relativedelta(months=12)
    second_expires = second.signed_at + relativedelta(months=12)

    assert _run(sweeps.act_on_lapses, first_expires + HOUR) == 0  # dad's yes still holds
    assert _fresh(photo).deletion_due_at is None
    assert _run(sweeps.act_on_lapses, second_expires + HOUR) == 1
    assert LapseNotice.objects.get(step=LapseNotice.Step.LAPSED).lapses_at == second_expires
    assert _fresh(photo).deletion_due_at is not None


@pytest.mark.django_db
def test_the_coordinators_are_told_of_a_lapse_with_no_photos_to_queue(coordinator):
    family, ava, [carer] = family_with_child(coordinator)
    record = give(ava, carer, at=_signed_for_expiry_in(3))
    expires = record.signed_at + relativedelta(months=12)
    mail.outbox.clear()
    assert _run(sweeps.act_on_lapses, expires + HOUR) == 1
    [told] = _to(coordinator)
    assert "No photos of the child were added to the deletion queue." in told.body
    assert not AuditEvent.objects.filter(action="photo.deletion_queued").exists()
    assert AuditEvent.objects.get(action="consent.lapsed").details["photos"] == 0


@pytest.mark.django_db
def test_the_whole_sweep_notices_then_acts_on_the_lapse(coordinator):
    family, ava, _, carer, expires, photos = _ava_lapsing(coordinator, in_days=35)
    mail.outbox.clear()
    counts = [
        _run(sweeps.consent_sweep, when)
        for when in (expires - 30 * DAY, expires - 7 * DAY, expires + HOUR, expires + 2 * HOUR)
    ]
    assert [(c["lapse_notices"], c["lapsed"]) for c in counts] == [(1, 0), (1, 0), (0, 1), (0, 0)]
    assert len(_to(coordinator)) == 3
    assert _fresh(photos["solo_ava"]).deletion_due_at is not None


# --- two sweeps at once -------------------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("step", ["send_lapse_notices", "act_on_lapses"])
def test_two_sweeps_at_once_act_once(step):
    assert connection.vendor == "postgresql"
    coordinator = factories.staff_user("coordinator", email="coordinator@example.org")
    _, ava, [carer] = family_with_child(coordinator)
    record = give(ava, carer, at=_signed_for_expiry_in(20))
    expires = record.signed_at + relativedelta(months=12)
    now = expires - 7 * DAY if step == "send_lapse_notices" else expires + HOUR
    mail.outbox.clear()

    original = sweeps.notify_all

    def slow_notify(emails):
        original(emails)
        time.sleep(0.3)  # hold the transaction open while the other sweep tries the same insert

    barrier = threading.Barrier(2)
    results: list[int] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait()
            results.append(getattr(sweeps, step)(now))
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)
        finally:
            connection.close()

    with mock.patch.object(sweeps, "notify_all", slow_notify):
        threads = [threading.Thread(target=run) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)

    assert not errors, errors
    assert sorted(results) == [0, 1]
    assert LapseNotice.objects.count() == 1
    assert len([m for m in mail.outbox if m.to == [coordinator.email]]) == 1


@pytest.mark.django_db
def test_a_family_nobody_coordinates_has_its_lapse_told_to_the_ceo(ceo):
    """Nobody coordinates the family: the CEO hears of the notices and of the lapse, not nobody (audit D3)."""
    signed_at = _signed_for_expiry_in(20)
    _, ava, [carer] = family_with_child()
    record = give(ava, carer, at=signed_at)
    expires = record.signed_at + relativedelta(months=12)
    mail.outbox.clear()
    assert _run(sweeps.send_lapse_notices, timezone.now()) == 1
    assert _run(sweeps.act_on_lapses, expires + HOUR) == 1
    assert [m.to for m in mail.outbox] == [[ceo.email], [ceo.email]]
