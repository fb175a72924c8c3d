"""Children identifiable (issue 14, points 3, 5 and 6): names from the consent register, and first names,
surnames, ages, year groups, schools and places that could identify a child whoever they are
(social/posts/checks/people.py, with the name lists of social/posts/checks/name_lists.py)."""

from __future__ import annotations

import json
import subprocess
import tracemalloc

import pytest

from social.posts.checks import check_text
from social.posts.checks import name_lists as name_lists_module
from social.posts.checks.people import MAX_ECHOED, identifying_finding, people_findings
from tests import factories
from tests.consents import factories as cf

pytestmark = pytest.mark.django_db


def _finding(text: str, check: str):
    found = [finding for finding in check_text(text) if finding.check == check]
    assert len(found) <= 1
    return found[0] if found else None


def _child(first: str, last: str, *, online: bool | None):
    """A child in the register; `online`: consent for every use (True), for every use but online (False), or none."""
    family, child, [carer] = cf.family_with_child()
    child.first_name, child.last_name = first, last
    child.save()
    if online is not None:
        cf.give(child, carer, answers=cf.all_answers(online=online, face_online=online))
    return child, carer


# --- "identifying": anyone's child ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "matches", "said"),
    [
        (
            "Our star of the week is Maisie from Year 3 at Oakfield Primary School!",
            ("Maisie", "Year 3", "Oakfield Primary School"),
            "‘Maisie’ with ‘Year 3’ and ‘Oakfield Primary School’",
        ),
        ("Well done to Tyler Hughes, aged 6", ("Tyler Hughes", "aged 6"), "‘Tyler Hughes’ is a first name and surname"),
        (
            "The Hussain family from Beeston joined us today",
            ("The Hussain family", "Beeston"),
            "‘The Hussain family’ with the place ‘Beeston’",
        ),
    ],
)
def test_it_finds_the_issues_three_examples_and_says_what_and_why(text, matches, said):
    finding = _finding(text, "identifying")
    assert finding is not None, text
    assert finding.title == "A child could be identified"
    assert finding.matches == matches
    assert all(match in text for match in finding.matches)  # the draft page highlights them
    assert said in finding.explanation
    assert "identifiable" in finding.explanation
    assert finding.dismissible


@pytest.mark.parametrize(
    "text",
    [
        "Welcome to the world, baby Isla Rose Bennett, born on Tuesday weighing 7lb 2oz",
        "Baby Yusuf Ahmed arrived safely on Sunday!",
        "Thank you to Ella-Mae Robinson, who gave her pocket money to our baby bank",
    ],
)
def test_it_finds_a_babys_or_childs_full_name(text):
    finding = _finding(text, "identifying")
    assert finding is not None and "is a first name and surname" in finding.explanation, text


@pytest.mark.parametrize(
    ("text", "name", "where"),
    [
        ("Freddie from Little Acorns Nursery made this card", "Freddie", "Little Acorns Nursery"),
        ("Congratulations to Freddie in Hedgehog Class!", "Freddie", "Hedgehog Class"),
        ("Sophie from Class 4B at St Anne's Catholic Primary drew our logo", "Sophie", "Class 4B"),
        ("Jayden in Mrs Patel's Reception class at Hillside Primary won", "Jayden", "Hillside Primary"),
        ("The Nowak twins, who started at Rainbow Day Nursery this week, are settling in", "Nowak", "Rainbow Day"),
    ],
)
def test_it_finds_a_child_named_with_a_nursery_school_or_class(text, name, where):
    finding = _finding(text, "identifying")
    assert finding is not None, text
    assert any(name in match for match in finding.matches)
    assert any(where in match for match in finding.matches)


@pytest.mark.parametrize(
    "text",
    [
        "Look at little Amelia, 4, enjoying the messy play!",
        "Noah (7) had a fab time at the zoo",
        "Summer, aged 6, won the colouring competition",  # a word that is a name, with an age beside it
        "Grace (Year 1) lost her lunchbox",
        "Ruby Thompson is 8 today!",
        "well done harry smith year 2 for reading 100 books!!",  # in lower case, with a year group
        "Big welcome to the newest member of the Zielinski family, baby Antoni!",
        "Huge thanks to the Fletcher family who live on Cross Flatts Grove",
        "The Smiths from Bulwell came to the picnic",
    ],
)
def test_it_finds_ages_year_groups_and_families_with_places(text):
    assert _finding(text, "identifying") is not None, text


