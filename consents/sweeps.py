"""Periodic consent work: expire old links, remind once after a week, ask for renewal before expiry,
tell coordinators 30 and 7 days before a child's consent to be photographed and kept runs out, and
act on it when it runs out unrenewed (the child's photos go to the deletion queue, as on a withdrawal).

Reminders are claimed under a row lock (skip_locked, so two sweeps at once share the work) and
stamped, through `fig_safety.sweeps.claim_and_stamp`; renewals are made once each by a unique
constraint (one renewal request per consent), and so are the lapse steps (one LapseNotice row per
child, lapse and step: signed records are append-only, so there is nothing on them to stamp).
Nothing is sent twice.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.urls import reverse
from django.utils import timezone

from consents.errors import ConsentError
from consents.models import Child, ConsentRecord, ConsentRequest, LapseNotice
from consents.selectors import ChildConsent, State, consent_valid_for, consents_for_children, who_to_tell
from consents.services.requests import consent_request_email, consent_request_send
from consents.uses import TAG_PURPOSES, lacking
from fig_safety.sweeps import claim_and_stamp
from fig_safety.times import LONDON
from staff.notifications import Email, notify_all
from staff.services import audit_record

BATCH = 200
DAY = timedelta(days=1)
# The coordinators are told this many days before a child's consent to be photographed and kept runs out.
LAPSE_NOTICES = {LapseNotice.Step.NOTICE_30: 30, LapseNotice.Step.NOTICE_7: 7}


def lapse_lookback() -> timedelta:
    """How far back a sweep looks for consents that ran out unacted on: as far as a photo is kept at all
    (FIG_PHOTO_RETENTION_DAYS; older ones are deleted anyway), so that a sweep stopped for weeks, or lapses
    from before this step existed, still leave no photo of a child without consent in the vault."""
    return timedelta(days=settings.FIG_PHOTO_RETENTION_DAYS)


def expire_requests(now: datetime | None = None) -> int:
    now = now or timezone.now()
    return ConsentRequest.objects.filter(status=ConsentRequest.Status.PENDING, expires_at__lte=now).update(
        status=ConsentRequest.Status.EXPIRED
    )


def send_request_reminders(now: datetime | None = None) -> int:
    """Remind once about requests still pending after FIG_CONSENT_REMINDER_DAYS, oldest first."""
    now = now or timezone.now()
    due = (
        ConsentRequest.objects.select_related("child", "carer")
        .filter(
            status=ConsentRequest.Status.PENDING,
            reminder_sent_at__isnull=True,
            expires_at__gt=now,
            created_at__lte=now - timedelta(days=settings.FIG_CONSENT_REMINDER_DAYS),
        )
        .order_by("created_at")
    )

    def remind(claimed: list[ConsentRequest]) -> None:
        for consent_request in claimed:
            consent_request_email(consent_request=consent_request, reminder=True)

    return claim_and_stamp(due, stamp="reminder_sent_at", now=now, handle=remind, batch=BATCH)


def request_renewals(now: datetime | None = None) -> int:
    """Ask again FIG_CONSENT_RENEWAL_DAYS before a carer's latest consent expires; once per consent."""
    now = now or timezone.now()
    validity = consent_valid_for()
    window_end = now + timedelta(days=settings.FIG_CONSENT_RENEWAL_DAYS)
    newer = ConsentRecord.objects.filter(
        child=OuterRef("child"),
        carer=OuterRef("carer"),
        kind=ConsentRecord.Kind.GIVEN,
        signed_at__gt=OuterRef("signed_at"),
    )
    expiring = (
        ConsentRecord.objects.filter(
            kind=ConsentRecord.Kind.GIVEN,
            signed_at__gt=now - validity,
            signed_at__lte=window_end - validity,
            renewal_request__isnull=True,
            carer__has_parental_responsibility=True,
        )
        .exclude(carer__email="")
        .exclude(Exists(newer))
        .select_related("child__family", "carer")
    )
    created = 0
    for record in expiring:
        said_yes = {purpose for purpose, answer in record.answers.items() if answer}
        withdrawn: set[str] = set()
        for answers in ConsentRecord.objects.filter(
            child_id=record.child_id,
            carer_id=record.carer_id,
            kind=ConsentRecord.Kind.WITHDRAWAL,
            signed_at__gt=record.signed_at,
            signed_at__lte=now,
        ).values_list("answers", flat=True):
            withdrawn.update(answers)
        if said_yes <= withdrawn:
            continue  # nothing left to renew: all no, or every yes since withdrawn
        try:
            with transaction.atomic():
                consent_request_send(child=record.child, carer=record.carer, by=None, renews=record)
        except (IntegrityError, ConsentError):
            continue  # another sweep got there first, or the carer can no longer be asked
        created += 1
    return created


