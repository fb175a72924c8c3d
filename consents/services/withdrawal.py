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


def _answered_no(*, child: Child, carer: Carer) -> set[str]:
    """The purposes whose latest answer from this carer for this child is no (declined or withdrawn)."""
    latest: dict[str, bool] = {}
    for answers in (
        ConsentRecord.objects.filter(child=child, carer=carer)
        .order_by("signed_at", "pk")
        .values_list("answers", flat=True)
    ):
        latest.update({purpose: bool(answer) for purpose, answer in answers.items() if answer is not None})
    return {purpose for purpose, answer in latest.items() if not answer}


def consent_withdraw(
    *,
    child: Child,
    carer: Carer,
    purposes: Iterable[str],
    identified_by: str,
    evidence: Evidence,
    by: User | None = None,
    reason: str = "",
) -> ConsentRecord | None:
    """Withdraw consent for some or all purposes. Takes effect at once and runs the withdrawal handlers.

    Returns None, changing and sending nothing, when this carer has already said no to every purpose
    asked: a replayed or double-submitted withdrawal makes one record and one email, not one each.
    """
    purposes = [p for p in PURPOSES if p in set(purposes)]
    if not purposes:
        raise ConsentError("Choose what to withdraw.")
    if carer.family_id != child.family_id or not carer.has_parental_responsibility:
        raise ConsentError("Only a carer with parental responsibility can withdraw consent.")
    with transaction.atomic():
        # The carer's row lock makes two identical withdrawals take turns: the second sees the first.
        Carer.objects.select_for_update().filter(pk=carer.pk).first()
        said_no = _answered_no(child=child, carer=carer)
        purposes = [p for p in purposes if p not in said_no]
        if not purposes:
            return None
        answers = dict.fromkeys(purposes, False)
        # One timestamp for the row and its evidence hash, so the hash can be recomputed from the row.
        signed_at = timezone.now()
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