@pytest.mark.parametrize(
    "text",
    [
        "Summer fair this Saturday! Hope to see you there.",
        "Hope to see you all at the summer fair",
        "The group meets in the church hall on Park Road every Tuesday.",
        "Join us in the Grace Room for tea and cake",
        "Will you come to our Christmas party? Mark your calendars!",
        "May Day picnic at Roundhay Park, bring a rug",
        "Rose Hill Primary School won the recycling award",
        "Year 3 at Oakfield Primary School enjoyed the trip",
        "Reading buddies for children in Year 3 and Year 4 start next week",
        "Baby massage is for babies aged 6 weeks to 6 months.",
        "Thanks to Sarah and Tom for running the Easter egg hunt",  # staff thanked by first name
        "A big welcome to Priya, our new family support worker!",
        "Thanks to Councillor Amina Shah for opening our new sensory room",
        "Our trustee Raj Patel has been named Volunteer of the Year",
        "Dr Sarah Jones from the health visiting team will join us on Tuesday",
        "Thanks to John Lewis for donating 30 baby sleeping bags",
        "Harry Potter day was a great success",
        "Grace Brown from our team collected the donation",
        "Well Done To Everyone At Our Summer Fair",
        "Holly and Ivy decorations for the Christmas Grotto",
        "Our Dads' Group meets at the Old Chapel community café.",
        "Come and see our new family room on Temple Street!",
        "Happy New Year from everyone at FiG! We're back on 5 January.",
        "Thanks to Morley Town Council for the grant",
    ],
)
def test_innocent_posts_with_words_that_are_names_get_no_people_finding(text):
    assert people_findings(text) == [], text


def test_the_full_name_of_a_member_of_staff_is_an_adults():
    factories.staff_user("staff", full_name="Megan Holloway")
    assert identifying_finding("Thanks to Megan Holloway for the Easter egg hunt") is None
    assert identifying_finding("Thanks to Megan Harrison for the Easter egg hunt") is not None


def test_it_asks_for_staff_names_only_when_a_full_name_is_found(django_assert_num_queries):
    with django_assert_num_queries(0):
        identifying_finding("Maisie from Year 3 painted this")
    with django_assert_num_queries(1):  # the staff's full names
        identifying_finding("Well done to Tyler Hughes")


# --- "names": the register, and consent for online use ----------------------------------------------------


def test_a_register_child_without_online_consent_cannot_be_dismissed():
    _child("Tyler", "Hughes", online=False)
    finding = _finding("Well done to Tyler Hughes for his painting", "names")
    assert finding is not None
    assert finding.matches == ("Tyler Hughes",)
    assert finding.dismissible is False
    assert "cannot be dismissed" in finding.explanation


def test_a_register_child_with_no_consent_at_all_cannot_be_dismissed():
    _child("Tyler", "Hughes", online=None)
    assert _finding("Well done to Tyler Hughes", "names").dismissible is False


def test_a_register_child_with_online_consent_is_still_a_dismissible_finding():
    _child("Tyler", "Hughes", online=True)
    finding = _finding("Well done to Tyler Hughes", "names")
    assert finding is not None and finding.dismissible is True
    assert "identifiable" in finding.explanation


def test_a_lower_case_full_name_from_the_register_is_found_as_written():
    _child("Tyler", "Hughes", online=False)
    finding = _finding("well done tyler hughes!", "names")
    assert finding.matches == ("tyler hughes",)
    assert finding.dismissible is False


def test_a_first_name_alone_stays_dismissible_but_not_with_a_year_group():
    _child("Maisie", "Okafor", online=False)
    alone = _finding("Maisie loved the painting", "names")
    assert alone.matches == ("Maisie",) and alone.dismissible is True
    narrowed = _finding("Our star of the week is Maisie from Year 3!", "names")
    assert narrowed.dismissible is False


def test_a_carers_full_name_names_the_family():
    child, carer = _child("Tyler", "Hughes", online=False)
    carer.full_name = "Joanne Hughes"
    carer.save()
    assert _finding("Thanks to Joanne Hughes for the cakes", "names").dismissible is False
    assert _finding("Thanks to Joanne for the cakes", "names").dismissible is True  # a first name alone


def test_more_than_a_few_register_names_are_not_echoed():
    names = [("Tyler", "Hughes"), ("Maisie", "Okafor"), ("Ella", "Robinson"), ("Noah", "Kowalski")]
    for first, last in names:
        _child(first, last, online=True)
    _child("Leo", "Brennan", online=False)
    text = "Well done " + ", ".join(f"{first} {last}" for first, last in [*names, ("Leo", "Brennan")])
    finding = _finding(text, "names")
    assert len(names) + 1 > MAX_ECHOED
    assert finding.matches == ()
    assert "names of several children" in finding.explanation
    for first, last in [*names, ("Leo", "Brennan")]:
        assert first not in finding.explanation and last not in finding.explanation
    assert finding.dismissible is False  # Leo's family has not agreed to online use


