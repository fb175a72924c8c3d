"""Consent requests a coordinator sends many at once: to every child without an answer in the register as
filtered, or to everyone who signed an older form version. Who they would go to is listed first; the send
goes ahead only if that list is still the one the coordinator confirmed."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest

from consents.errors import ConsentError
from consents.models import Carer, Child, ConsentFormVersion, Family
from consents.selectors import children_without_current_consent, reconsent_due
from consents.selectors_register import register_rows
from consents.services.form_versions import form_version_current
from consents.services.requests import (
    NOBODY_TO_ASK,
    ReconsentResult,
    consent_request_reconsent,
    consent_request_send,
)
from staff.models import User


@dataclass(frozen=True)
class Recipient:
    """One email: the form for `child`, to `carer`."""

    child: Child
    carer: Carer


@dataclass(frozen=True)
class MassEmail:
    """What a mass request would send now."""

    recipients: list[Recipient]  # one email each, by family, child and carer
    unreachable: list[Child] = field(default_factory=list)  # nobody in the family can be emailed
    skipped: int = 0  # re-consent: carers already sent this version's form, not sent it again

    @property
    def emails(self) -> int:
        return len(self.recipients)

    @property
    def carers(self) -> int:
        return len({r.carer.pk for r in self.recipients})

    @property
    def children(self) -> int:
        return len({r.child.pk for r in self.recipients})

    @property
    def fingerprint(self) -> str:
        """Names this exact list (who, about whom, at which address): the confirmation carries it back, and a
        list that changed since (a child added, a request answered, an address corrected) does not match."""
        lines = sorted(f"{r.child.pk}:{r.carer.pk}:{r.carer.email.lower()}" for r in self.recipients)
        return hashlib.sha256("\n".join(lines).encode()).hexdigest()[:32]

    @property
    def problems(self) -> list[str]:
        return [f"{child.family.reference}: {NOBODY_TO_ASK}" for child in self.unreachable]


@dataclass(frozen=True)
class Sent:
    sent: int
    problems: list[str]  # what could not be sent, and why


# --- every child without an answer -----------------------------------------------------------------


def bulk_request_list(*, families: QuerySet[Family], family: str = "", purpose: str = "", state: str = "") -> MassEmail:
    """Who "request consent for every child without an answer" emails: each carer with parental
    responsibility and an email address, for each child in the open `families` with no decision and no
    open request (consent_request_bulk's children) that the register shows with this filter."""
    families = families.filter(closed_at__isnull=True)  # FiG no longer asks closed families
    shown = None
    if family or state:  # without either, the register shows every child of these families
        rows = register_rows(families, family=family, purpose=purpose, state=state).all_rows()
        shown = {row.child_id for row in rows}
        families = families.filter(pk__in=Child.objects.filter(pk__in=shown).values("family_id"))
    children = [c for c in children_without_current_consent(families) if shown is None or c.pk in shown]
    return _listing(children, _emailable_carers({child.family_id for child in children}))


def bulk_request_send(
    *,
    families: QuerySet[Family],
    confirmed: str,
    by: User,
    request: HttpRequest | None = None,
    **filters: str,
) -> tuple[MassEmail, Sent | None]:
    """Send the requests `bulk_request_list` lists, if its fingerprint is still `confirmed`.

    Returns (the list now, what was sent), or (the list now, None) when it changed and nothing was sent.
    The families are locked while the list is read again and sent, so two presses at once take turns and
    the second finds the first's requests open (its list has changed) and sends nothing.
    """
    with transaction.atomic():
        open_ids = families.filter(closed_at__isnull=True).values("pk")
        list(Family.objects.select_for_update().filter(pk__in=open_ids).order_by("pk").values_list("pk", flat=True))
        listing = bulk_request_list(families=families, **filters)
        if listing.fingerprint != confirmed:
            return listing, None
        sent, problems = 0, listing.problems
        for recipient in listing.recipients:
            try:
                consent_request_send(child=recipient.child, carer=recipient.carer, by=by, request=request)
            except ConsentError as exc:  # checked before it writes anything: the others still go
                problems.append(f"{recipient.child.family.reference}: {exc}")
            else:
                sent += 1
    return listing, Sent(sent=sent, problems=problems)


# --- re-consent after a new form version ----------------------------------------------------------


def reconsent_list(*, families: QuerySet[Family]) -> MassEmail:
    """Who re-consent emails: what consent_request_reconsent sends, read without sending. Children in the
    open `families` who gave consent on an older version and have no record on the current one; each
    carer with parental responsibility and an email, except those already sent the current version's form."""
    child_ids, waiting = reconsent_due(families, form_version_current())
    children = list(Child.objects.filter(pk__in=child_ids).select_related("family"))
    return _listing(children, _emailable_carers({child.family_id for child in children}), waiting=waiting)


def reconsent_send(
    *, families: QuerySet[Family], confirmed: str, by: User, request: HttpRequest | None = None
) -> tuple[MassEmail, ReconsentResult | None]:
    """Run consent_request_reconsent if `reconsent_list` is still the list confirmed (`confirmed` is its
    fingerprint): (the list now, what was sent), or (the list now, None) when it changed. The current
    version's row is locked first, as the service locks it, so the list read is the one it sends."""
    with transaction.atomic():
        ConsentFormVersion.objects.select_for_update().get(pk=form_version_current().pk)
        listing = reconsent_list(families=families)
        if listing.fingerprint != confirmed:
            return listing, None
        return listing, consent_request_reconsent(families=families, by=by, request=request)


# --- helpers ------------------------------------------------------------------------------------------


def _emailable_carers(family_ids: Iterable[int]) -> dict[int, list[Carer]]:
    """Each family's carers who can be asked (parental responsibility and an email address), in one query."""
    carers = defaultdict(list)
    for carer in Carer.objects.filter(family_id__in=family_ids, has_parental_responsibility=True).exclude(email=""):
        carers[carer.family_id].append(carer)
    return carers


def _listing(
    children: list[Child], carers: dict[int, list[Carer]], *, waiting: AbstractSet[tuple[int, int]] = frozenset()
) -> MassEmail:
    recipients, unreachable, skipped = [], [], 0
    for child in sorted(children, key=lambda c: (c.family.reference, c.first_name, c.last_name, c.pk)):
        if not carers.get(child.family_id):
            unreachable.append(child)
            continue
        for carer in sorted(carers[child.family_id], key=lambda c: (c.full_name, c.pk)):
            if (child.pk, carer.pk) in waiting:
                skipped += 1
            else:
                recipients.append(Recipient(child=child, carer=carer))
    return MassEmail(recipients=recipients, unreachable=unreachable, skipped=skipped)