def photographed_or_kept_until(position: ChildConsent) -> datetime | None:
    """When this child's consent to be photographed and kept runs out (the first of the two to), or None if
    the child may not be photographed and kept now."""
    if lacking(position, TAG_PURPOSES):
        return None
    return min(position.expires_at[purpose] for purpose in TAG_PURPOSES)


def _children_with_a_yes_running_out(start: datetime, end: datetime) -> list[int]:
    """Children with a yes from a carer with parental responsibility that runs out in (start, end], give or
    take a day (months differ in length): a shortlist; the consent positions decide exactly."""
    validity = consent_valid_for()
    return list(
        ConsentRecord.objects.filter(
            kind=ConsentRecord.Kind.GIVEN,
            carer__has_parental_responsibility=True,
            signed_at__gt=start - validity - DAY,
            signed_at__lte=end - validity + DAY,
        )
        .order_by()
        .values_list("child_id", flat=True)
        .distinct()
    )


def _day(moment: datetime) -> str:
    """'Friday 4 December 2026', on London's clock."""
    local = timezone.localtime(moment, LONDON)
    return f"{local:%A} {local.day} {local:%B %Y}"


def _child_link(child: Child) -> str:
    return settings.FIG_SITE_URL + reverse("consents:child_history", args=[child.family.reference, child.pk])


def send_lapse_notices(now: datetime | None = None) -> int:
    """Tell a child's coordinators, once each, 30 days and 7 days before the child's consent to be
    photographed and kept runs out (only the 7-day notice if it is first seen within 7 days). A renewal
    moves the date on, so nothing is sent for the old one. Returns how many notices were sent."""
    now = now or timezone.now()
    horizon = now + timedelta(days=max(LAPSE_NOTICES.values()))
    candidates = _children_with_a_yes_running_out(now, horizon)
    positions = consents_for_children(candidates, at=now)
    due: list[tuple[int, datetime, str]] = []
    for child_id in candidates:
        lapses_at = photographed_or_kept_until(positions[child_id])
        if lapses_at is None or not now < lapses_at <= horizon:
            continue
        # The nearest notice now due: the 7-day one replaces a 30-day one not yet sent.
        step = min((days, step) for step, days in LAPSE_NOTICES.items() if lapses_at <= now + timedelta(days=days))[1]
        due.append((child_id, lapses_at, step))
    if not due:
        return 0
    done = set(
        LapseNotice.objects.filter(child_id__in=[child_id for child_id, _, _ in due]).values_list(
            "child_id", "lapses_at", "step"
        )
    )
    due = [notice for notice in due if notice not in done]
    children = Child.objects.select_related("family").in_bulk([child_id for child_id, _, _ in due])
    asked = set(
        ConsentRequest.objects.filter(
            child_id__in=children, status=ConsentRequest.Status.PENDING, expires_at__gt=now
        ).values_list("child_id", flat=True)
    )
    sent = 0
    for child_id, lapses_at, step in sorted(due, key=lambda notice: notice[1]):
        child = children[child_id]
        days = (timezone.localtime(lapses_at, LONDON).date() - timezone.localtime(now, LONDON).date()).days
        email = Email(
            to=who_to_tell(child.family).emails,
            subject=f"Photo consent runs out in {days} day{'s' if days != 1 else ''} in family {child.family.reference}",
            template="consents/email/lapse_notice.txt",
            context={
                "family": child.family,
                "lapses_on": _day(lapses_at),
                "days": days,
                "asked": child_id in asked,
                "grace_days": settings.FIG_WITHDRAWN_PHOTO_GRACE_DAYS,
                "link": _child_link(child),
            },
        )
        try:
            with transaction.atomic():
                LapseNotice.objects.create(child=child, lapses_at=lapses_at, step=step, done_at=now)
                notify_all([email])
        except IntegrityError:
            continue  # another sweep sent it
        sent += 1
    return sent


