"""Finding the names of children and carers from the consent register in a piece of text.

Used to flag incoming comments that identify a family, and to warn on drafted
posts. Whole words only ("Sam" is not in "same" or "Samuel"), though a possessive
counts ("Sam's mum"); a full name matches in any case, a first name on its own
only when written with a capital, as names are ("Sam", "SAM", not "sam").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from consents.models import Carer, Child


@dataclass(frozen=True)
class NameMatch:
    family_id: int
    name: str
    who: str  # "child" or "carer"


# A carer entered as "Mrs Smith" has no first name to look for on its own: "Mrs" would match everywhere.
_TITLES = {"mr", "mrs", "ms", "miss", "mx", "dr", "rev", "revd", "prof", "sir", "dame", "lady", "lord"}


def _literal(text: str) -> str:
    return re.escape(text).replace("'", "['’]").replace("’", "['’]")  # either apostrophe: O'Neil or O’Neil


def _part(part: str, *, capital: bool) -> str:
    if capital:  # the first letter as a capital, the rest in any case
        return _literal(part[0].upper()) + "(?i:" + _literal(part[1:]) + ")"
    return _literal(part)


def _word(name: str, *, capital: bool = False) -> str:
    """The name as whole words, optionally followed by a possessive 's."""
    parts = r"\s+".join(_part(part, capital=capital) for part in name.split())
    # A hyphen joining another word ("Sam-Louise") makes a different name; a dash after it ("Sam- well done") does not.
    return r"(?<![\w'’-])" + parts + r"(?:['’]s)?(?![\w'’]|-\w)"


def _carer_first_name(full_name: str) -> str:
    words = full_name.split()
    if words and words[0].lower().rstrip(".") in _TITLES:
        words = words[1:] if len(words) > 2 else []
    return words[0] if words else ""


@dataclass(frozen=True)
class RegisterMention:
    """Where a register name is written in a text, for the post checks (social/posts/checks/people.py)."""

    family_id: int
    name: str  # as in the register: a full name, or the first name when only that was found
    who: str  # "child" or "carer"
    full: bool  # the full name was found, not a first name alone
    words: str  # as written in the text: "tyler hughes", "Sam's"
    child_ids: tuple[int, ...]  # the child; for a carer, every child of the family


def register_mentions(text: str) -> list[RegisterMention]:
    """Every register name found in `text`, one a family and name, by the rule above. Two queries."""
    if not text or not text.strip():
        return []
    children: dict[int, list[int]] = {}
    people = []
    for child_id, family_id, first, last in Child.objects.order_by().values_list(
        "pk", "family_id", "first_name", "last_name"
    ):
        children.setdefault(family_id, []).append(child_id)
        people.append((family_id, f"{first} {last}", first, "child", (child_id,)))
    for family_id, full in Carer.objects.order_by().values_list("family_id", "full_name"):
        people.append((family_id, full, _carer_first_name(full), "carer", None))
    found: dict[tuple[int, str], RegisterMention] = {}
    for family_id, full, first, who, child_ids in people:
        child_ids = child_ids or tuple(sorted(children.get(family_id, ())))
        if full.strip() and (hit := re.search(_word(full), text, re.IGNORECASE)):
            found.setdefault((family_id, full), RegisterMention(family_id, full, who, True, hit[0], child_ids))
        elif len(first) >= 2 and (hit := re.search(_word(first, capital=True), text)):
            key = (family_id, first)
            if key in found:  # a family with two people of one first name: either may be meant
                same = found[key]
                found[key] = RegisterMention(
                    family_id, first, same.who, False, same.words, tuple(sorted({*same.child_ids, *child_ids}))
                )
            else:
                found[key] = RegisterMention(family_id, first, who, False, hit[0], child_ids)
    return sorted(found.values(), key=lambda m: (m.family_id, m.name))


def find_register_names(text: str) -> list[NameMatch]:
    """Every register name found in `text`, one match per family and name. Two queries."""
    return [NameMatch(m.family_id, m.name, m.who) for m in register_mentions(text)]
