"""Finding the names of children and carers from the consent register in a piece of text.

Used to flag incoming comments that identify a family, and to warn on drafted
posts. Whole words only ("Sam" is not in "same" or "Samuel"), though a possessive
counts ("Sam's mum"); a full name matches in any case, a first name on its own
only when written with a capital, as names are ("Sam", "SAM", not "sam").

The post checks (`register_mentions(text, spellings=True)`) also take the other ways a post writes a
full name: surname first ("Hughes, Tyler"), initials or middle names between ("Tyler J. Hughes",
"Tyler James Hughes") and a possessive ending in an apostrophe ("Tyler Hughes' mum"); and they get
every place a first name is written, in any case, with the family's surnames, for
social/posts/checks/people.py to decide whether what is said around it narrows it to one child. The
inbox (`find_register_names`) keeps the rule above.

In both, a full name also counts written with another everyday form of its first name, from the nicknames
package's table ("Sam Okafor", "Okafor, Sammy" for Samuel Okafor; "Samuel Okafor" for Sam Okafor): it identifies
the child as well. A first name on its own does not: not every "Sam" is a Samuel.

Each message and each live post check reads the whole register, so a name is searched for only when every word
of it, or of one of its other forms, is among the text's words, folded as IGNORECASE matches them: a name those
words cannot hold would not be found anyway (tests/consents/test_names_fast.py checks the results are the same).
"""

from __future__ import annotations

import dataclasses
import re
import unicodedata
from dataclasses import dataclass
from functools import cache, lru_cache

from nicknames import NickNamer

from consents.models import Carer, Child


@dataclass(frozen=True)
class NameMatch:
    family_id: int
    name: str
    who: str  # "child" or "carer"


# A carer entered as "Mrs Smith" has no first name to look for on its own: "Mrs" would match everywhere.
_TITLES = {"mr", "mrs", "ms", "miss", "mx", "dr", "rev", "revd", "prof", "sir", "dame", "lady", "lord"}


def _accented() -> dict[str, str]:
    """Each Latin letter, in either case, and the letters made of it with accents (e: éèêëēė...; L: ĹĻĽĿŁ),
    as precomposed characters: a name is found however its accents are typed, or left off."""
    plain = {"ł": "l", "Ł": "L", "ø": "o", "Ø": "O", "đ": "d", "Đ": "D", "ħ": "h", "Ħ": "H"}  # no decomposition
    table: dict[str, str] = {}
    for code in (*range(0xC0, 0x250), *range(0x1E00, 0x1F00)):
        letter = chr(code)
        base = plain.get(letter) or unicodedata.normalize("NFD", letter)[0]
        if base != letter and base.isascii() and base.isalpha():
            table[base] = table.get(base, "") + letter
    return table


_ACCENTED = _accented()
# An accented letter -> the letter it is made of ("é" -> "e", "Ł" -> "L").
_BASE = {letter: base for base, letters in _ACCENTED.items() for letter in letters}
# Accents typed as separate marks after their letter (e + U+0308 for ë): left out of the text searched.
_MARK = re.compile("[\u0300-\u036f]")


def name_pattern(text: str) -> str:
    """`text` as a pattern that also matches it with either apostrophe (O'Neil, O’Neil) and with its letters'
    accents typed otherwise or left off (Zoë, Zoe; Siobhán, Siobhan; Łukasz, Lukasz)."""
    pattern = []
    for character in text:
        base = _BASE.get(character, character)
        if base in _ACCENTED:
            pattern.append(f"[{base}{_ACCENTED[base]}]")
        elif character in "'’":
            pattern.append("['’]")
        else:
            pattern.append(re.escape(character))
    return "".join(pattern)


def _unmarked(text: str) -> tuple[str, list[int] | None]:
    """`text` without accents typed as separate marks, and where in `text` each character left was (None when
    there were none), for what is found to be given back as written."""
    if not _MARK.search(text):
        return text, None
    where = [index for index, character in enumerate(text) if not _MARK.match(character)]
    return "".join(text[index] for index in where), where


def _as_written(text: str, where: list[int] | None, span: tuple[int, int]) -> tuple[int, int]:
    """A (start, end) in `_unmarked(text)` as one in `text`, with the marks on its letters."""
    if where is None:
        return span
    start, end = span
    return where[start], where[end] if end < len(where) else len(text)


