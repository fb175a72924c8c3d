"""Writes that withdraw consent: by the carer (from a link or signed in) or recorded by a coordinator."""

from __future__ import annotations

from collections.abc import Iterable

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from consents.errors import ConsentError
from consents.hooks import run_withdrawal_handlers
from consents.models import PURPOSES, Carer, Child, ConsentRecord, Purpose
from consents.services.evidence import Evidence, evidence_hash
from staff.models import User
from staff.notifications import notify
from staff.services import audit_record


def consent_withdraw(
    *,
    child: Child,
    carer: Carer,
    purposes: Iterable[str],
    identified_by: str,
    evidence: Evidence,
    by: User | None = None,
    reason: str = "",
) -> ConsentRecord:
    """Withdraw consent for some or all purposes. Takes effect at once and runs the withdrawal handlers."""
    purposes = [p for p in PURPOSES if p in set(purposes)]
    if not purposes:
        raise ConsentError("Choose what to withdraw.")
    if carer.family_id != child.family_id or not carer.has_parental_responsibility:
        raise ConsentError("Only a carer with parental responsibility can withdraw consent.")
    answers = dict.fromkeys(purposes, False)
    # One timestamp for the row and its evidence hash, so the hash can be recomputed from the row.
    signed_at = timezone.now()
    with transaction.atomic():
        record = ConsentRecord.objects.create(
            child=child,
            carer=carer,
            kind=ConsentRecord.Kind.WITHDRAWAL,
            identified_by=identified_by,
            method=ConsentRecord.Method.PHONE
            if identified_by == ConsentRecord.IdentifiedBy.STAFF
            else ConsentRecord.Method.ONLINE,
            answers=answers,
            recorded_by=by,
            reason=reason.strip(),
            ip_address=evidence.ip_address,
            user_agent=evidence.user_agent,
            confirmed_parental_responsibility=True,
            signed_at=signed_at,
            evidence_sha256=evidence_hash(
                {
                    "child": child.pk,
                    "carer": carer.pk,
                    "answers": answers,
                    "identified_by": identified_by,
                    "ip": evidence.ip_address,
                    "user_agent": evidence.user_agent,
                    "at": signed_at.isoformat(),
                }
            ),
        )
        audit_record(
            action="consent.withdrawn",
            actor=by or carer.user,
            target=record,
            details={"purposes": purposes, "identified_by": identified_by},
        )
        run_withdrawal_handlers(record)
        notify(
            to=[carer.email] if carer.email else [],
            subject=f"You have withdrawn photo consent for {child.first_name}",
            template="consents/email/withdrawn.txt",
            context={
                "carer": carer,
                "child": child,
                "record": record,
                "purposes": [Purpose(p).label for p in purposes],
                "link": settings.FIG_SITE_URL + reverse("consents:my_children"),
            },
        )
    return record
