"""The ordinary ways a post spells a child's name (social/posts/checks/people.py, consents/names.py), and the
text normalised before every check (social/posts/checks/__init__.py): a register child whose family refused
online use is blocked whichever way the name is written, and what the draft page highlights stays a piece
of the text as typed."""

from __future__ import annotations

import pytest

from consents.names import find_register_names
from social.posts.checks import check_text, normalise
from tests.consents import factories as cf

pytestmark = pytest.mark.django_db


def _finding(text: str, check: str):
    found = [finding for finding in check_text(text) if finding.check == check]
    assert len(found) <= 1
    return found[0] if found else None


def _child(first: str, last: str, *, online: bool, carer_name: str):
    family, child, [carer] = cf.family_with_child()
    child.first_name, child.last_name = first, last
    child.save()
    carer.full_name = carer_name
    carer.save()
    cf.give(child, carer, answers=cf.all_answers(online=online, face_online=online))
    return child, carer


@pytest.fixture
def tyler(db):
    """Tyler Hughes, whose family refused online use; his carer is Joanne Hughes."""
    return _child("Tyler", "Hughes", online=False, carer_name="Joanne Hughes")


BLOCKED = [
    "Tyler Hughes' mum was thrilled",  # a possessive ending in an apostrophe
    "Tyler Hughes’ mum was thrilled",
    "Star of the week is Hughes, Tyler",  # surname first
    "Well done Hughes Tyler for the painting",
    "Well done to Tyler J Hughes",  # a middle initial or name
    "Well done to Tyler J. Hughes",
    "Well done to Tyler James Hughes",
    "Well done to Tyler H. for his painting",  # the first name with the surname's initial
    "Well done to Tyler H for his painting",
    "Tyler, Mrs Hughes' son, won the race",  # the first name with a carer's surname
    "Tyler, Mrs. Hughes’ son, won the race",
    "Well done Tyler, Yr 2, for reading 100 books",  # year groups, however written
    "Tyler (Y 2) read 100 books",
    "Tyler, year-2, read 100 books",
    "Tyler (year two) read 100 books",
    "Tyler (Nursery) loved the sand pit",
    "Tyler from Reception loved the sand pit",
    "Tyler's art is up. Tyler in Year 2 was our star.",  # every place the name is written
    "Tyler's art is up. TYLER in Year 2 was our star.",
    "Tyler's painting won. Tyler, who is in Year 2, was thrilled",
    "Tyler loved the Year 2 trip to the farm",  # a narrowing word in the same sentence
    "Well done to tyler in year 2!",  # in lower case with a year group beside it
    "well done tyler, aged 6",
    "Well done to Ty\u200bler Hughes",  # a zero-width space inside the name
    "Well done to Ty\u00adler Hughes",  # a soft hyphen
    "Well done to T\u0443ler Hughes",  # Cyrillic у
    "Well done to \u03a4yler Hughes",  # Greek capital tau
    "Well done to Tyler Hugh\u0435s",  # Cyrillic е in the surname
    "Well done to \uff34\uff59\uff4c\uff45\uff52 Hughes",  # full-width letters (NFKC)
]


@pytest.mark.parametrize("text", BLOCKED)
def test_it_blocks_a_register_child_without_online_consent_however_the_name_is_written(tyler, text):
    finding = _finding(text, "names")
    assert finding is not None, text
    assert finding.dismissible is False, text
    assert "cannot be dismissed" in finding.explanation
    assert finding.matches and all(match in text for match in finding.matches), finding.matches


@pytest.mark.parametrize(
    ("first", "last", "text"),
    [
        ("Zoë", "Brown", "Well done to Zoe Brown"),
        ("Siobhán", "Kelly", "Well done to siobhan kelly"),
        ("Chloe", "Dubois", "Well done to Chloé Dubois"),
        ("Łukasz", "Nowak", "Star of the week is Nowak, Lukasz"),
    ],
)
def test_a_name_without_its_accents_or_with_others_is_still_blocked(first, last, text):
    """A child registered as "Zoë Brown" whose family refused online use: "Zoe Brown" in a post was once not
    even noticed."""
    _child(first, last, online=False, carer_name="Pat Brown")
    finding = _finding(text, "names")
    assert finding is not None and finding.dismissible is False, text


