"""The religious and political term lists behind the post checks: the one rule for what a term may look
like, and the changes themselves, each audited (who may read and change them: social/posts/access.py).

A term is switched off rather than deleted, so the audit trail keeps naming something that exists.
"""

from __future__ import annotations

import re

from django.db import IntegrityError, transaction
from django.http import HttpRequest

from social.models import PolicyTerm
from staff.models import User
from staff.roles import is_social_admin
from staff.services import audit_record

MAX_WORDS = 6
# Letters or digits at both ends, with spaces, hyphens and apostrophes between: the checks match a
# term as whole words (checks.term_matches), which means nothing for a term that ends in "!" or "+".
_TERM_SHAPE = re.compile(r"[^\W_](?:[\w'’ -]*[^\W_])?")


class TermError(Exception):
    """The change cannot go ahead; the message is for the person making it."""


def clean_term(text: str) -> str:
    """The term as it will be stored (spaces tidied), or TermError saying what is wrong with it."""
    term = " ".join(text.split())
    if not term:
        raise TermError("Enter a word or a short phrase.")
    if len(term) < 2:
        raise TermError("Enter at least two letters: a single letter would be found in almost every post.")
    if len(term) > PolicyTerm._meta.get_field("term").max_length:
        raise TermError("Keep it under 100 characters.")
    if not _TERM_SHAPE.fullmatch(term):
        raise TermError("Use letters and numbers, with spaces, hyphens or apostrophes between words only.")
    if len(term.split()) > MAX_WORDS:
        raise TermError(f"Keep it to a word or a short phrase of up to {MAX_WORDS} words.")
    return term


def policy_terms_by_category() -> list[tuple[str, str, list[PolicyTerm]]]:
    """(category, label, its terms A to Z), for each category. One query."""
    grouped: dict[str, list[PolicyTerm]] = {value: [] for value in PolicyTerm.Category.values}
    for term in PolicyTerm.objects.order_by("category", "term", "id"):
        grouped[term.category].append(term)
    for terms in grouped.values():
        terms.sort(key=lambda t: t.term.casefold())
    return [(value, label, grouped[value]) for value, label in PolicyTerm.Category.choices]


def policy_term_add(
    *,
    category: str,
    term: str,
    by: User,
    request: HttpRequest | None = None,
) -> tuple[PolicyTerm, bool]:
    """Add a term to a list, or switch it back on if it is there switched off. Returns (term, switched back on).

    Terms match in any case, so "Pray" is the same term as "pray": one already checked, on either
    list, is refused.
    """
    if not is_social_admin(by):
        raise TermError("Only a social media administrator can change the term lists.")
    if category not in PolicyTerm.Category.values:
        raise TermError("Choose the list: religious or political.")
    term = clean_term(term)
    label = PolicyTerm.Category(category).label.lower()
    with transaction.atomic():
        same = list(PolicyTerm.objects.select_for_update().filter(term__iexact=term).order_by("id"))
        checked = next((t for t in same if t.is_active), None)
        if checked is not None:
            raise TermError(f"“{checked.term}” is already on the {checked.get_category_display().lower()} list.")
        switched_off = next((t for t in same if t.category == category), None)
        if switched_off is not None:
            return _switch(switched_off, on=True, by=by, request=request), True
        try:
            with transaction.atomic():  # a savepoint: a double submit that got past the check above lands here
                added = PolicyTerm.objects.create(category=category, term=term)
        except IntegrityError:
            raise TermError(f"“{term}” is already on the {label} list.") from None
        audit_record(
            action="policy_term.added",
            actor=by,
            target=added,
            request=request,
            details={"category": category, "term": term},
        )
    return added, False


def policy_term_switch(*, term: PolicyTerm, on: bool, by: User, request: HttpRequest | None = None) -> PolicyTerm:
    """Switch a term off (posts are no longer checked for it) or back on. Doing it twice changes nothing more."""
    if not is_social_admin(by):
        raise TermError("Only a social media administrator can change the term lists.")
    with transaction.atomic():
        locked = PolicyTerm.objects.select_for_update().get(pk=term.pk)
        if locked.is_active == on:
            return locked
        taken = TermError(f"“{locked.term}” is already checked on another list.")
        if on and PolicyTerm.objects.filter(term__iexact=locked.term, is_active=True).exists():
            raise taken
        try:
            with transaction.atomic():  # the database has the last word (one_checked_policy_term)
                return _switch(locked, on=on, by=by, request=request)
        except IntegrityError:
            raise taken from None


def _switch(locked: PolicyTerm, *, on: bool, by: User, request: HttpRequest | None) -> PolicyTerm:
    """Precondition: the row is locked."""
    locked.is_active = on
    locked.save(update_fields=["is_active"])
    audit_record(
        action="policy_term.switched_on" if on else "policy_term.switched_off",
        actor=by,
        target=locked,
        request=request,
        details={"category": locked.category, "term": locked.term},
    )
    return locked
