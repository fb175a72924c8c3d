"""Flagging messages that name a child or carer from the consent register (consents/names.py, message_flag).

The rule: whole words only; a full name matches in any case; a first name on its
own only when written with a capital ("Sam", "SAM", "Sam's"), because "sam" in
lowercase mid-sentence is far more often a word than a name. A possessive still
names the child, so "Sam's mum" is flagged.
"""

from __future__ import annotations

import pytest
from django.core import mail
from django.utils import timezone

from consents.names import find_register_names, register_mentions
from social.inbox import services
from social.models import Conversation, Message
from staff.models import AuditEvent
from tests import factories
from tests.consents import factories as cf

pytestmark = pytest.mark.django_db


@pytest.fixture
def sam(coordinator):
    family, child, [carer] = cf.family_with_child(coordinator=coordinator)
    child.first_name, child.last_name = "Sam", "Okafor"
    child.save()
    carer.full_name = "Grace O’Neil"
    carer.save()
    return child


@pytest.fixture
def other_coordinator(db):
    return factories.staff_user("coordinator", email="other-coordinator@example.org")


def _names(text: str) -> list[str]:
    return [m.name for m in find_register_names(text)]


def _message(text: str) -> Conversation:
    """A comment conversation whose one comment has not been checked for names yet."""
    return factories.make_conversation(text, platform="facebook", kind="comment", platform_id=f"c_{hash(text)}")


def _flag(conversation: Conversation) -> Message:
    """Check the conversation's one message for names, as the flagging task does."""
    return services.message_flag(message_id=conversation.messages.get().pk)


# --- find_register_names ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "Sam Okafor was there",
        "well done sam okafor",
        "SAM OKAFOR!",
        "Sam  Okafor",
        "sam\nokafor",
        "(sam okafor)",
        "sam okafor's painting",
    ],
)
def test_it_finds_a_childs_full_name_in_any_case(sam, text):
    assert _names(text) == ["Sam Okafor"]


@pytest.mark.parametrize(
    "text",
    [
        "Sam was there",
        "Is that Sam?",
        "LOOK AT SAM",
        "Sam's mum said hi",
        "Sam’s mum said hi",
        "great one, Sam.",
        "Sam-",
        "@Sam",
    ],
)
def test_it_finds_a_childs_first_name_written_with_a_capital_including_a_possessive(sam, text):
    assert _names(text) == ["Sam"]


@pytest.mark.parametrize(
    "text",
    [
        "the same again",
        "Same here",
        "Samuel came too",
        "I saw sam's bike",
        "sam was there",
        "Samphire for tea",
        "Sams and Sallies",
        "Sam-Louise won",
        "Okafor-Sam",
        "#samokafor",
        "Samokafor",
        "samsung",
    ],
)
def test_it_does_not_find_sam_inside_other_words_or_sam_lowercase_on_its_own(sam, text):
    assert _names(text) == []


def test_it_finds_a_carers_full_name_and_capitalised_first_name_with_either_apostrophe(sam):
    assert _names("thanks grace o'neil") == ["Grace O’Neil"]
    assert _names("thanks GRACE O’NEIL") == ["Grace O’Neil"]
    assert _names("Grace came along") == ["Grace"]
    assert _names("what grace she has") == []


@pytest.mark.parametrize("typed", ["'", "’"])
def test_a_name_entered_with_either_apostrophe_is_found_written_with_either(sam, typed):
    """Most keyboards type a straight apostrophe: a child entered as "Sam O'Neil" (or "D'Arcy") was once never
    found, however the message wrote the name, because the pattern for "'" was rewritten into nonsense."""
    sam.last_name = f"O{typed}Neil"
    sam.save()
    cf.ChildFactory(family=sam.family, first_name=f"D{typed}Arcy", last_name="Okafor")
    for written in ("'", "’"):
        assert f"Sam O{typed}Neil" in _names(f"lovely photo of sam o{written}neil")
        assert f"D{typed}Arcy" in _names(f"D{written}Arcy was there")
        assert f"D{typed}Arcy" in _names(f"D{written}Arcy's mum")


@pytest.mark.parametrize(
    ("entered", "written"),
    [
        ("Zoë Brown", "lovely photo of zoe brown"),  # the accent left off, as phones and most keyboards do
        ("Zoe Brown", "lovely photo of Zoë Brown"),  # or added
        ("Zoë Brown", "lovely photo of ZOË BROWN"),
        ("Zoë Brown", "lovely photo of Zoe\u0308 Brown"),  # typed as a separate mark
        ("Siobhán Kelly", "Siobhan Kelly's mum"),
        ("Łukasz Nowak", "go Lukasz nowak!"),
        ("José Núñez", "Jose Nunez won"),
    ],
)
def test_a_name_is_found_however_its_accents_are_typed_or_left_off(sam, entered, written):
    first, last = entered.split()
    cf.ChildFactory(family=sam.family, first_name=first, last_name=last)
    assert entered in _names(written)


