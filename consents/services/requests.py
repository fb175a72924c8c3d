"""Writes for consent requests: asking carers by emailed link, one child, every child or again after a
new form version, reminding them, and cancelling a request. Every request is sent by
`consent_requests_send`, so the rules on who may be asked, and the locks, are in one place."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
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


@dataclass(frozen=True)
class Recipient:
    """One email: the form for `child`, to `carer` at the address read with them (the one the sender saw)."""

    child: Child
    carer: Carer
    renews: ConsentRecord | None = None  # the consent this asks to renew (the renewal sweep)


@dataclass(frozen=True)
class Recipients:
    """Who asking about some children emails."""

    recipients: list[Recipient]  # one email each, by family, child and carer
    unreachable: list[Child] = field(default_factory=list)  # nobody in the family can be emailed
    skipped: int = 0  # re-consent: carers already sent this version's form, not sent it again

    @property
    def problems(self) -> list[str]:
        return [f"{child.family.reference}: {NOBODY_TO_ASK}" for child in self.unreachable]


@dataclass(frozen=True)
class SendResult:
    requests: list[ConsentRequest]  # sent now
    refused: list[tuple[str, str]]  # (family reference, why) for each recipient who may not be asked now

    @property
    def problems(self) -> list[str]:
        return [f"{reference}: {why}" for reference, why in self.refused]


def families_locked(families: QuerySet[Family] | Iterable[int]) -> dict[int, Family]:
    """Lock these families' rows (a queryset of them, or their ids) and return them by id. Call inside a
    transaction. In id order, so two sends over overlapping families take turns instead of deadlocking;
    family_close, family_reopen and erasure take the same lock, so a family does not close while it is
    being asked."""
    pks = families.values("pk") if isinstance(families, QuerySet) else list(families)
    return {f.pk: f for f in Family.objects.select_for_update().filter(pk__in=pks).order_by("pk")}


def carers_to_ask(family_ids: Iterable[int]) -> dict[int, list[Carer]]:
    """Each family's carers a request can go to (parental responsibility and an email address), by name,
    in one query."""
    carers = defaultdict(list)
    found = Carer.objects.filter(family_id__in=list(family_ids), has_parental_responsibility=True).exclude(email="")
    for carer in sorted(found.order_by(), key=lambda c: (c.full_name, c.pk)):
        carers[carer.family_id].append(carer)
    return carers


def recipients_for(children: Iterable[Child], *, waiting: AbstractSet[tuple[int, int]] = frozenset()) -> Recipients:
    """Who asking about `children` (their families selected with them) emails: every carer of theirs
    `carers_to_ask` names, except the (child, carer) pairs in `waiting`."""
    children = sorted(children, key=lambda c: (c.family.reference, c.first_name, c.last_name, c.pk))
    carers = carers_to_ask({child.family_id for child in children})
    recipients, unreachable, skipped = [], [], 0
    for child in children:
        if not carers.get(child.family_id):
            unreachable.append(child)
            continue
        for carer in carers[child.family_id]:
            if (child.pk, carer.pk) in waiting:
                skipped += 1
            else:
                recipients.append(Recipient(child=child, carer=carer))
    return Recipients(recipients=recipients, unreachable=unreachable, skipped=skipped)


def consent_requests_send(
    *, recipients: Iterable[Recipient], by: User | None, request: HttpRequest | None = None
) -> SendResult:
    """Send each recipient a single-use link to the current form for their child: every consent request is
    sent here. One who may not be asked now is left out, with the reason; the others still go.

    In one transaction, it locks the recipients' families' rows (`families_locked`) and reads each carer
    again under them: a family closed, a carer's parental responsibility removed or an address changed or
    removed since the caller read them is refused rather than emailed at the address it no longer has. A
    caller that reads its list under the same locks (in an outer transaction) sends exactly that list.
    """
    recipients = list(recipients)
    if not recipients:
        return SendResult(requests=[], refused=[])
    with transaction.atomic():
        families = families_locked({r.child.family_id for r in recipients})
        # Read, not locked: signing locks the open request and then its carer, and this cancels open requests,
        # so locking the carer here first could deadlock with a parent signing.
        carers = Carer.objects.order_by().in_bulk({r.carer.pk for r in recipients})
        version = form_version_current()
        sent, refused = [], []
        for recipient in recipients:
            family = families[recipient.child.family_id]
            carer = carers.get(recipient.carer.pk)
            why = _why_not(recipient, carer=carer, family=family)
            if why:
                refused.append((family.reference, why))
            else:
                sent.append(_send(recipient, carer=carer, family=family, version=version, by=by, request=request))
    return SendResult(requests=sent, refused=refused)


def _why_not(recipient: Recipient, *, carer: Carer | None, family: Family) -> str:
    """Why this carer, as they are now (`carer`, read under the family's lock), may not be asked; or ""."""
    listed = recipient.carer
    if carer is None or carer.family_id != recipient.child.family_id:
        return "That carer is not in the child's family."
    if family.closed_at is not None:
        return f"Family {family.reference} is closed: FiG no longer asks it for consent."
    if not carer.has_parental_responsibility:
        return f"{carer.full_name} does not hold parental responsibility, so cannot give consent."
    if not carer.email:
        return f"{carer.full_name} has no email address. Record a paper or phone consent instead."
    if carer.email != listed.email:
        return f"{carer.full_name}'s email address has just changed: check it and send again."
    return ""


def _send(
    recipient: Recipient,
    *,
    carer: Carer,
    family: Family,
    version: ConsentFormVersion,
    by: User | None,
    request: HttpRequest | None,
) -> ConsentRequest:
    """Make and email one request (call from consent_requests_send, under its locks)."""
    child = recipient.child
    # One open request per child and carer: an older one stops working.
    ConsentRequest.objects.filter(child=child, carer=carer, status=ConsentRequest.Status.PENDING).update(
        status=ConsentRequest.Status.CANCELLED
    )
    if carer.user_id is None:
        carer.user = parent_user_get_or_create(email=carer.email, full_name=carer.full_name)
        carer.save(update_fields=["user"])
    recipient.carer.user = carer.user  # the caller's copy of the carer shows their account too
    now = timezone.now()
    consent_request = ConsentRequest.objects.create(
        child=child,
        carer=carer,
        form_version=version,
        created_by=by,
        renews=recipient.renews,
        created_at=now,
        expires_at=now + timedelta(days=settings.FIG_CONSENT_LINK_DAYS),
    )
    audit_record(
        action="consent.requested",
        actor=by,
        target=consent_request,
        request=request,
        details={"family": family.reference, "child": child.pk, "carer": carer.pk},
    )
    consent_request_email(consent_request=consent_request, reminder=False)
    return consent_request


def consent_request_send(
    *,
    child: Child,
    carer: Carer,
    by: User | None,
    request: HttpRequest | None = None,
    renews: ConsentRecord | None = None,
) -> ConsentRequest:
    """Send one carer a single-use link to the current form for one child (by consent_requests_send);
    ConsentError saying why when they may not be asked now."""
    result = consent_requests_send(
        recipients=[Recipient(child=child, carer=carer, renews=renews)], by=by, request=request
    )
    if result.refused:
        raise ConsentError(result.refused[0][1])
    return result.requests[0]


def consent_request_send_to_family(
    *, child: Child, by: User | None, request: HttpRequest | None = None
) -> list[ConsentRequest]:
    """One request per carer with parental responsibility and an email address; all or none, with the
    reason when one of them may not be asked."""
    with transaction.atomic():
        carers = carers_to_ask([child.family_id]).get(child.family_id)
        if not carers:
            raise ConsentError(NOBODY_TO_ASK)
        result = consent_requests_send(
            recipients=[Recipient(child=child, carer=carer) for carer in carers], by=by, request=request
        )
        if result.refused:
            raise ConsentError(result.refused[0][1])
    return result.requests


def consent_request_bulk(*, families, by: User, request: HttpRequest | None = None) -> tuple[int, list[str]]:
    """Request consent for every child without a current consent, in the families FiG still works with.
    Returns (sent, problems). The families are locked while they are read and sent to, so a second run at
    the same time finds the first's requests open and sends nothing again."""
    families = families.filter(closed_at__isnull=True)
    with transaction.atomic():
        families_locked(families)
        asked = recipients_for(children_without_current_consent(families))
        result = consent_requests_send(recipients=asked.recipients, by=by, request=request)
    return len(result.requests), asked.problems + result.problems


@dataclass(frozen=True)
class ReconsentResult:
    sent: int  # requests emailed now
    skipped: int  # not sent again: the carer already has an open request for the child on this version
    problems: list[str]  # families that could not be asked, and why


def reconsent_recipients(*, families, version: ConsentFormVersion) -> Recipients:
    """Who re-consent after `version` emails (reconsent_due): for each child in the open `families` who gave
    consent on an older version and has no record on `version`, every carer who can be asked, except those
    already sent `version`'s form and not yet answered."""
    child_ids, waiting = reconsent_due(families, version)
    children = Child.objects.filter(pk__in=child_ids).select_related("family")
    return recipients_for(children, waiting=waiting)


def consent_request_reconsent(*, families, by: User, request: HttpRequest | None = None) -> ReconsentResult:
    """After a new form version: ask again for every child whose consent was given on an older version.

    A carer who already has an open request on the current version is not asked again, so a second
    click (or a double submit) sends nothing twice. The current version's row is locked for the run:
    two runs at once take turns, and the second sees the first's requests.
    """
    version = form_version_current()
    with transaction.atomic():
        ConsentFormVersion.objects.select_for_update().get(pk=version.pk)
        asked = reconsent_recipients(families=families, version=version)
        result = consent_requests_send(recipients=asked.recipients, by=by, request=request)
    return ReconsentResult(sent=len(result.requests), skipped=asked.skipped, problems=asked.problems + result.problems)


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
