"""Periodic consent work: expire old links, remind once after a week, ask for renewal before expiry.

Reminders are claimed under a row lock (skip_locked, so two sweeps at once share the work) and
stamped, through `fig_safety.sweeps.claim_and_stamp`; renewals are made once each by a unique
constraint (one renewal request per consent). Nothing is sent twice.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from consents.errors import ConsentError
from consents.models import ConsentRecord, ConsentRequest
from consents.selectors import consent_valid_for
from consents.services.requests import consent_request_email, consent_request_send
from fig_safety.sweeps import claim_and_stamp

BATCH = 200


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


def consent_sweep(now: datetime | None = None) -> dict[str, int]:
    return {
        "expired": expire_requests(now),
        "reminded": send_request_reminders(now),
        "renewals": request_renewals(now),
    }