def _part(part: str, *, capital: bool) -> str:
    if capital:  # the first letter as a capital, the rest in any case
        return name_pattern(part[0].upper()) + "(?i:" + name_pattern(part[1:]) + ")"
    return name_pattern(part)


def _word(name: str, *, capital: bool = False, apostrophe: bool = False) -> str:
    """The name as whole words, optionally followed by a possessive 's (`apostrophe`: or a bare ', "Hughes' mum")."""
    parts = r"\s+".join(_part(part, capital=capital) for part in name.split())
    # A hyphen joining another word ("Sam-Louise") makes a different name; a dash after it ("Sam- well done") does not.
    return r"(?<![\w'’-])" + parts + (r"(?:['’]s?)?" if apostrophe else r"(?:['’]s)?") + r"(?![\w'’]|-\w)"


def name_said(name: str, text: str) -> bool:
    """`name` (a surname, say) written in `text` as names are, with a capital, a possessive included ("Mrs
    Hughes' son"), by the same rules as the register's names: either apostrophe, accents typed or left off."""
    return _compiled(_word(name, capital=True, apostrophe=True)).search(text) is not None


# Between a first name and a surname: up to two initials ("J", "J.") or capitalised middle names ("James").
_MIDDLE = r"(?:\s+(?-i:[A-Z]\.?(?![\w'’])|[A-Z][a-z'’]+(?:-[A-Z][a-z'’]+)?)){0,2}"


def _full_spellings(first: str, last: str, others: tuple[str, ...] = ()) -> str:
    """A full name as posts write it, in any case: "Tyler Hughes", "Tyler J. Hughes", "Tyler James Hughes",
    "Hughes, Tyler", "Hughes Tyler", each with a possessive ("Tyler Hughes' mum"); with `others` (the first
    name's other forms) in the first name's place too."""
    firsts = [r"\s+".join(name_pattern(part) for part in name.split()) for name in (first, *others)]
    first_words = firsts[0] if len(firsts) == 1 else "(?:" + "|".join(firsts) + ")"
    last_words = r"\s+".join(name_pattern(part) for part in last.split())
    either = rf"(?:{first_words}{_MIDDLE}\s+{last_words}|{last_words}(?:\s*,\s*|\s+){first_words})"
    return r"(?<![\w'’-])" + either + r"(?:['’]s?)?(?![\w'’]|-\w)"


@lru_cache(maxsize=8192)
def _compiled(pattern: str, flags: int = 0) -> re.Pattern[str]:
    """A name's pattern, compiled once: the register has more names than `re` keeps compiled (512), and the
    post checks look for every one of them on each live check."""
    return re.compile(pattern, flags)


_WORD_CHARS = re.compile(r"\w+")
# IGNORECASE takes "İ" and "ı" for "i", as casefold() does not ("ı" stays, "İ" becomes "i" and a combining dot).
_DOTTED_I = str.maketrans({"İ": "i", "ı": "i"})
# Characters IGNORECASE takes for one that is not a word character (the Greek iota, for the combining
# ypogegrammeni): a name with one in it is always searched for. tests/consents/test_names_fast.py checks the list.
_UNFOLDABLE = frozenset("\u0345\u0399\u03b9\u1fbe")


# What _fold makes of an accented letter, once casefold() has made it lower case: the letter it is made of.
_UNACCENTED = str.maketrans({letter: base for letter, base in _BASE.items() if base.islower()})


def _fold(word: str) -> str:
    # casefold() writes a few accented letters as their letter and a mark ("ẙ" -> "y" + ring): the mark goes too.
    return _MARK.sub("", word.translate(_DOTTED_I).casefold().translate(_UNACCENTED))


def _text_words(text: str) -> set[str]:
    return {_fold(word) for word in _WORD_CHARS.findall(text)}


@lru_cache(maxsize=65536)
def _name_words(name: str) -> frozenset[str]:
    """The folded words a text must have for the name's pattern to match in it: none when that cannot be told,
    so that the name is always searched for.

    Every character of the name matches only ones that fold alike and are word characters or not as it is,
    and a name is found only between non-word characters, so each word of the name is a whole word of the text."""
    if _UNFOLDABLE.intersection(name):
        return frozenset()
    return frozenset(_fold(word) for word in _WORD_CHARS.findall(name))