def test_a_name_written_with_a_separate_accent_mark_is_given_back_as_written(sam):
    cf.ChildFactory(family=sam.family, first_name="Zoë", last_name="Brown")
    text = "Thanks to Zoe\u0308 Brown and Zoe\u0308!"
    [full] = [m for m in register_mentions(text) if m.name == "Zoë Brown"]
    assert full.words == "Zoe\u0308 Brown"
    [alone] = [m for m in register_mentions("Zoe\u0308 and zoe\u0308 again", spellings=True) if m.name == "Zoë"]
    assert [("Zoe\u0308 and zoe\u0308 again")[a:b] for a, b in alone.spans] == ["Zoe\u0308", "zoe\u0308"]


@pytest.mark.parametrize(
    ("registered", "text"),
    [
        ("Samuel Okafor", "Well done Sam Okafor"),
        ("Samuel Okafor", "that's Sammy Okafor at the front"),
        ("Samuel Okafor", "sam okafor's painting"),
        ("Sam Okafor", "Samuel Okafor was there"),
        ("Thomas Hughes", "Tom Hughes's mum said hi"),
        ("Catherine Smith", "KATIE SMITH!"),
        ("Katie Smith", "lovely photo of Catherine Smith"),
        ("Elizabeth Jones", "Liz Jones came along"),
        ("William Brown", "thanks Bill Brown"),
        ("Alexander Green", "Alex Green won"),
    ],
)
def test_a_full_name_written_with_another_form_of_the_first_name_is_the_full_name(sam, registered, text):
    """A child registered as Samuel Okafor is named as well by "Sam Okafor": that was once not found."""
    sam.first_name, sam.last_name = registered.split()
    sam.save()
    [mention] = register_mentions(text)
    assert (mention.name, mention.who, mention.full) == (registered, "child", True)
    assert mention.words in text and mention.words.split()[0].lower() != registered.split()[0].lower()


def test_a_carers_full_name_written_with_another_form_of_the_first_name_is_the_full_name(sam):
    cf.CarerFactory(family=sam.family, full_name="Joanne Hughes")
    cf.CarerFactory(family=sam.family, full_name="Mrs Elizabeth Baker")
    assert _names("thanks jo hughes") == ["Joanne Hughes"]
    assert _names("thanks Mrs Liz Baker") == ["Mrs Elizabeth Baker"]


@pytest.mark.parametrize(
    ("registered", "text"),
    [
        ("Samuel Okafor", "Sam was there"),  # a first name alone keeps to its own rule: not every Sam is a Samuel
        ("Samuel Okafor", "Sam's mum said hi"),
        ("Samuel Okafor", "Well done Sam Smith"),  # another surname
        ("Thomas Hughes", "Tom Hughesy"),
        ("Samuel Okafor", "Samantha Okafor"),  # Samuel and Samantha are both Sam, and not each other
        ("John Okafor", "Ian Okafor"),  # names of their own that the table pairs
        ("Margaret Okafor", "Rita Okafor"),
        ("Catherine Okafor", "Lena Okafor"),
        ("William Okafor", "Fred Okafor"),
        ("Mary Okafor", "Polly Okafor"),
    ],
)
def test_other_names_and_another_form_of_the_first_name_alone_are_not_the_full_name(sam, registered, text):
    sam.first_name, sam.last_name = registered.split()
    sam.save()
    assert _names(text) == []


def test_a_carers_title_is_not_taken_for_a_first_name(sam):
    family = sam.family
    cf.CarerFactory(family=family, full_name="Mrs Smith")
    cf.CarerFactory(family=family, full_name="Dr. Amara Bello")
    assert _names("Mrs Jones was lovely, Dr. Who too") == []
    assert _names("hello mrs smith") == ["Mrs Smith"]
    assert _names("Amara helped") == ["Amara"]


def test_it_finds_a_name_in_every_family_that_has_it(sam):
    other_family, other_sam, _ = cf.family_with_child()
    other_sam.first_name = "Sam"
    other_sam.save()
    found = find_register_names("Sam was great")
    assert {(m.family_id, m.name, m.who) for m in found} == {
        (sam.family_id, "Sam", "child"),
        (other_family.pk, "Sam", "child"),
    }


@pytest.mark.parametrize("text", ["", "   ", "What a lovely day at the park, thank you all!"])
def test_it_finds_nothing_in_unrelated_text(sam, text):
    assert find_register_names(text) == []