def test_a_few_register_names_are_echoed():
    for first, last in [("Tyler", "Hughes"), ("Maisie", "Okafor"), ("Ella", "Robinson")]:
        _child(first, last, online=True)
    finding = _finding("Tyler Hughes, Maisie Okafor and Ella Robinson", "names")
    assert finding.matches == ("Tyler Hughes", "Maisie Okafor", "Ella Robinson")
    assert finding.dismissible is True


def test_the_identifying_finding_does_not_depend_on_the_register():
    """What it says of a name must tell nothing about who FiG works with."""
    before = identifying_finding("Well done to Tyler Hughes, aged 6")
    _child("Tyler", "Hughes", online=False)
    assert identifying_finding("Well done to Tyler Hughes, aged 6") == before


# --- the names source: built once a machine, loaded once a process, small ---------------------------------


def test_the_name_lists_come_from_the_names_dataset_package_and_are_loaded_once_a_process():
    lists = name_lists_module.name_lists()
    assert lists.source.startswith("names-dataset ")
    assert name_lists_module.name_lists() is lists
    assert {"Maisie", "Tyler", "Oliver", "Aisha"} <= lists.home_first
    assert {"Muhammad", "Fatima"} <= lists.first  # common elsewhere, not ranked in the UK by the data
    assert {"Hughes", "Hussain", "Smith", "Oneill", "Mcdonald"} <= lists.home_last


def test_the_name_lists_stay_small_in_memory():
    """Measured: about 6 MB in the process (the package's own loader, NameDataset(), holds 1.9 GB)."""
    name_lists_module.name_lists()  # the file exists after this
    name_lists_module.name_lists.cache_clear()
    tracemalloc.start()
    try:
        lists = name_lists_module.name_lists()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(lists.first) < 40_000 and len(lists.last) < 60_000
    assert peak < 16 * 1024 * 1024


def test_a_missing_file_is_built_in_another_process_and_read(tmp_path, monkeypatch):
    path = tmp_path / "names" / "names-dataset-test.json"
    calls = []

    def fake_run(args, **kwargs):
        calls.append(args)
        path.write_text(
            json.dumps(
                {
                    "source": "names-dataset test",
                    "first": ["Maisie"],
                    "first_elsewhere": [],
                    "last": ["Hughes"],
                    "last_elsewhere": ["Okafor"],
                }
            )
        )
        return subprocess.CompletedProcess(args, 0)

    monkeypatch.setattr(name_lists_module, "lists_path", lambda: path)
    monkeypatch.setattr(name_lists_module.subprocess, "run", fake_run)
    name_lists_module.name_lists.cache_clear()
    try:
        lists = name_lists_module.name_lists()
        assert lists.home_first == {"Maisie"} and lists.last == {"Hughes", "Okafor"}
        assert calls == [[name_lists_module.sys.executable, str(name_lists_module.BUILDER), str(path)]]
        name_lists_module.name_lists()
        assert len(calls) == 1
    finally:
        name_lists_module.name_lists.cache_clear()


# --- the held-out set's lessons ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "Cllr Ann Baxter officially opened the new playground this morning",
        "Thanks to Councillor Ann Baxter for visiting",
        "Dr. Priya Shah gave a talk on sleep",
        "Mrs Jane Smith and Mr Tom Ellery judged the cakes",
        "Sgt Lee Hall and PC Amy Walsh came to the fun day",
        "Rev Sarah Brown, Prof Alan Moore and Dame Judi Dench sent their best",
    ],
)
def test_a_title_marks_an_adult_before_a_full_name(text):
    assert _finding(text, "identifying") is None


def test_a_title_does_not_hide_a_childs_name_later_on():
    finding = _finding("Cllr Ann Baxter gave Tyler Hughes, aged 6, his prize", "identifying")
    assert finding and "Tyler Hughes" in finding.matches and "Ann Baxter" not in " ".join(finding.matches)


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("little noah from busy bees nursery in horsforth loved the bubbles today", "noah"),
        ("well done ella in year 2", "ella"),
        ("huge well done to oliver at oakfield primary school", "oliver"),
    ],
)
def test_a_lower_case_first_name_with_a_school_nursery_or_year_group_is_found(text, name):
    finding = _finding(text, "identifying")
    assert finding and name in finding.matches


@pytest.mark.parametrize(
    "text",
    [
        "see you all at FiG's 10th birthday bash on Saturday!",
        "everyone from oakfield primary had a great time",
        "noah loved forest school today",
    ],
)
def test_lower_case_words_before_a_school_or_an_age_are_not_names(text):
    assert _finding(text, "identifying") is None


@pytest.mark.parametrize(
    "text",
    [
        "The Patels are hosting the playdate at their house, 27 Cherry Tree Drive, LS8 3JQ",
        "The Smith family are at 4 Elm Grove this afternoon",
    ],
)
def test_a_family_surname_with_their_address_later_in_the_sentence_is_found(text):
    finding = _finding(text, "identifying")
    assert finding and "with the address" in finding.explanation