@lru_cache(maxsize=65536)
def _capital_words(name: str) -> frozenset[str]:
    """`_name_words` of the name as `_word(name, capital=True)` writes it: each part's first letter a capital."""
    return _name_words(" ".join(part[0].upper() + part[1:] for part in name.split()))


def _surname(full_name: str) -> str:
    """A carer's surname, the last word of the name ("Mrs Hughes" -> "Hughes"); none for a single word."""
    words = full_name.split()
    return words[-1] if len(words) >= 2 else ""


def _carer_first_name(full_name: str) -> str:
    words = full_name.split()
    if words and words[0].lower().rstrip(".") in _TITLES:
        words = words[1:] if len(words) > 2 else []
    return words[0] if words else ""


# The other forms of a first name come from the nicknames package's table (English given names and their
# nicknames, in the wheel), which pairs a name with a nickname one way ("samuel has_nickname sam"): a pair serves
# both names. It also pairs names that are names of their own, linked by history or by another language (Ian and
# John; Rita, Daisy and Peggy with Margaret; Lena and Kit with Catherine; Fred with Bill; Polly with Mary): with the
# same surname they would take one person for another, and block a post naming the other. So a pair counts only
# when one name could be made from the other, with the same first letter (Sam, Samuel; Jim, James; Meg, Margaret)
# or two letters in a row in common (Bill, William; Liz, Elizabeth; Bob, Robert). The pairs the table gives both
# ways are no better a guide: they leave out Samuel and Sam or Elizabeth and Liz, and keep Bill and Robert, Amos
# and Moses. The table is followed one step only: two would make Samuel and Samantha one, through Sam.
@cache
def _nicknames() -> NickNamer:
    return NickNamer()


def _made_from(name: str, other: str) -> bool:
    return name[0] == other[0] or any(name[i : i + 2] in other for i in range(len(name) - 1))


# The ending of a short form is spelt -y, -ie or -ey (Katy, Katie; Sammy, Sammie), and the table has some
# spellings and not others (Catherine has Katy, not Katie): each counts as the others.
_SHORT_ENDING = re.compile(r"(?<=[^aeiouy])(?:ie|ey|y)$")


def _endings(name: str) -> set[str]:
    stem = _SHORT_ENDING.sub("", name)
    return {name} if stem == name or len(stem) < 2 else {stem + "y", stem + "ie", stem + "ey"}


@lru_cache(maxsize=65536)
def _first_name_variants(first: str) -> tuple[str, ...]:
    """The other forms of a first name, folded (Samuel: sam, sammey, sammie, sammy); none for one the table cannot
    have, of more than one word or with a hyphen or an apostrophe."""
    name = _fold(first.strip())
    if not name.isalpha():
        return ()
    table = _nicknames()
    variants = set(_endings(name))
    for spelling in _endings(name):
        for other in table.nicknames_of(spelling) | table.canonicals_of(spelling):
            if other.isalpha() and _made_from(spelling, other):
                variants |= _endings(other)
    variants.discard(name)
    return tuple(sorted(variants))


@lru_cache(maxsize=65536)
def _full_forms(full: str, first: str, last: str) -> tuple[str, ...]:
    """`full`, the full name as searched for, then with each other form of its first name `first` in the first
    name's place; only `full` when there is no surname `last`, as a first name alone keeps to itself."""
    variants = _first_name_variants(first) if last.strip() else ()
    if not variants:
        return (full,)
    words = full.split()
    at = words.index(first.strip())
    return (full, *(" ".join([*words[:at], variant, *words[at + 1 :]]) for variant in variants))


def _other_form_in(full: str, first: str, last: str, words: set[str]) -> bool:
    """Whether `words`, the text's, have every word of one of the full name's other forms (`_full_forms`)."""
    return any(_name_words(form) <= words for form in _full_forms(full, first, last)[1:])


