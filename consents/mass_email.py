"""Consent requests a coordinator sends many at once: to every child without an answer in the register as
filtered, or to everyone who signed an older form version. Who they would go to is listed first; the send
goes ahead only if that list is still the one the coordinator confirmed."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest

from consents.models import Child, ConsentFormVersion, Family
from consents.selectors import children_without_current_consent
from consents.selectors_register import register_rows
from consents.services.form_versions import form_version_current
from consents.services.requests import (
    Recipients,
    ReconsentResult,
    consent_requests_send,
    families_locked,
    recipients_for,
    reconsent_recipients,
)
from staff.models import User


@dataclass(frozen=True)
class MassEmail(Recipients):
    """What a mass request would send now."""

    @classmethod
    def of(cls, asked: Recipients) -> MassEmail:
        return cls(recipients=asked.recipients, unreachable=asked.unreachable, skipped=asked.skipped)

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
    return MassEmail.of(recipients_for(children))


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
    The families are locked (families_locked) while the list is read again and sent, so two presses at once
    take turns and the second finds the first's requests open (its list has changed) and sends nothing.
    """
    with transaction.atomic():
        families_locked(families.filter(closed_at__isnull=True))
        listing = bulk_request_list(families=families, **filters)
        if listing.fingerprint != confirmed:
            return listing, None
        result = consent_requests_send(recipients=listing.recipients, by=by, request=request)
    return listing, Sent(sent=len(result.requests), problems=listing.problems + result.problems)


# --- re-consent after a new form version ----------------------------------------------------------


def reconsent_list(*, families: QuerySet[Family]) -> MassEmail:
    """Who re-consent emails (consents.services.requests.reconsent_recipients), read without sending."""
    return MassEmail.of(reconsent_recipients(families=families, version=form_version_current()))


def reconsent_send(
    *, families: QuerySet[Family], confirmed: str, by: User, request: HttpRequest | None = None
) -> tuple[MassEmail, ReconsentResult | None]:
    """Send the requests `reconsent_list` lists, if its fingerprint is still `confirmed`: (the list now, what
    was sent), or (the list now, None) when it changed. The current version's row is locked first, as
    consent_request_reconsent locks it, so two confirmations at once take turns and the second finds the
    first's requests waiting (its list has changed)."""
    with transaction.atomic():
        ConsentFormVersion.objects.select_for_update().get(pk=form_version_current().pk)
        listing = reconsent_list(families=families)
        if listing.fingerprint != confirmed:
            return listing, None
        result = consent_requests_send(recipients=listing.recipients, by=by, request=request)
    return listing, ReconsentResult(
        sent=len(result.requests), skipped=listing.skipped, problems=listing.problems + result.problems
    )
