"""What became of each answer on a consent record since it was signed: the certificate's "later" notes.

A certificate shows what a carer signed; these reads say what each answer means today, by the
rules in consents.selectors: the same carer's next record for the same child that answers the
purpose replaces it (a withdrawal, or a later form saying yes or no), a yes lapses after the
validity period (FIG_CONSENT_VALID_MONTHS), and a form version that requires re-consent ends a yes
given on an earlier version.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q
from django.utils import timezone

from consents.models import PURPOSES, ConsentFormVersion, ConsentRecord, Purpose
from consents.selectors import consent_valid_for
from fig_safety.times import when


class Later:
    """What happened to one answer, or where it stands."""

    WITHDRAWN = "withdrawn"  # the carer withdrew it
    CHANGED = "changed"  # a later form answers the other way
    RENEWED = "renewed"  # a later form says yes again
    REPEATED = "repeated"  # a later form says no again
    EXPIRED = "expired"  # the yes reached the end of its validity period
    OUTDATED = "outdated"  # a form version requiring re-consent was published
    IN_FORCE = "in_force"  # a yes nothing has ended (yet)
    STANDS = "stands"  # a no nothing has changed


# The short status beside each answer, and the consent-state style it borrows (static/css/fig.css).
STATUS = {
    Later.WITHDRAWN: ("Withdrawn", "withdrawn"),
    Later.CHANGED: ("Replaced", "outdated"),
    Later.RENEWED: ("Renewed", "given"),
    Later.REPEATED: ("Answered again", "refused"),
    Later.EXPIRED: ("Expired", "expired"),
    Later.OUTDATED: ("Needs new form", "outdated"),
    Later.IN_FORCE: ("In force", "given"),
    Later.STANDS: ("Still no", "refused"),
}

_HOW_WITHDRAWN = {
    ConsentRecord.IdentifiedBy.EMAIL_LINK: "through the link sent to their email",
    ConsentRecord.IdentifiedBy.CODE_SIGN_IN: "signed in with an emailed code",
    ConsentRecord.IdentifiedBy.STAFF: "recorded by staff",
}


def _yes_no(answer: bool) -> str:
    return "Yes" if answer else "No"


@dataclass(frozen=True)
class LaterEvent:
    kind: str
    at: datetime
    record_id: int | None = None  # the later record, for withdrawals and later forms
    answer: bool | None = None  # the later form's answer
    by: str = ""  # who withdrew and how
    version: int | None = None  # the form version that asked for re-consent

    @property
    def text(self) -> str:
        on = when(self.at, year=True)
        if self.kind == Later.WITHDRAWN:
            return f"Withdrawn on {on} {self.by} (record #{self.record_id})."
        if self.kind in {Later.CHANGED, Later.RENEWED, Later.REPEATED}:
            verb = {Later.CHANGED: "Replaced", Later.RENEWED: "Renewed", Later.REPEATED: "Answered again"}[self.kind]
            return f"{verb} on {on} by a later form (record #{self.record_id}), which says {_yes_no(self.answer)}."
        if self.kind == Later.EXPIRED:
            return f"Expired on {on}."
        if self.kind == Later.OUTDATED:
            return f"Stopped counting on {on}: version {self.version} of the form asks everyone to consent again."
        if self.kind == Later.IN_FORCE:
            return f"Still in force. Will expire on {on}."
        return "Still stands: no later form or withdrawal has changed it."


@dataclass(frozen=True)
class AnswerLater:
    """One answer on the record and what became of it, oldest event first."""

    purpose: str
    label: str
    answer: bool
    events: tuple[LaterEvent, ...]
    note: str = ""

    @property
    def status(self) -> str:
        return STATUS[self.events[-1].kind][0]

    @property
    def style(self) -> str:
        return STATUS[self.events[-1].kind][1]


@dataclass(frozen=True)
class CertificateLater:
    produced_at: datetime
    answers: tuple[AnswerLater, ...]

    @property
    def produced(self) -> str:
        return when(self.produced_at, year=True)


def certificate_later(record: ConsentRecord, *, now: datetime | None = None) -> CertificateLater:
    """Each answer on `record` and what happened to it up to `now` (default: now), in two queries.

    Queries: the same carer's later records for the same child; the first form version requiring
    re-consent that a yes on this record's version does not meet. `record` needs its form_version
    and carer loaded (consents.access.access_record does both).
    """
    now = now or timezone.now()
    later_records = list(
        ConsentRecord.objects.filter(child_id=record.child_id, carer_id=record.carer_id, signed_at__lte=now)
        .filter(Q(signed_at__gt=record.signed_at) | Q(signed_at=record.signed_at, pk__gt=record.pk))
        .select_related("recorded_by")
        .order_by("signed_at", "pk")
    )
    reconsent = (
        ConsentFormVersion.objects.filter(
            requires_reconsent=True,
            number__gt=record.form_version.number if record.form_version else 0,
            published_at__lte=now,
        )
        .order_by("published_at")
        .values_list("number", "published_at")
        .first()
    )
    expires_at = record.signed_at + consent_valid_for()

    answers: dict[str, AnswerLater] = {}
    for purpose in PURPOSES:
        if purpose not in (record.answers or {}):
            continue
        answer = bool(record.answers[purpose])
        replaced_by = next((r for r in later_records if purpose in (r.answers or {})), None)
        until = replaced_by.signed_at if replaced_by else now
        events: list[LaterEvent] = []
        if answer and record.kind == ConsentRecord.Kind.GIVEN:
            # The yes may have ended on its own before anything replaced it (or before now).
            if reconsent is not None and max(reconsent[1], record.signed_at) <= until:
                events.append(LaterEvent(Later.OUTDATED, max(reconsent[1], record.signed_at), version=reconsent[0]))
            if expires_at <= until:
                events.append(LaterEvent(Later.EXPIRED, expires_at))
            events.sort(key=lambda event: event.at)
        if replaced_by is not None:
            events.append(_replacement(record.carer.full_name, replaced_by, purpose, answer))
        elif not events:
            events.append(LaterEvent(Later.IN_FORCE, expires_at) if answer else LaterEvent(Later.STANDS, now))
        answers[purpose] = AnswerLater(purpose, Purpose(purpose).label, answer, tuple(events))

    face, online = answers.get(Purpose.FACE_ONLINE), answers.get(Purpose.ONLINE)
    if (
        face is not None
        and online is not None
        and face.answer
        and face.events[-1].kind == Later.IN_FORCE
        and online.events[-1].kind in {Later.WITHDRAWN, Later.CHANGED}
        and online.events[-1].answer is False
    ):
        # consents.selectors: a recognisable face online needs consent to publish online at all.
        answers[Purpose.FACE_ONLINE] = AnswerLater(
            face.purpose,
            face.label,
            face.answer,
            face.events,
            note="It has no effect while consent to publish photos online is not in force.",
        )
    return CertificateLater(produced_at=now, answers=tuple(answers.values()))


def _replacement(carer_name: str, later: ConsentRecord, purpose: str, answer: bool) -> LaterEvent:
    said = bool(later.answers[purpose])
    if later.kind == ConsentRecord.Kind.WITHDRAWAL:
        how = _HOW_WITHDRAWN.get(later.identified_by, later.get_identified_by_display().lower())
        if later.recorded_by is not None:
            how += f" ({later.recorded_by})"
        return LaterEvent(
            Later.WITHDRAWN, later.signed_at, record_id=later.pk, answer=False, by=f"by {carer_name}, {how}"
        )
    kind = (Later.RENEWED if said else Later.REPEATED) if said == answer else Later.CHANGED
    return LaterEvent(kind, later.signed_at, record_id=later.pk, answer=said)