@pytest.mark.parametrize("typed", ["'", "’"])
@pytest.mark.parametrize("text", ["Well done to Aoife O'Brien", "Well done to aoife o’brien", "O'Brien, Aoife won"])
def test_a_surname_entered_with_either_apostrophe_is_blocked_written_with_either(typed, text):
    """A surname typed with a straight apostrophe in the register was once never matched in a post."""
    _child("Aoife", f"O{typed}Brien", online=False, carer_name="Niamh Byrne")
    finding = _finding(text, "names")
    assert finding is not None and finding.dismissible is False, text


@pytest.mark.parametrize(
    ("first", "text"),
    [
        ("Catherine", "Well done to Katie Smith"),
        ("Catherine", "Star of the week is Smith, Katie"),
        ("Catherine", "Well done to Kathy J. Smith"),
        ("Catherine", "Katie Smith's painting won"),
        ("Samuel", "Well done Sam Smith"),
        ("Samuel", "that's sammy smith at the front"),
        ("Sam", "Well done to Samuel Smith"),
        ("Thomas", "Tom Smith' mum was thrilled"),
        ("Elizabeth", "Well done to Liz Smith"),
        ("William", "Well done Bill James Smith"),
    ],
)
def test_a_full_name_with_another_form_of_the_first_name_is_blocked(first, text):
    """A child registered as Catherine Smith whose family refused online use: "Katie Smith" in a post was once
    not even noticed."""
    _child(first, "Smith", online=False, carer_name="Pat Jones")
    finding = _finding(text, "names")
    assert finding is not None and finding.dismissible is False, text
    assert finding.matches and all(match in text for match in finding.matches), finding.matches


def test_a_full_name_with_another_form_of_the_first_name_of_a_child_with_online_consent_is_dismissible():
    _child("Catherine", "Smith", online=True, carer_name="Pat Jones")
    finding = _finding("Well done to Katie Smith", "names")
    assert finding.matches == ("Katie Smith",) and finding.dismissible is True


def test_a_carers_full_name_with_another_form_of_the_first_name_names_the_family(tyler):
    assert _finding("Thanks to Jo Hughes for the cakes", "names").dismissible is False


@pytest.mark.parametrize(
    "text",
    [
        "Well done Sam!",  # another form of the first name alone: no register name, whatever is said with it
        "Sam's art is up on the wall",
        "Well done to Sam in Year 2",
        "Well done to Sam Patel",  # with another surname
        "Well done to Katie Smith",
        "Samantha Okafor won the race",  # a form of a form: Samuel and Samantha are both Sam, not each other
        "Ian Okafor won the race",  # a name of its own that the table pairs with another
    ],
)
def test_another_form_of_the_first_name_alone_or_with_another_surname_is_no_register_name(text):
    _child("Samuel", "Okafor", online=False, carer_name="Pat Jones")
    _child("John", "Okafor", online=False, carer_name="Pat Jones")
    assert _finding(text, "names") is None, text


@pytest.mark.parametrize(
    "text",
    [
        "Tyler loved the painting",  # a first name alone
        "Tyler's art is up on the wall",
        "Thanks to Joanne for the cakes",
        "Tyler and Joanne came to the picnic",  # first names alone, no surname, no narrowing
        "Tyler I think you'll love this",  # a capital after the name is not the surname's initial
    ],
)
def test_a_first_name_alone_stays_dismissible(tyler, text):
    finding = _finding(text, "names")
    assert finding is not None and finding.dismissible is True, text


@pytest.mark.parametrize("text", ["great work by tyler today", "we went to tyler's farm shop"])
def test_a_lower_case_first_name_alone_is_no_register_name(tyler, text):
    assert _finding(text, "names") is None


@pytest.mark.parametrize(
    "text", ["Well done to Tyler H. for his painting", "Tyler, Mrs Hughes' son, won", "Hughes, Tyler"]
)
def test_another_familys_surname_does_not_narrow_a_first_name(text):
    _child("Tyler", "Smith", online=False, carer_name="Amy Smith")
    finding = _finding(text, "names")
    assert finding is not None and finding.dismissible is True, text


def test_a_child_with_online_consent_named_in_these_ways_is_still_dismissible():
    _child("Tyler", "Hughes", online=True, carer_name="Joanne Hughes")
    for text in ["Tyler J. Hughes", "Tyler H. won", "Well done to tyler in year 2!", "Ty\u200bler Hughes"]:
        finding = _finding(text, "names")
        assert finding is not None and finding.dismissible is True, text


def test_a_carers_full_name_in_other_orders_names_the_family(tyler):
    assert _finding("Thanks to Hughes, Joanne for the cakes", "names").dismissible is False
    assert _finding("Thanks to Joanne M. Hughes for the cakes", "names").dismissible is False


