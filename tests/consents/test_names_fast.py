"""consents/names.py searches only for the names whose every word is among the text's words: the results are
those of searching for every name in the register (`searching_every_name`, the loop as it was before, with the
same other forms of first names), in both modes, over a register of awkward names and many generated texts.
bench/bench_names.py times the two."""

from __future__ import annotations

import _sre
import dataclasses
import random
import re
import sys
from unittest import mock

import pytest

from consents import names
from consents.models import Carer, Child
from consents.names import (
    RegisterMention,
    _carer_first_name,
    _compiled,
    _full_spellings,
    _surname,
    _word,
    find_register_names,
    register_mentions,
)
from tests.consents import factories as cf

SEED = 20240611
TEXTS = 1500


def searching_every_name(text: str, *, spellings: bool = False) -> list[RegisterMention]:
    """register_mentions as it was: every name in the register searched for, whatever the text's words."""
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
        first = _carer_first_name(full)
        surnames.setdefault(family_id, []).append(_surname(full))
        people.append((family_id, full, first, _surname(full) if first else "", "carer", None))
    written, (text, where) = text, names._unmarked(text)  # accents typed as separate marks are not searched

    def as_written(hit: re.Match[str]) -> tuple[str, tuple[int, int]]:
        start, end = names._as_written(written, where, hit.span())
        return written[start:end], (start, end)

    found: dict[tuple[int, str], RegisterMention] = {}
    for family_id, full, first, last, who, child_ids in people:
        child_ids = child_ids or tuple(sorted(children.get(family_id, ())))
        # With a surname, the first name's other forms (the same table) in its place make the full name too.
        variants = names._first_name_variants(first) if last.strip() else ()
        if spellings and first.strip() and last.strip():
            full_pattern = _full_spellings(first, last, variants)
        elif full.strip():
            words = full.split()
            at = words.index(first.strip()) if variants else 0
            forms = [full, *(" ".join([*words[:at], variant, *words[at + 1 :]]) for variant in variants)]
            full_pattern = "|".join(_word(form) for form in forms)
        else:
            full_pattern = ""
        if full_pattern and (hit := _compiled(full_pattern, re.IGNORECASE).search(text)):
            mention = RegisterMention(family_id, full, who, True, as_written(hit)[0], child_ids)
            found.setdefault((family_id, full), mention)
            continue
        if len(first) < 2:
            continue
        if spellings:
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
        elif hit := _compiled(_word(first, capital=True)).search(text):
            mention = RegisterMention(family_id, first, who, False, as_written(hit)[0], child_ids)
        else:
            continue
        key = (family_id, first)
        if key in found:
            same = found[key]
            found[key] = dataclasses.replace(same, child_ids=tuple(sorted({*same.child_ids, *child_ids})))
        else:
            found[key] = mention
    return sorted(found.values(), key=lambda m: (m.family_id, m.name))


# Each family: its children (first name, surname) and its carers' full names.
REGISTER = [
    ([("Sam", "O'Neil"), ("Sam", "O’Neil")], ["Grace O’Neil", "Mrs O'Neil"]),  # two children of one first name
    ([("Tyler", "Hughes")], ["Mrs Hughes", "Joanne Hughes", "Dr. Amara Bello"]),
    ([("Zoë", "Smith-Jones"), ("mary-jane", "d'arcy")], ["Mrs Smith", "mr o'brien"]),  # typed in lower case
    ([("J", "Lee"), ("Samuel", "Lee"), ("Ed", "")], ["Li", "Ms", "Mr Jo Lee"]),  # one letter, one word, a title
    ([("ZOË", "ÅSTRÖM"), ("Anne Marie", "Van der Berg")], ["İrem Yılmaz", "Lady Jane Grey"]),
    ([("Ελένη", "Ιωάννου"), ("Kim", "Park"), ("Jo", "Strauß")], ["Sam Samuel", "Siân Ní Bhriain"]),
    ([("Sam", "Hughes"), ("Ann-Marie", "Hughes"), ("Dara", "Ó Sé")], ["Hughes", "Rev Tom Smith-Jones"]),
    ([("Katie", "Lee"), ("Elizabeth", "O'Neil")], ["Mrs Catherine Park", "Bill Grey"]),  # names with other forms
]

