"""What became of each answer on a consent record since it was signed: the certificate's "later" notes.

A certificate shows what a carer signed; these reads say what each answer means today, by the
rules in consents.selectors: the same carer's next record for the same child that answers the
purpose replaces it (a withdrawal, or a later form saying yes or no), a yes lapses after the
validity period (FIG_CONSENT_VALID_MONTHS), and a form version that requires re-consent ends a yes
given on an earlier version. Beside that, what stops the child's consent holding whatever this
carer said: another carer with parental responsibility whose own decision for the purpose is a no
(any refusal or withdrawal wins), or this carer no longer being recorded as having parental
responsibility (then nothing they signed counts).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

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
    UNCHANGED = "unchanged"  # a yes this carer has not ended, which something else stops counting
    OTHER_WITHDRAWN = "other_withdrawn"  # another carer with parental responsibility withdrew the purpose
    OTHER_REFUSED = "other_refused"  # another carer with parental responsibility said no to it
    NO_RESPONSIBILITY = "no_responsibility"  # this carer is no longer recorded as having parental responsibility


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
    Later.UNCHANGED: ("Not in force", "outdated"),
    Later.OTHER_WITHDRAWN: ("Withdrawn by another carer", "withdrawn"),
    Later.OTHER_REFUSED: ("Refused by another carer", "refused"),
    Later.NO_RESPONSIBILITY: ("No longer counts", "outdated"),
}

_HOW_WITHDRAWN = {
    ConsentRecord.IdentifiedBy.EMAIL_LINK: "through the link sent to their email",
    ConsentRecord.IdentifiedBy.CODE_SIGN_IN: "signed in with an emailed code",
    ConsentRecord.IdentifiedBy.STAFF: "recorded by staff",
}

# Where this carer's own answer still decides for them, something outside it can stop it counting.
_OWN_CURRENT = {Later.IN_FORCE, Later.STANDS}


def _yes_no(answer: bool) -> str:
    return "Yes" if answer else "No"


@dataclass(frozen=True)
class LaterEvent:
    kind: str
    at: datetime | None  # None where the app records no date (parental responsibility ending)
    record_id: int | None = None  # the later record, for withdrawals and later forms
    answer: bool | None = None  # the later form's answer
    by: str = ""  # who withdrew and how; for another carer's no, their name; else this carer's name
    version: int | None = None  # the form version that asked for re-consent
    purpose: str = ""  # for another carer's no to publishing online, shown beside a recognisable face online

    @property
    def text(self) -> str:
        on = when(self.at, year=True) if self.at is not None else ""
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
        if self.kind == Later.UNCHANGED:
            return f"{self.by} has not withdrawn or replaced it; it would expire on {on}."
        if self.kind in {Later.OTHER_WITHDRAWN, Later.OTHER_REFUSED}:
            verb = "withdrawn" if self.kind == Later.OTHER_WITHDRAWN else "refused"
            # Only publishing online stops another purpose (a recognisable face online), so only it is named.
            what = "consent to publish photos online was " if self.purpose == Purpose.ONLINE else ""
            return (
                f"Not in force for the child: {what}{verb} by another carer ({self.by}) on {on}"
                f" (record #{self.record_id})."
            )
        if self.kind == Later.NO_RESPONSIBILITY:
            return f"No longer counts: {self.by} is no longer recorded as having parental responsibility."
        return "Still stands: no later form or withdrawal has changed it."


@dataclass(frozen=True)
class AnswerLater:
    """One answer on the record and what became of it, oldest event first, then what stops it counting."""

    purpose: str
    label: str
    answer: bool
    events: tuple[LaterEvent, ...]
    note: str = ""
    status_kind: str = ""  # the event kind the status is read from, where not the last event's

    @property
    def status(self) -> str:
        return STATUS[self.status_kind or self.events[-1].kind][0]

    @property
    def style(self) -> str:
        return STATUS[self.status_kind or self.events[-1].kind][1]


@dataclass(frozen=True)
class CertificateLater:
    produced_at: datetime
    answers: tuple[AnswerLater, ...]

    @property
    def produced(self) -> str:
        return when(self.produced_at, year=True)


def certificate_later(record: ConsentRecord, *, now: datetime | None = None) -> CertificateLater:
    """Each answer on `record` and what happened to it up to `now` (default: now), in two queries.

    Queries: the child's other records up to `now` (every carer's, with the carer, for who replaced this
    record and for the other carers' decisions); the first form version requiring re-consent that a yes
    on this record's version does not meet. `record` needs its form_version and carer loaded
    (consents.access.access_record does both).
    """
    now = now or timezone.now()
    records = list(
        ConsentRecord.objects.filter(child_id=record.child_id, signed_at__lte=now)
        .exclude(pk=record.pk)
        .select_related("carer", "recorded_by")
        .order_by("signed_at", "pk")
    )
    later_records = [
        r for r in records if r.carer_id == record.carer_id and (r.signed_at, r.pk) > (record.signed_at, record.pk)
    ]
    others_noes = _other_carers_noes(record, records)
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
    responsible = record.carer.has_parental_responsibility

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

    # consents.selectors: a recognisable face online needs consent to publish online at all, so another
    # carer's no to publishing online stops it too (shown once where the same record said no to both).
    if Purpose.FACE_ONLINE in answers and others_noes.get(Purpose.ONLINE):
        own = {event.record_id for event in others_noes.get(Purpose.FACE_ONLINE, [])}
        others_noes[Purpose.FACE_ONLINE] = sorted(
            [
                *others_noes.get(Purpose.FACE_ONLINE, []),
                *(
                    LaterEvent(event.kind, event.at, record_id=event.record_id, by=event.by, purpose=Purpose.ONLINE)
                    for event in others_noes[Purpose.ONLINE]
                    if event.record_id not in own
                ),
            ],
            key=lambda event: (event.at, event.record_id),
        )
    for purpose, item in answers.items():
        answers[purpose] = _stopped(item, record.carer.full_name, others_noes.get(purpose, []), responsible)

    face, online = answers.get(Purpose.FACE_ONLINE), answers.get(Purpose.ONLINE)
    if (
        face is not None
        and online is not None
        and face.answer
        and face.status_kind == ""
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


def _other_carers_noes(record: ConsentRecord, records: list[ConsentRecord]) -> dict[str, list[LaterEvent]]:
    """For each purpose, the other carers with parental responsibility whose decision on it is a no.

    By consents.selectors' rules: each such carer's latest record answering the purpose is their
    decision, and any no among them (a refusal or a withdrawal) stops the child's consent, whether it
    came before or after this record. `records` are the child's records up to now, oldest first.
    """
    latest: dict[tuple[int, str], ConsentRecord] = {}
    for other in records:
        if other.carer_id == record.carer_id or not other.carer.has_parental_responsibility:
            continue
        for purpose in other.answers or {}:
            latest[(other.carer_id, purpose)] = other
    noes: dict[str, list[LaterEvent]] = {}
    for (_, purpose), other in sorted(latest.items(), key=lambda item: (item[1].signed_at, item[1].pk)):
        if not other.answers[purpose]:
            kind = Later.OTHER_WITHDRAWN if other.kind == ConsentRecord.Kind.WITHDRAWAL else Later.OTHER_REFUSED
            noes.setdefault(purpose, []).append(
                LaterEvent(kind, other.signed_at, record_id=other.pk, answer=False, by=other.carer.full_name)
            )
    return noes


def _stopped(item: AnswerLater, carer_name: str, noes: list[LaterEvent], responsible: bool) -> AnswerLater:
    """`item` with what stops it counting for the child added after its own story.

    The status changes only where this carer's answer still stands as their decision (a yes in force, a
    no unchanged): a yes stops being "In force" when another carer's no or the loss of parental
    responsibility stops it; a no stops counting only with the loss of parental responsibility.
    """
    if not noes and responsible:
        return item
    events = list(item.events)
    own = events[-1].kind
    if own == Later.IN_FORCE:
        # Still this carer's decision, but not in force for the child: say what it would be, without "in force".
        events[-1] = LaterEvent(Later.UNCHANGED, events[-1].at, by=carer_name)
    events.extend(noes)
    if not responsible:
        events.append(LaterEvent(Later.NO_RESPONSIBILITY, None, by=carer_name))
    status_kind = own
    if own in _OWN_CURRENT and not responsible:
        status_kind = Later.NO_RESPONSIBILITY
    elif own == Later.IN_FORCE and noes:
        # As consents.selectors combines them: a withdrawal wins over a refusal.
        kinds = {event.kind for event in noes}
        status_kind = Later.OTHER_WITHDRAWN if Later.OTHER_WITHDRAWN in kinds else Later.OTHER_REFUSED
    return AnswerLater(item.purpose, item.label, item.answer, tuple(events), item.note, status_kind)


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