def test_the_inbox_keeps_its_rule(tyler):
    """find_register_names (the inbox) is unchanged: a full name as written, a capitalised first name."""
    names = lambda text: [m.name for m in find_register_names(text)]  # noqa: E731
    assert names("Tyler J Hughes was there") == ["Tyler"]
    assert names("well done to tyler in year 2!") == []
    assert names("Tyler Hughes' mum was there") == ["Tyler"]
    assert names("Tyler Hughes was there") == ["Tyler Hughes"]


# --- the text normalised before every check ---------------------------------------------------------------


def test_normalise_maps_look_alikes_and_drops_format_characters_and_says_where_each_character_came_from():
    text = "Ty\u200bler \u041dughes\u2026 \ufb01ne"  # zero-width space, Cyrillic Н, an ellipsis, the fi ligature
    clean, spans = normalise(text)
    assert clean == "Tyler Hughes... fine"
    assert len(spans) == len(clean)
    assert text[spans[0][0] : spans[4][1]] == "Ty\u200bler"
    assert text[spans[12][0] : spans[14][1]] == "\u2026"  # the three dots come from one character


def test_matches_are_pieces_of_the_text_as_typed_when_normalising_changes_its_length(tyler):
    text = "What a \ufb01ne day\u2026 Well done to Ty\u200bler Hughes, aged 6, in Y\u200bear 2"
    names = _finding(text, "names")
    assert names.matches == ("Ty\u200bler Hughes",)
    identifying = _finding(text, "identifying")
    assert identifying is not None
    assert "Ty\u200bler Hughes" in identifying.matches
    assert all(match in text for match in identifying.matches), identifying.matches


def test_other_checks_see_the_normalised_text_and_highlight_the_original():
    text = "Our thoughts and pr\u0430yers are with everyone affected"  # Cyrillic а
    religious = _finding(text, "religious")
    assert religious is not None
    assert all(match in text for match in religious.matches), religious.matches


def test_plain_text_is_unchanged_by_normalising():
    text = "Thanks to everyone who came to the Christmas party at the church hall!"
    assert normalise(text)[0] == text
    assert check_text(text) == []


# --- "identifying": spellings the words alone give away ---------------------------------------------------


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("Well done Maisie Norland at Oakfield Primary!", "Maisie Norland"),  # a surname the data lacks
        ("Tyler Hughes' team won the cup", "Tyler Hughes"),  # a possessive, not a place
        ("A big welcome to the Mahmoods who have just moved to Gipton", "the Mahmoods"),
        ("Say hello to the Mahmoods, who moved to Gipton last month", "the Mahmoods"),
        ("Tyler, Yr 2, won the colouring competition", "Tyler"),
        ("Maisie (year two) won the colouring competition", "Maisie"),
    ],
)
def test_it_identifies_these_whoever_the_child_is(text, name):
    finding = _finding(text, "identifying")
    assert finding is not None, text
    assert any(name in match for match in finding.matches), finding.matches
    assert all(match in text for match in finding.matches)


@pytest.mark.parametrize(
    "text",
    [
        "Maisie Loves Oakfield Primary",  # a headline: the capital says nothing
        "This year one of our volunteers ran the marathon",
        "The Smiths have moved their shop to Gipton",
        "Our Nursery room is open on Tuesdays",
    ],
)
def test_these_stay_quiet(text):
    assert _finding(text, "identifying") is None, text


@pytest.mark.parametrize(
    "text",
    [
        "Call Jo on \uff10\uff17\uff17\uff10\uff10 \uff19\uff10\uff10\uff11\uff12\uff13 for a lift",  # full-width digits
        "Call Jo on 07700\u00a0900\u200b123 for a lift",  # a no-break space and a zero-width space
    ],
)
def test_normalising_keeps_a_phone_number_written_with_odd_characters_found_and_highlighted_as_typed(text):
    """phonenumbers reads these as they are; normalising must not lose them or their highlighting."""
    contact = _finding(text, "contact")
    assert contact is not None, text
    assert contact.matches and all(match in text for match in contact.matches), contact.matches


@pytest.mark.parametrize("text", ["Tyler, Mrs Nunez' son, won the race", "Tyler, Mrs Núñez’s son, won the race"])
def test_a_first_name_with_the_familys_surname_written_without_its_accents_is_blocked(text):
    """The family's surname in the same sentence narrows a first name to one child, however its accents are typed."""
    _child("Tyler", "Núñez", online=False, carer_name="Ana Núñez")
    finding = _finding(text, "names")
    assert finding is not None and finding.dismissible is False, text
