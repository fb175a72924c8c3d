"""The post policy checks: each with text that must match and text that must not."""

from __future__ import annotations

import pytest

from consents.models import Purpose
from social.models import PolicyTerm
from social.posts.checks import check_photos, check_text, contact_details, uk_phone_numbers
from tests.consents import factories as cf


def _checks(text: str) -> dict[str, tuple[str, ...]]:
    return {finding.check: finding.matches for finding in check_text(text)}


@pytest.mark.parametrize(
    "text",
    [
        "Call 01632 960001",
        "ring 01632 960 001 today",
        "020 7946 0000",
        "020-7946-0000",
        "07700 900123",
        "07700900123",
        "+44 7700 900123",
        "+447700900123",
        "0044 7700 900 123",
        "+44 (0)20 7946 0000",
        "(01632) 960001",
    ],
)
def test_it_finds_uk_phone_numbers(text):
    assert uk_phone_numbers(text), text


@pytest.mark.parametrize(
    "text",
    [
        "In 2024 we helped 1200 families",
        "Year 2025-2026",
        "ref 12345678901",
        "0 1 2 3",
        "Open 9-5, 7 days",
        "call 1234 567 8901",
        "+1 415 555 0100",
    ],
)
def test_it_does_not_mistake_other_numbers_for_phone_numbers(text):
    assert not uk_phone_numbers(text), text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("write to jo.bloggs@example.org", "jo.bloggs@example.org"),
        ("we met at SW1A 1AA", "SW1A 1AA"),
        ("postcode m1 1ae", "m1 1ae"),
        ("she lives at 12 Acacia Avenue", "12 Acacia Avenue"),
        ("4 Mill Lane, Leeds", "4 Mill Lane"),
        ("see facebook.com/jo.bloggs", "facebook.com/jo.bloggs"),
        ("https://www.instagram.com/someone_123", "https://www.instagram.com/someone_123"),
        ("follow @jobloggs", "@jobloggs"),
    ],
)
def test_it_finds_contact_details(text, expected):
    assert expected in contact_details(text)


@pytest.mark.parametrize(
    "text",
    [
        "A lovely day at the park",
        "We raised £1,200",
        "AB1 2CD is not a real postcode",
        "email us at the centre",
        "12 families came",
    ],
)
def test_it_leaves_ordinary_text_alone(text):
    assert not contact_details(text), text


def test_it_does_not_flag_figs_own_public_contacts(settings):
    settings.FIG_PUBLIC_CONTACTS = ["hello@fig.org.uk", "@FiGCharity"]
    assert contact_details("Email hello@fig.org.uk or follow @FiGCharity") == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("text", "category", "term"),
    [
        ("We will pray for you", "religious", "pray"),
        ("Happy Diwali!", "religious", "Diwali"),
        ("Vote for change at the general election", "political", "Vote for"),  # "vote for" needs context
        ("The Prime Minister visited", "political", "Prime Minister"),
    ],
)
def test_it_finds_religious_and_political_terms_as_whole_words(text, category, term):
    assert term in _checks(text)[category]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("text", "term"),
    [
        ("Spray painting at group", "pray"),
        ("Spraying a prayerful mantis", "pray"),
        ("Amendments to the rota", "Amen"),  # "MP" needs context now, so it cannot show this alone
        ("Our campaign for more volunteers", "campaign against"),
        ("Electioneering aside", "election"),
        ("Labourers mended the fence", "Labour"),
        ("Godfrey brought the cake", "God"),
    ],
)
def test_it_does_not_match_terms_inside_other_words(text, term):
    # The term is on a default list and is found on its own, so not finding it below means something.
    category = PolicyTerm.objects.get(term=term, is_active=True).category
    assert _checks(f"About {term} today")[category] == (term,)
    found = _checks(text)
    assert "religious" not in found and "political" not in found, found


@pytest.mark.django_db
def test_administrators_edit_the_term_lists():
    PolicyTerm.objects.filter(term="pray").update(is_active=False)
    assert "religious" not in _checks("We will pray for you")
    PolicyTerm.objects.create(category=PolicyTerm.Category.POLITICAL, term="council tax")
    assert _checks("Council Tax is going up")["political"] == ("Council Tax",)  # as the post has it


@pytest.mark.django_db
def test_it_finds_names_from_the_consent_register_but_not_inside_words():
    family, child, [carer] = cf.family_with_child()
    child.first_name, child.last_name = "Sam", "Okafor"
    child.save()
    assert "names" not in _checks("See you the same day, samphire for tea")
    assert _checks("Sam loved the painting")["names"] == ("Sam",)
    assert _checks("well done sam okafor")["names"] == ("sam okafor",)  # as the post has it
    assert _checks(f"thanks to {carer.full_name}")["names"]


@pytest.mark.django_db
def test_a_clean_post_has_no_findings():
    assert check_text("What a wonderful summer picnic! Thank you to all our volunteers.") == []


@pytest.mark.django_db
def test_the_consent_gate_blocks_a_group_photo_when_one_child_lacks_online_consent(coordinator):
    from tests.photos.fixtures import ready_photo

    family, ava, [carer] = cf.family_with_child(coordinator=coordinator)
    ben = cf.ChildFactory(family=family)
    cf.give(ava, carer)
    cf.give(ben, carer, answers=cf.all_answers(online=False, face_online=False))
    group = ready_photo(family, [ava, ben], coordinator)
    [finding] = check_photos([group])
    assert finding.check == "consent" and not finding.dismissible
    assert any(ben.first_name in line for line in finding.matches)
    assert not any(ava.first_name in line for line in finding.matches)

    alone = ready_photo(family, [ava], coordinator)
    assert check_photos([alone]) == []
    cf.withdraw(ava, carer, [Purpose.FACE_ONLINE])
    assert check_photos([alone])[0].matches
