"""Finding a family by what people call it: its display name, its reference, a child's or a carer's name."""

from __future__ import annotations

from django.db.models import Exists, OuterRef, Q, QuerySet

from consents.models import Carer, Child, Family

# A longer search is a sentence, not a name: the words past this are ignored (each word is two subqueries).
MAX_WORDS = 6
# The pickers (upload, gallery, who may I photograph) list this many matches and ask for more of the name
# past it; the family list shows every match.
PICKER_LIMIT = 20


def families_matching(families: QuerySet[Family], text: str) -> QuerySet[Family]:
    """Those of `families` in which every word of `text` is found (any case, any part of a word): in the
    family's display name or reference, or in the name of one of its children or carers.

    Still one query: each word is an EXISTS on the children and on the carers, so a family is listed once
    however many of its people match. Only `families` are searched, so nobody finds a family through a
    name they could not see."""
    for word in text.split()[:MAX_WORDS]:
        child_named = Child.objects.filter(
            Q(first_name__icontains=word) | Q(last_name__icontains=word), family=OuterRef("pk")
        )
        carer_named = Carer.objects.filter(full_name__icontains=word, family=OuterRef("pk"))
        families = families.filter(
            Q(display_name__icontains=word)
            | Q(reference__icontains=word)
            | Exists(child_named.order_by())
            | Exists(carer_named.order_by())
        )
    return families


def matches_text(count: int, *, more: bool = False) -> str:
    """What the live region says after a search: "3 families match"."""
    if more:
        return f"More than {count} families match: type more of the name."
    if count == 0:
        return "No family matches."
    return "1 family matches." if count == 1 else f"{count} families match."
