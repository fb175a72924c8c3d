"""Who may I photograph today: each child of a family with a plain yes or no, for the photographer at a
session. The rule is the tagging rule (photos.services.check_taggable): consent, now, to be photographed
and kept in the vault; the reason for a no is given in a word, never the family's detail."""

from __future__ import annotations

from dataclasses import dataclass

from django.http import Http404

from consents.models import Child, Family
from consents.selectors import ChildConsent, State, consents_for_children
from consents.uses import TAG_PURPOSES, lacking, purposes_to_publish
from photos.selectors import can_upload_for

# Why a child may not be photographed, as much as a photographer needs to know.
NO_ANSWER = "No answer yet"
REFUSED = "Refused"
WITHDRAWN = "Consent withdrawn"
RUN_OUT = "Consent has run out"

# Whether photos of a child who may be photographed may go online.
ONLINE = "Photos may go online."
ONLINE_UNRECOGNISABLE = "Photos may go online only if the face cannot be recognised."
NOT_ONLINE = "Photos must not go online."


@dataclass(frozen=True)
class PhotographAnswer:
    child: Child
    may: bool
    why_not: str = ""  # one of NO_ANSWER, REFUSED, WITHDRAWN, RUN_OUT when not `may`
    online: str = ""  # one of ONLINE, ONLINE_UNRECOGNISABLE, NOT_ONLINE when `may`


def access_family_to_photograph(user, reference: str) -> Family:
    """The family, if this person may photograph its children: any open family for a photographer, their own
    open families for a coordinator (photos.selectors.can_upload_for). 404 otherwise, a closed family too."""
    family = can_upload_for(user).filter(reference=reference).first()
    if family is None:
        raise Http404
    return family


def who_may_be_photographed(family: Family) -> list[PhotographAnswer]:
    """Every child of `family` by name, with the answer for now. Five queries: the children, and
    consents_for_children's four."""
    children = list(family.children.order_by("first_name", "last_name", "pk"))
    positions = consents_for_children([child.pk for child in children])
    return [_answer(child, positions[child.pk]) for child in children]


def _answer(child: Child, position: ChildConsent) -> PhotographAnswer:
    missing = lacking(position, TAG_PURPOSES)
    if missing:
        return PhotographAnswer(child, may=False, why_not=_why_not({position.states[p] for p in missing}))
    if not lacking(position, purposes_to_publish(unidentifiable=False)):
        online = ONLINE
    elif not lacking(position, purposes_to_publish(unidentifiable=True)):
        online = ONLINE_UNRECOGNISABLE
    else:
        online = NOT_ONLINE
    return PhotographAnswer(child, may=True, online=online)


def _why_not(states: set[str]) -> str:
    """The strongest reason among the states of what is missing: a carer's no before a lapse, a lapse
    before no answer at all."""
    if State.WITHDRAWN in states:
        return WITHDRAWN
    if State.REFUSED in states:
        return REFUSED
    if states & {State.EXPIRED, State.OUTDATED}:
        return RUN_OUT
    return NO_ANSWER