@dataclass(frozen=True)
class RegisterMention:
    """Where a register name is written in a text, for the post checks (social/posts/checks/people.py)."""

    family_id: int
    name: str  # as in the register: a full name, or the first name when only that was found
    who: str  # "child" or "carer"
    full: bool  # the full name was found, not a first name alone
    words: str  # as written in the text: "tyler hughes", "Sam's"
    child_ids: tuple[int, ...]  # the child; for a carer, every child of the family
    # With spellings=True, for a first name alone: every (start, end) where it is written, in any case;
    # whether one of those is written with a capital; and the surnames of the family (the child's, its carers').
    spans: tuple[tuple[int, int], ...] = ()
    capital: bool = True
    surnames: tuple[str, ...] = ()


def register_mentions(text: str, *, spellings: bool = False) -> list[RegisterMention]:
    """Every register name found in `text`, one a family and name, by the rule above. Two queries.

    `spellings`: the post checks' rule (see the module's docstring). A first name written only in lower case
    is then returned too, with capital=False: the caller decides whether what is said around it counts."""
    if not text or not text.strip():
        return []
    children: dict[int, list[int]] = {}
    surnames: dict[int, list[str]] = {}
    people = []
    for child_id, family_id, first, last in Child.objects.order_by().values_list(
        "pk", "family_id", "first_name", "last_name"
    ):
        children.setdefault(family_id, []).append(child_id)
        surnames.setdefault(family_id, []).append(last.strip())
        people.append((family_id, f"{first} {last}", first, last, "child", (child_id,)))
    for family_id, full in Carer.objects.order_by().values_list("family_id", "full_name"):
        first, surname = _carer_first_name(full), _surname(full)
        surnames.setdefault(family_id, []).append(surname)
        people.append((family_id, full, first, surname if first else "", "carer", None))
    written = text
    text, where = _unmarked(text)

    def as_written(hit: re.Match[str]) -> tuple[str, tuple[int, int]]:
        start, end = _as_written(written, where, hit.span())
        return written[start:end], (start, end)

    words = _text_words(text)
    found: dict[tuple[int, str], RegisterMention] = {}
    for family_id, full, first, last, who, child_ids in people:
        child_ids = child_ids or tuple(sorted(children.get(family_id, ())))
        whole = spellings and first.strip() and last.strip()
        searched = f"{first} {last}" if whole else full
        full_pattern = ""
        # Every form of the full name has the surname: the other forms are looked at only when it is there.
        if full.strip() and (
            _name_words(searched) <= words
            or _name_words(last) <= words
            and _other_form_in(searched, first, last, words)
        ):
            if whole:
                full_pattern = _full_spellings(first, last, _first_name_variants(first))
            else:
                full_pattern = "|".join(_word(form) for form in _full_forms(full, first, last))
        if full_pattern and (hit := _compiled(full_pattern, re.IGNORECASE).search(text)):
            mention = RegisterMention(family_id, full, who, True, as_written(hit)[0], child_ids)
            found.setdefault((family_id, full), mention)
            continue
        if len(first) < 2:
            continue
        if spellings:
            if not _name_words(first) <= words:
                continue
            hits = list(_compiled(_word(first, apostrophe=True), re.IGNORECASE).finditer(text))
            capital = [hit for hit in hits if hit[0][:1].isupper()]
            if not hits:
                continue
            mention = RegisterMention(
                family_id,
                first,
                who,
                False,
                as_written((capital or hits)[0])[0],
                child_ids,
                tuple(as_written(hit)[1] for hit in hits),
                bool(capital),
                tuple(dict.fromkeys(name for name in surnames.get(family_id, ()) if len(name) >= 2)),
            )
        elif _capital_words(first) <= words and (hit := _compiled(_word(first, capital=True)).search(text)):
            mention = RegisterMention(family_id, first, who, False, as_written(hit)[0], child_ids)
        else:
            continue
        key = (family_id, first)
        if key in found:  # a family with two people of one first name: either may be meant
            same = found[key]
            found[key] = dataclasses.replace(same, child_ids=tuple(sorted({*same.child_ids, *child_ids})))
        else:
            found[key] = mention
    return sorted(found.values(), key=lambda m: (m.family_id, m.name))


def find_register_names(text: str) -> list[NameMatch]:
    """Every register name found in `text`, one match per family and name. Two queries."""
    return [NameMatch(m.family_id, m.name, m.who) for m in register_mentions(text)]