FILLER = [
    "same", "Same", "Samuel", "sam", "SAM", "Sams", "Samphire", "samsung", "the", "mum", "well", "done", "to",
    "and", "Mrs", "Mr", "Dr.", "J.", "J", "T.", "James", "Year", "2", "zoe", "Zoe", "ZOE", "kim", "Hugh",
    "Hughesy", "Lee", "Jones", "Smith", "Van", "der", "O", "Neil", "d", "arcy", "Marie", "Anne", "Straße",
    "STRASSE", "ijo", "Jojo", "ελένη", "ΕΛΈΝΗ", "ιωαννου", "İREM", "irem", "yilmaz", "YILMAZ", "Sammy",
    "Samantha", "Thomas", "tommy", "Katy", "Kathy", "Catherine", "Liz", "LIZZIE", "William", "Will", "Joanna",
    "Joseph", "Kimberly", "Janie", "Polly",
]  # fmt: skip

SEPARATORS = [
    " ", " ", " ", "  ", "\n", ", ", ",", ". ", "-", " - ", "'s ", "’s ", "' ", "’ ", "'", "’", "_", "@", "#",
    "(", ") ", "!", "?", "", "",
]  # fmt: skip

LOOK_ALIKES = {"i": "ıİ", "I": "ıİ", "s": "ſ", "k": "K", "K": "K", "'": "’", "’": "'", "ß": "ẞ", "Ι": "ι\u0345"}


# Full names written with another form of the first name: Sam O'Neil, Samuel Lee, Katie Lee, Mrs Catherine Park...
OTHER_FORMS = [
    "Sammy O'Neil", "Samuel Hughes", "Sam Lee", "Lee, Sammy", "Katy Lee", "Catherine J. Lee", "Liz O’Neil",
    "Lizzie O'Neil's", "Mrs Kathy Park", "Kathy Park", "William Grey", "Rev Thomas Smith-Jones", "Tommy Smith-Jones",
    "Joanna Strauß", "Mr Jody Lee", "Jody Lee", "Zoe Smith-Jones", "Polly O'Neil", "Samantha Hughes",
]  # fmt: skip


def _pieces() -> list[str]:
    """How texts write the register's names: whole, in parts, surname first, with initials between, with other
    forms of the first name."""
    pieces = list(OTHER_FORMS)
    for children, carers in REGISTER:
        for first, last in children:
            pieces += [first, last, f"{first} {last}", f"{last}, {first}", f"{last} {first}"]
            pieces += [f"{first} {last[:1]}. {last}", f"{first} James {last}", f"{first} {last[:1]}."]
        for full in carers:
            words = full.split()
            pieces += [full, *words, " ".join(reversed(words)), f"{words[-1]}, {' '.join(words[:-1])}"]
    return pieces


def _written(rng: random.Random, piece: str) -> str:
    """The piece as someone might type it: its case changed, a letter swapped for one IGNORECASE takes for it."""
    piece = rng.choice(
        [
            piece,
            piece,
            piece.lower(),
            piece.upper(),
            piece.title(),
            piece.swapcase(),
            piece.casefold(),
            "".join(c.upper() if rng.random() < 0.5 else c.lower() for c in piece),
        ]
    )
    if rng.random() < 0.2:
        piece = "".join(rng.choice(LOOK_ALIKES[c]) if c in LOOK_ALIKES and rng.random() < 0.5 else c for c in piece)
    return piece


def _texts(count: int) -> list[str]:
    rng = random.Random(SEED)
    pieces = _pieces()
    texts = []
    for _ in range(count):
        words = [_written(rng, rng.choice(pieces if rng.random() < 0.6 else FILLER)) for _ in range(rng.randint(1, 7))]
        text = ""
        for word in words:
            text += word + rng.choice(SEPARATORS)
        texts.append(text.strip() if rng.random() < 0.5 else text)
    return texts


@pytest.fixture
def register(db):
    for children, carers in REGISTER:
        family = cf.FamilyFactory()
        for first, last in children:
            cf.ChildFactory(family=family, first_name=first, last_name=last)
        for full in carers:
            cf.CarerFactory(family=family, full_name=full)


@pytest.mark.parametrize("spellings", [False, True])
def test_it_finds_what_searching_for_every_name_finds(register, spellings):
    found_in = by_other_forms = 0
    for text in _texts(TEXTS):
        expected = searching_every_name(text, spellings=spellings)
        assert register_mentions(text, spellings=spellings) == expected, text
        found_in += bool(expected)
        # a full name found without one of its register words: written with another form of the first name
        by_other_forms += any(m.full and not names._name_words(m.name) <= names._text_words(m.words) for m in expected)
    assert found_in > TEXTS // 2  # the texts name people, in both modes, so the comparison says something
    assert by_other_forms > TEXTS // 30  # and full names written with other forms of the first name


def test_the_inbox_finds_what_searching_for_every_name_finds(register):
    for text in _texts(300):
        expected = [names.NameMatch(m.family_id, m.name, m.who) for m in searching_every_name(text)]
        assert find_register_names(text) == expected, text