def test_it_reads_the_register_in_two_queries_however_many_families(sam, django_assert_num_queries):
    for _ in range(5):
        cf.family_with_child(carers=2)
    with django_assert_num_queries(2):  # the children, the carers
        find_register_names("Sam was there")


# --- message_flag -------------------------------------------------------------------------------


def test_a_comment_naming_a_child_is_flagged_urgent_for_that_family_and_its_coordinators_are_emailed(
    sam, coordinator, other_coordinator, django_capture_on_commit_callbacks
):
    cf.family_with_child(coordinator=other_coordinator)  # another family: its coordinator hears nothing
    mail.outbox.clear()
    message = _message("Lovely to see Sam Okafor at the picnic")

    with django_capture_on_commit_callbacks(execute=True):
        item = _flag(message)

    item.refresh_from_db()
    assert item.urgent and item.flagged_at is not None and item.flagged_names == ["Sam Okafor"]
    message.refresh_from_db()
    assert message.urgent and message.flagged_at == item.flagged_at
    assert message.flagged_names == ["Sam Okafor"]
    assert list(message.flagged_families.all()) == [sam.family]
    assert [m.to for m in mail.outbox] == [[coordinator.email]]
    assert sam.family.reference in mail.outbox[0].subject
    assert "Sam" not in mail.outbox[0].body  # the email points to the message; it does not repeat the name
    event = AuditEvent.objects.get(action="inbox.flagged")
    assert event.target_id == str(message.pk) and event.details["families"] == [sam.family.reference]
    assert event.details["message"] == item.pk


@pytest.mark.parametrize(
    ("registered", "text"),
    [
        ("Samuel Okafor", "Lovely to see Sam Okafor at the picnic"),
        ("Sam Okafor", "Lovely to see Samuel Okafor at the picnic"),
        ("Thomas Hughes", "Tom Hughes's mum said hi"),
    ],
)
def test_a_comment_naming_a_child_with_another_form_of_the_first_name_is_flagged(
    sam, registered, text, django_capture_on_commit_callbacks
):
    sam.first_name, sam.last_name = registered.split()
    sam.save()
    message = _message(text)
    with django_capture_on_commit_callbacks(execute=True):
        item = _flag(message)
    item.refresh_from_db()
    assert item.urgent and item.flagged_names == [registered]
    message.refresh_from_db()
    assert message.urgent and list(message.flagged_families.all()) == [sam.family]


def test_a_comment_naming_a_carer_is_flagged_too(sam, coordinator, django_capture_on_commit_callbacks):
    message = _message("Grace always brings cake")
    with django_capture_on_commit_callbacks(execute=True):
        _flag(message)
    message.refresh_from_db()
    assert message.urgent and message.flagged_names == ["Grace"]
    assert list(message.flagged_families.all()) == [sam.family]


def test_a_message_saying_the_same_thing_is_not_flagged_for_sam(sam, django_capture_on_commit_callbacks):
    mail.outbox.clear()
    message = _message("Same time next week? sam's bike is still here")
    with django_capture_on_commit_callbacks(execute=True):
        item = _flag(message)
    item.refresh_from_db()
    assert not item.urgent and item.flagged_at is not None and item.flagged_names == []  # looked at, and clean
    message.refresh_from_db()
    assert not message.urgent and message.flagged_at is None  # the conversation was never flagged
    assert message.flagged_names == [] and not message.flagged_families.exists()
    assert mail.outbox == []
    assert not AuditEvent.objects.filter(action="inbox.flagged").exists()


def test_flagging_twice_changes_nothing(sam, coordinator, django_capture_on_commit_callbacks):
    mail.outbox.clear()
    message = _message("Sam is in the photo")
    with django_capture_on_commit_callbacks(execute=True):
        _flag(message)
    message.refresh_from_db()
    first = (message.flagged_at, message.urgent, message.flagged_names, list(message.flagged_families.all()))
    sam.family.children.update(first_name="Someone")  # even if the register changed in between

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        _flag(message)
    message.refresh_from_db()
    assert (message.flagged_at, message.urgent, message.flagged_names, list(message.flagged_families.all())) == first
    assert callbacks == [] and len(mail.outbox) == 1
    assert AuditEvent.objects.filter(action="inbox.flagged").count() == 1


def test_a_message_added_by_hand_is_flagged_after_commit(sam, coordinator, django_capture_on_commit_callbacks):
    admin = factories.staff_user("social_admin")
    with django_capture_on_commit_callbacks(execute=True):
        message = services.message_add_manual(
            platform="phone",
            kind="message",
            sender_name="A caller",
            text="Calling about SAM",
            received_at=timezone.now(),
            by=admin,
        )
    message.refresh_from_db()
    assert message.urgent and message.flagged_names == ["Sam"]
    assert message.messages.get().flagged_names == ["Sam"]  # its message, checked after commit