def act_on_lapses(now: datetime | None = None) -> int:
    """Children whose consent to be photographed and kept ran out unrenewed (since lapse_lookback()): their
    photos go to the deletion queue exactly as on a withdrawal (photos.services.photos_queue_for_deletion:
    the same grace period, a kept photo queued again since this newly takes consent away), and their
    coordinators are told. Once per lapse. A child renewed since, or with a refusal or withdrawal in force
    (the withdrawal queued the photos already), is left alone. Returns how many lapses were acted on."""
    now = now or timezone.now()
    validity = consent_valid_for()
    lookback = lapse_lookback()
    expiries: dict[int, set[datetime]] = {}
    for child_id, signed_at in (
        ConsentRecord.objects.filter(
            kind=ConsentRecord.Kind.GIVEN,
            carer__has_parental_responsibility=True,
            signed_at__gt=now - lookback - validity - DAY,
            signed_at__lte=now - validity + DAY,
        )
        .order_by()
        .values_list("child_id", "signed_at")
    ):
        expires_at = signed_at + validity
        if now - lookback < expires_at <= now:
            expiries.setdefault(child_id, set()).add(expires_at)
    if not expiries:
        return 0
    handled: dict[int, datetime] = {}
    for child_id, lapses_at in LapseNotice.objects.filter(
        child_id__in=expiries, step=LapseNotice.Step.LAPSED
    ).values_list("child_id", "lapses_at"):
        handled[child_id] = max(lapses_at, handled.get(child_id, lapses_at))
    positions = consents_for_children(expiries, at=now)
    acted = 0
    for child_id, moments in expiries.items():
        position = positions[child_id]
        if not lacking(position, TAG_PURPOSES):
            continue  # renewed
        if any(position.states[p] in {State.REFUSED, State.WITHDRAWN} for p in TAG_PURPOSES):
            continue  # a "no" in force: the withdrawal acted on it
        lapsed_at = _lapse_among(child_id, sorted(moments, reverse=True), after=handled.get(child_id))
        if lapsed_at is None:
            continue  # nothing current ran out: it had lapsed, or stopped counting, before
        if _act_on_lapse(child_id, lapsed_at, now):
            acted += 1
    return acted


def _lapse_among(child_id: int, moments: list[datetime], *, after: datetime | None) -> datetime | None:
    """The latest of `moments` (newest first) at which the child's consent to be photographed and kept ran
    out: it was current just before and ran out then. Only moments later than a lapse already acted on.
    Four queries a moment tried, for children whose consent is no longer current: few each run."""
    for moment in moments:
        if after is not None and moment <= after:
            return None
        before = consents_for_children([child_id], at=moment - timedelta(microseconds=1))[child_id]
        if photographed_or_kept_until(before) == moment:
            return moment
    return None


def _act_on_lapse(child_id: int, lapsed_at: datetime, now: datetime) -> bool:
    """Record the lapse (once: the unique constraint), queue the child's photos and tell the coordinators, in
    one transaction. False if another sweep got there first."""
    # Imported here: photos.services imports consents when it loads.
    from photos.services import photos_queue_for_deletion

    child = Child.objects.select_related("family").get(pk=child_id)
    local = timezone.localtime(lapsed_at, LONDON)
    lapsed_on = f"{local.day} {local:%B %Y}"  # '4 December 2026'
    try:
        with transaction.atomic():
            notice = LapseNotice.objects.create(
                child=child, lapses_at=lapsed_at, step=LapseNotice.Step.LAPSED, done_at=now
            )
            queued = photos_queue_for_deletion(
                child_id=child_id,
                reason=f"Consent to be photographed or kept lapsed on {lapsed_on} and was not renewed.",
                requeued_reason=f"Consent to be photographed or kept lapsed on {lapsed_on} and was not renewed, "
                "after this photo was kept. The reason recorded then answered an earlier withdrawal, not this.",
                newly_lost=lambda: True,  # it was current just before it ran out
                cause={"lapsed_at": lapsed_at.isoformat()},
                email_template=None,
                now=now,
            )
            audit_record(
                action="consent.lapsed",
                target=notice,
                details={"child": child_id, "lapsed_at": lapsed_at.isoformat(), "photos": len(queued.photos)},
            )
            notify_all(
                [
                    Email(
                        to=who_to_tell(child.family).emails,
                        subject=f"Photo consent has run out in family {child.family.reference}",
                        template="consents/email/lapsed.txt",
                        context={
                            "family": child.family,
                            "lapsed_on": _day(lapsed_at),
                            "count": len(queued.photos),
                            "kept": len(queued.requeued_after_keep),
                            "due": _day(queued.due),
                            "link": _child_link(child),
                            "queue_link": settings.FIG_SITE_URL + reverse("photos:deletion_queue"),
                        },
                    )
                ]
            )
    except IntegrityError:
        return False  # another sweep acted on it
    return True


def consent_sweep(now: datetime | None = None) -> dict[str, int]:
    return {
        "expired": expire_requests(now),
        "reminded": send_request_reminders(now),
        "renewals": request_renewals(now),  # before the notices, so they can say the parent was asked
        "lapse_notices": send_lapse_notices(now),
        "lapsed": act_on_lapses(now),
    }
