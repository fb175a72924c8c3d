"""Writes for consent requests: asking carers by emailed link, one child, every child or again after a
new form version, reminding them, and cancelling a request."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from consents.errors import ConsentError
from consents.links import request_link
from consents.models import Carer, Child, ConsentFormVersion, ConsentRecord, ConsentRequest, Family
from consents.selectors import children_without_current_consent, reconsent_due
from consents.services.form_versions import form_version_current
from staff.models import User
from staff.notifications import notify
from staff.services import audit_record, parent_user_get_or_create

NOBODY_TO_ASK = "Nobody in this family holds parental responsibility and has an email address."


def consent_request_send(
    *,
    child: Child,
    carer: Carer,
    by: User | None,
    request: HttpRequest | None = None,
    renews: ConsentRecord | None = None,
) -> ConsentRequest:
    """Send one carer a single-use link to the current form for one child."""
    if carer.family_id != child.family_id:
        raise ConsentError("That carer is not in the child's family.")
    if Family.objects.filter(pk=child.family_id, closed_at__isnull=False).exists():
        raise ConsentError(f"Family {child.family.reference} is closed: FiG no longer asks it for consent.")
    if not carer.has_parental_responsibility:
        raise ConsentError(f"{carer.full_name} does not hold parental responsibility, so cannot give consent.")
    if not carer.email:
        raise ConsentError(f"{carer.full_name} has no email address. Record a paper or phone consent instead.")
    version = form_version_current()
    with transaction.atomic():
        # One open request per child and carer: an older one stops working.
        ConsentRequest.objects.filter(child=child, carer=carer, status=ConsentRequest.Status.PENDING).update(
            status=ConsentRequest.Status.CANCELLED
        )
        if carer.user_id is None:
            carer.user = parent_user_get_or_create(email=carer.email, full_name=carer.full_name)
            carer.save(update_fields=["user"])
        now = timezone.now()
        consent_request = ConsentRequest.objects.create(
            child=child,
            carer=carer,
            form_version=version,
            created_by=by,
            renews=renews,
            created_at=now,
            expires_at=now + timedelta(days=settings.FIG_CONSENT_LINK_DAYS),
        )
        audit_record(
            action="consent.requested",
            actor=by,
            target=consent_request,
            request=request,
            details={"family": child.family.reference, "child": child.pk, "carer": carer.pk},
        )
        consent_request_email(consent_request=consent_request, reminder=False)
    return consent_request


def consent_request_send_to_family(
    *, child: Child, by: User | None, request: HttpRequest | None = None
) -> list[ConsentRequest]:
    """One request per carer with parental responsibility and an email address."""
    carers = child.family.carers.filter(has_parental_responsibility=True).exclude(email="")
    sent = [consent_request_send(child=child, carer=carer, by=by, request=request) for carer in carers]
    if not sent:
        raise ConsentError(NOBODY_TO_ASK)
    return sent


def consent_request_bulk(*, families, by: User, request: HttpRequest | None = None) -> tuple[int, list[str]]:
    """Request consent for every child without a current consent, in the families FiG still works with.
    Returns (sent, problems)."""
    families = families.filter(closed_at__isnull=True)
    return _send_to_children(children_without_current_consent(families), by=by, request=request)


def _send_to_children(children: Iterable[Child], *, by: User, request: HttpRequest | None) -> tuple[int, list[str]]:
    """Send each child's form to their family's carers; collect what could not be sent."""
    sent, problems = 0, []
    for child in children:
        try:
            sent += len(consent_request_send_to_family(child=child, by=by, request=request))
        except ConsentError as exc:
            problems.append(f"{child.family.reference}: {exc}")
    return sent, problems


@dataclass(frozen=True)
class ReconsentResult:
    sent: int  # requests emailed now
    skipped: int  # not sent again: the carer already has an open request for the child on this version
    problems: list[str]  # families that could not be asked, and why


def consent_request_reconsent(*, families, by: User, request: HttpRequest | None = None) -> ReconsentResult:
    """After a new form version: ask again for every child whose consent was given on an older version.

    A carer who already has an open request on the current version is not asked again, so a second
    click (or a double submit) sends nothing twice. The current version's row is locked for the run:
    two runs at once take turns, and the second sees the first's requests.
    """
    version = form_version_current()
    with transaction.atomic():
        ConsentFormVersion.objects.select_for_update().get(pk=version.pk)
        child_ids, waiting = reconsent_due(families, version)  # open families only
        children = Child.objects.filter(pk__in=child_ids).select_related("family").prefetch_related("family__carers")
        sent, skipped, problems = 0, 0, []
        for child in children:
            carers = [c for c in child.family.carers.all() if c.has_parental_responsibility and c.email]
            if not carers:
                problems.append(f"{child.family.reference}: {NOBODY_TO_ASK}")
                continue
            for carer in carers:
                if (child.pk, carer.pk) in waiting:
                    skipped += 1
                    continue
                try:
                    consent_request_send(child=child, carer=carer, by=by, request=request)
                except ConsentError as exc:
                    problems.append(f"{child.family.reference}: {exc}")
                else:
                    sent += 1
    return ReconsentResult(sent=sent, skipped=skipped, problems=problems)


def consent_request_cancel(*, consent_request: ConsentRequest, by: User, request: HttpRequest | None = None) -> None:
    with transaction.atomic():
        locked = ConsentRequest.objects.select_for_update().get(pk=consent_request.pk)
        if locked.status != ConsentRequest.Status.PENDING:
            raise ConsentError("Only a pending request can be cancelled.")
        locked.status = ConsentRequest.Status.CANCELLED
        locked.save(update_fields=["status"])
        audit_record(action="consent.request_cancelled", actor=by, target=locked, request=request)


def consent_request_email(*, consent_request: ConsentRequest, reminder: bool) -> None:
    """Email the carer the request's link (queued: notify() sends after the transaction commits).

    Sending a request emails it once; the reminder sweep calls this once more, with `reminder`,
    for the requests it has claimed and stamped."""
    child = consent_request.child
    notify(
        to=[consent_request.carer.email],
        subject=("Reminder: " if reminder else "") + f"FiG photo consent form for {child.first_name}",
        template="consents/email/request.txt",
        context={
            "carer": consent_request.carer,
            "child": child,
            "link": request_link(consent_request),
            "expires_at": consent_request.expires_at,
            "reminder": reminder,
        },
    )
