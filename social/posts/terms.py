"""The religious and political term lists behind the post checks: the one rule for what a term may look
like, and the changes themselves, each audited (who may read and change them: social/posts/access.py).

A term is switched off rather than deleted, so the audit trail keeps naming something that exists.
"""

from __future__ import annotations

import re

from django.db import IntegrityError, transaction
from django.http import HttpRequest

from social.models import PolicyTerm
from social.posts.checks.terms import active_rules, exception_would_hide
from staff.models import User
from staff.roles import is_social_admin
from staff.services import audit_record

MAX_WORDS = 6
# Letters or digits at both ends, with spaces, hyphens and apostrophes between: the checks match a
# term as whole words (social/posts/checks/terms.py), which means nothing for a term that ends in "!" or "+".
_TERM_SHAPE = re.compile(r"[^\W_](?:[\w'’ -]*[^\W_])?")


# What a change means for posts, as the page says it, for each kind of row: the end of a sentence.
KIND_EFFECTS = {
    PolicyTerm.Kind.TERM: ". Posts are checked for it from now on.",
    PolicyTerm.Kind.NEEDS_CONTEXT: " as a term that needs context. From now on it is found in posts near a context "
    "word or a term of the same list.",
    PolicyTerm.Kind.CONTEXT: " as a context word. From now on it makes terms that need context near it count.",
    PolicyTerm.Kind.EXCEPTION: " as an exception. From now on it hides the terms inside it, where a post has it.",
}
KIND_SWITCHED_ON = {  # without the full stop: the page may add "from now on"
    PolicyTerm.Kind.TERM: ": posts are checked for it",
    PolicyTerm.Kind.NEEDS_CONTEXT: ": posts are checked for it near a context word or a term",
    PolicyTerm.Kind.CONTEXT: ": it makes terms that need context near it count",
    PolicyTerm.Kind.EXCEPTION: ": it hides the terms inside it, where a post has it",
}
KIND_SWITCHED_OFF = {
    PolicyTerm.Kind.TERM: ": posts are no longer checked for it.",
    PolicyTerm.Kind.NEEDS_CONTEXT: ": posts are no longer checked for it.",
    PolicyTerm.Kind.CONTEXT: ": it no longer makes terms near it count.",
    PolicyTerm.Kind.EXCEPTION: ": the terms inside it are found again.",
}


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
    """(category, label, its rows of every kind A to Z), for each category. One query."""
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
    kind: str = PolicyTerm.Kind.TERM,
    request: HttpRequest | None = None,
) -> tuple[PolicyTerm, bool]:
    """Add a term, a term that needs context, a context word or an exception to a list, or switch it back
    on, as that kind, if it is there switched off. Returns (the row, switched back on).

    Terms match in any case, so "Pray" is the same term as "pray": one already checked, on either
    list and of any kind, is refused.
    """
    if not is_social_admin(by):
        raise TermError("Only a social media administrator can change the term lists.")
    if category not in PolicyTerm.Category.values:
        raise TermError("Choose the list: religious or political.")
    if kind not in PolicyTerm.Kind.values:
        raise TermError("Choose what it does: a term, a term that needs context, a context word or an exception.")
    term = clean_term(term)
    label = PolicyTerm.Category(category).label.lower()
    with transaction.atomic():
        same = list(PolicyTerm.objects.select_for_update().filter(term__iexact=term).order_by("id"))
        checked = next((t for t in same if t.is_active), None)
        if checked is not None:
            raise TermError(f"“{checked.term}” is already on the {checked.get_category_display().lower()} list.")
        if kind == PolicyTerm.Kind.EXCEPTION:
            _refuse_an_exception_that_hides_a_whole_term(category, term)
        switched_off = next((t for t in same if t.category == category), None)
        if switched_off is not None:
            # It comes back as what the administrator chose now, which may differ from what it was.
            return _switch(switched_off, on=True, by=by, request=request, kind=kind), True
        try:
            with transaction.atomic():  # a savepoint: a double submit that got past the check above lands here
                added = PolicyTerm.objects.create(category=category, term=term, kind=kind)
        except IntegrityError:
            raise TermError(f"“{term}” is already on the {label} list.") from None
        audit_record(
            action="policy_term.added",
            actor=by,
            target=added,
            request=request,
            details={"category": category, "term": term, "kind": kind},
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
        if on and locked.kind == PolicyTerm.Kind.EXCEPTION:
            _refuse_an_exception_that_hides_a_whole_term(locked.category, locked.term)
        try:
            with transaction.atomic():  # the database has the last word (one_checked_policy_term)
                return _switch(locked, on=on, by=by, request=request)
        except IntegrityError:
            raise taken from None


def _refuse_an_exception_that_hides_a_whole_term(category: str, exception: str) -> None:
    """TermError when every word of the exception is a switched-on term of its list, or a form of one: an
    exception "praying" would hide "pray", "Pray" and "praying" everywhere, switching the term off while the
    page still shows it on. An exception is a longer phrase around a term, such as "church hall"."""
    hidden = exception_would_hide(category, exception, [rule for rule in active_rules() if rule.category == category])
    if not hidden:
        return
    label = PolicyTerm.Category(category).label.lower()
    one = len(hidden) == 1
    named = _and([f"“{term}”" for term in hidden])
    raise TermError(
        f"“{exception}” would hide the {label} {'term' if one else 'terms'} {named} wherever {'it is' if one else 'they are'}, "
        f"as if {'it were' if one else 'they were'} switched off. An exception must have at least one word more "
        f"than the terms it hides, such as “church hall” around “church”. To stop checking for {named}, switch "
        f"{'it' if one else 'them'} off instead."
    )


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _switch(
    locked: PolicyTerm, *, on: bool, by: User, request: HttpRequest | None, kind: str | None = None
) -> PolicyTerm:
    """Precondition: the row is locked."""
    details = {"category": locked.category, "term": locked.term}
    if kind is not None and kind != locked.kind:
        details["kind_before"] = locked.kind
        locked.kind = kind
    details["kind"] = locked.kind
    locked.is_active = on
    locked.save(update_fields=["is_active", "kind"])
    audit_record(
        action="policy_term.switched_on" if on else "policy_term.switched_off",
        actor=by,
        target=locked,
        request=request,
        details=details,
    )
    return locked