def test_a_text_without_any_of_the_names_words_searches_for_none_but_those_always_searched_for(register):
    with mock.patch.object(names, "_compiled", wraps=names._compiled) as compiled:
        assert register_mentions("Same time next week? Thanks all, see you at the park", spellings=True) == []
        assert find_register_names("Same time next week? Thanks all, see you at the park") == []
    # a name with a Greek iota in it is always searched for (see the last test)
    assert [call.args[0] for call in compiled.call_args_list] == [
        _full_spellings("Ελένη", "Ιωάννου"),
        _word("Ελένη Ιωάννου"),
    ]


def test_only_the_names_whose_words_are_there_are_searched_for(register):
    with mock.patch.object(names, "_compiled", wraps=names._compiled) as compiled:
        assert [m.name for m in find_register_names("Well done Tyler")] == ["Tyler"]
    # Tyler on his own (not Tyler Hughes: the text has no Hughes), and the name with a Greek iota in it
    assert sorted(call.args[0] for call in compiled.call_args_list) == sorted(
        [_word("Tyler", capital=True), _word("Ελένη Ιωάννου")]
    )


def test_a_name_is_searched_for_when_the_words_of_another_of_its_forms_are_there(register):
    with mock.patch.object(names, "_compiled", wraps=names._compiled) as compiled:
        found = register_mentions("Well done Sammy Lee", spellings=True)
    assert [(m.name, m.full, m.words) for m in found] == [("Samuel Lee", True, "Sammy Lee")]
    # Samuel Lee in all its forms (Katie Lee and Jo Lee have none with Sammy), and the name with a Greek iota in it
    assert sorted(call.args[0] for call in compiled.call_args_list) == sorted(
        [_full_spellings("Samuel", "Lee", names._first_name_variants("Samuel")), _full_spellings("Ελένη", "Ιωάννου")]
    )


def test_the_nicknames_table_is_looked_up_once_a_first_name_not_once_a_text(register):
    names._first_name_variants.cache_clear()
    names._full_forms.cache_clear()
    with mock.patch.object(names, "_nicknames", wraps=names._nicknames) as table:
        for text in _texts(200):
            register_mentions(text, spellings=True)
            find_register_names(text)
    first_names = {first for children, _ in REGISTER for first, _ in children}
    first_names |= {_carer_first_name(full) for _, carers in REGISTER for full in carers}
    assert 0 < table.call_count <= len(first_names)


def test_a_name_character_matches_only_characters_that_fold_alike_and_are_word_characters_alike():
    """What the search rests on, against this Python's re and Unicode tables: a character of a name matches, in
    any case, only characters with the same _fold and the same word-ness, so every word of a found name is a
    whole word of the text, folded alike (casefold() and translate() fold a word a character at a time)."""
    everything = "".join(chr(i) for i in range(sys.maxunicode + 1) if not 0xD800 <= i <= 0xDFFF)
    cased = "".join(c for c in everything if c.lower() != c or c.upper() != c or c.casefold() != c)
    others = "".join(c for c in everything if not (c.lower() != c or c.upper() != c or c.casefold() != c))
    # re compiles a character it does not take as cased as itself, and takes none of `others` as cased ...
    assert not [c for c in others if _sre.unicode_iscased(ord(c))]
    # ... nor does any cased character match one of them.
    assert re.compile(f"[{re.escape(cased)}]", re.IGNORECASE).findall(others) == []
    # Whitespace between the words of a name is never a word character.
    assert re.findall(r"(?=\s)\w", everything) == []
    word = set(re.findall(r"\w", cased))
    unlike = {
        c
        for c in cased
        for x in re.findall(re.escape(c), cased, re.IGNORECASE)
        if names._fold(x) != names._fold(c) or (x in word) != (c in word)
    }
    assert unlike == names._UNFOLDABLE  # names with these are searched for every time, and with no others


def test_an_accented_letter_folds_to_the_letter_it_is_made_of_in_its_own_case():
    """What the search rests on for accents: a name's letter matches its accented forms (and they it), and
    they fold alike, so every word of a name found still is among the text's folded words."""
    assert set(names._ACCENTED) == set("abcdefghijklmnoprstuvwyzABCDEFGHIJKLMNOPRSTUVWYZ") | set("qxQX") & set(
        names._ACCENTED
    )
    for base, letters in names._ACCENTED.items():
        assert all(letter.isupper() == base.isupper() for letter in letters), base
        assert {names._fold(letter) for letter in letters} == {names._fold(base)}, base
    assert names._fold("ZOË") == names._fold("zoe") and names._fold("Łukasz") == "lukasz"
