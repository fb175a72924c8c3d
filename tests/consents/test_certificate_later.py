"""The consent certificate tells the truth later: beside each answer, what has happened to it since
(withdrawn, replaced, expired, renewed, or still in force), what another carer with parental
responsibility has decided that stops it, whether the carer still has parental responsibility, and
when the certificate was produced.

Times are fixed in the past (the clock is moved with `frozen`, never slept on); they are read on
London's clock, so a summer time shows an hour later than UTC.
"""

from __future__ import annotations

import datetime as dt
import html
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

from consents.models import PURPOSES, Purpose
from consents.selectors import consents_for_children
from consents.selectors_certificate import Later, certificate_later
from consents.services.families import carer_save
from tests import factories
from tests.consents.factories import all_answers, family_with_child, frozen, give, publish_version, withdraw

UTC = dt.UTC
SIGNED = dt.datetime(2026, 6, 1, 8, 0, tzinfo=UTC)  # Monday 1 June 2026, 09:00 in London (summer time)
WITHDRAWN = dt.datetime(2026, 12, 4, 9, 15, tzinfo=UTC)  # Friday 4 December 2026, 09:15 in London
PRODUCED = dt.datetime(2026, 12, 5, 14, 30, tzinfo=UTC)  # Saturday 5 December 2026, 14:30 in London


@pytest.fixture
def other_coordinator(db):
    return factories.staff_user("coordinator", email="other.coordinator@example.org")


def _certificate(client, record, at: dt.datetime = PRODUCED) -> str:
    with frozen(at):
        response = client.get(reverse("consents:certificate", args=[record.pk]))
    assert response.status_code == 200
    return response.content.decode()


def _answer_items(body: str) -> dict[str, str]:
    """Each answer's list item, by the purpose's label, as text (tags out, entities read, spaces squeezed)."""
    answers = body.split('<ul class="answers">', 1)[1].split("</ul>", 1)[0]
    items = {}
    for item in re.findall(r"<li>(.*?)</li>", answers, flags=re.S):
        text = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", item)).split())
        label = text.split(":", 1)[0]
        items[label] = text
    return items


# --- after a withdrawal ------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_certificate_after_a_withdrawal_shows_it_beside_that_answer_only(client, coordinator):
    family, child, [mum] = family_with_child(coordinator)
    record = give(child, mum, at=SIGNED)
    withdrawal = withdraw(child, mum, [Purpose.ONLINE], at=WITHDRAWN)
    client.force_login(coordinator)

    body = _certificate(client, record)

    items = _answer_items(body)
    assert set(items) == {purpose.label for purpose in Purpose}
    online = items[Purpose.ONLINE.label]
    assert online.startswith(f"{Purpose.ONLINE.label}: Yes Withdrawn ")
    assert (
        f"Withdrawn on Friday 4 December 2026 at 09:15 by {mum.full_name}, signed in with an emailed code"
        f" (record #{withdrawal.pk})." in online
    )
    for label, text in items.items():
        if label != Purpose.ONLINE.label:
            assert "Withdrawn" not in text, label
            assert "Still in force. Will expire on Tuesday 1 June 2027 at 09:00." in text, label
    # A recognisable face online counts only with consent to publish online at all (consents.selectors).
    assert (
        "It has no effect while consent to publish photos online is not in force." in items[Purpose.FACE_ONLINE.label]
    )
    assert "Produced on Saturday 5 December 2026 at 14:30 (UK time)." in body


@pytest.mark.django_db
def test_it_says_who_recorded_a_withdrawal_for_the_carer(client, coordinator):
    family, child, [mum] = family_with_child(coordinator)
    record = give(child, mum, at=SIGNED)
    withdraw(child, mum, [Purpose.PRINT], at=WITHDRAWN, by=coordinator)
    client.force_login(coordinator)

    text = _answer_items(_certificate(client, record))[Purpose.PRINT.label]

    assert f"by {mum.full_name}, recorded by staff ({coordinator})" in text


@pytest.mark.django_db
def test_the_certificate_before_anything_happened_says_each_yes_is_in_force_and_each_no_stands(client, coordinator):
    family, child, [mum] = family_with_child(coordinator)
    record = give(child, mum, answers=all_answers(True, training=False), at=SIGNED)
    client.force_login(coordinator)

    items = _answer_items(_certificate(client, record))

    assert items[Purpose.TRAINING.label] == (
        f"{Purpose.TRAINING.label}: No Still no Still stands: no later form or withdrawal has changed it."
    )
    assert items[Purpose.STORED.label] == (
        f"{Purpose.STORED.label}: Yes In force Still in force. Will expire on Tuesday 1 June 2027 at 09:00."
    )


# --- replaced, expired, renewed, outdated ------------------------------------------------------------


@pytest.mark.django_db
def test_it_shows_a_later_form_that_answers_differently(client, coordinator):
    family, child, [mum] = family_with_child(coordinator)
    record = give(child, mum, answers=all_answers(True, training=False), at=SIGNED)
    later = give(child, mum, answers=all_answers(True, online=False, training=True), at=WITHDRAWN)
    client.force_login(coordinator)

    items = _answer_items(_certificate(client, record))

    on = "on Friday 4 December 2026 at 09:15 by a later form"
    assert f"Replaced {on} (record #{later.pk}), which says No." in items[Purpose.ONLINE.label]
    assert f"Replaced {on} (record #{later.pk}), which says Yes." in items[Purpose.TRAINING.label]
    assert f"Renewed {on} (record #{later.pk}), which says Yes." in items[Purpose.PRINT.label]
    assert all("Withdrawn" not in text and "Expired" not in text for text in items.values())


@pytest.mark.django_db
def test_the_certificate_after_expiry_shows_the_expiry_then_a_renewal(client, coordinator):
    family, child, [mum] = family_with_child(coordinator)
    first = give(child, mum, at=dt.datetime(2025, 11, 20, 10, 0, tzinfo=UTC))
    client.force_login(coordinator)
    expired = "Expired on Friday 20 November 2026 at 10:00."

    items = _answer_items(_certificate(client, first))
    assert all(text.endswith(f"Yes Expired {expired}") for text in items.values()), items

    # The day before it lapsed, the same certificate said it was still in force.
    items = _answer_items(_certificate(client, first, at=dt.datetime(2026, 11, 19, 10, 0, tzinfo=UTC)))
    assert all("Still in force. Will expire on Friday 20 November 2026 at 10:00." in t for t in items.values())

    renewal = give(child, mum, at=dt.datetime(2026, 12, 1, 11, 0, tzinfo=UTC))
    items = _answer_items(_certificate(client, first))
    renewed = f"Renewed on Tuesday 1 December 2026 at 11:00 by a later form (record #{renewal.pk}), which says Yes."
    assert all(text.endswith(f"Yes Renewed {expired} {renewed}") for text in items.values()), items
    items = _answer_items(_certificate(client, renewal))
    assert all("Still in force. Will expire on Wednesday 1 December 2027 at 11:00." in t for t in items.values())


@pytest.mark.django_db
def test_it_shows_when_a_form_requiring_re_consent_ended_a_yes(client, coordinator):
    family, child, [mum] = family_with_child(coordinator)
    record = give(child, mum, answers=all_answers(True, training=False), at=SIGNED)
    version = publish_version(requires_reconsent=True, at=WITHDRAWN)
    client.force_login(coordinator)

    items = _answer_items(_certificate(client, record))

    stopped = (
        f"Stopped counting on Friday 4 December 2026 at 09:15: version {version.number} of the form asks everyone"
        " to consent again."
    )
    assert items[Purpose.ONLINE.label].endswith(f"Yes Needs new form {stopped}")
    assert "Still stands" in items[Purpose.TRAINING.label]  # a no needs no new form to keep meaning no


# --- the selector ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_reading_takes_two_queries_however_much_happened_later(coordinator, django_assert_num_queries):
    family, child, [mum, dad] = family_with_child(coordinator, carers=2)
    record = give(child, mum, at=SIGNED)
    # Another carer's no is not this one's story, but it stops the child's consent (consents.selectors): it is
    # shown after it, without changing what became of this carer's answers.
    refusal = give(child, dad, answers=all_answers(False), at=SIGNED)
    for day in range(1, 6):
        withdraw(child, mum, [list(Purpose)[day].value], at=SIGNED + dt.timedelta(days=day))
    give(child, mum, at=WITHDRAWN)

    # The child's records up to now, every carer's, with their carer; the first form version requiring
    # re-consent. (The record's carer and form version come loaded: here from the service that made it, in
    # the view from access_record.)
    with django_assert_num_queries(2):
        later = certificate_later(record, now=PRODUCED)

    kinds = {answer.purpose: [event.kind for event in answer.events] for answer in later.answers}
    assert kinds[Purpose.PHOTOGRAPHED] == [Later.RENEWED, Later.OTHER_REFUSED]
    assert all(kinds[p] == [Later.WITHDRAWN, Later.OTHER_REFUSED] for p in list(Purpose)[1:6])
    assert {answer.events[-1].record_id for answer in later.answers} == {refusal.pk}
    assert {answer.status for answer in later.answers} == {"Renewed", "Withdrawn"}
    assert later.produced == "Saturday 5 December 2026 at 14:30"


@pytest.mark.django_db
def test_the_reading_ignores_records_after_its_moment(coordinator):
    family, child, [mum] = family_with_child(coordinator)
    record = give(child, mum, at=SIGNED)
    withdraw(child, mum, [Purpose.ONLINE], at=WITHDRAWN)

    before = certificate_later(record, now=WITHDRAWN - dt.timedelta(minutes=1))

    assert {answer.events[-1].kind for answer in before.answers} == {Later.IN_FORCE}


# --- another carer with parental responsibility, and losing it ----------------------------------------------

IN_FORCE_TILL = "Still in force. Will expire on Tuesday 1 June 2027 at 09:00."


@pytest.mark.django_db
def test_another_carers_later_withdrawal_means_this_yes_is_not_in_force_for_the_child(client, coordinator):
    family, child, [mum, dad] = family_with_child(coordinator, carers=2)
    record = give(child, mum, at=SIGNED)
    give(child, dad, at=SIGNED + dt.timedelta(hours=1))
    withdrawal = withdraw(child, dad, [Purpose.STORED], at=WITHDRAWN)
    client.force_login(coordinator)

    items = _answer_items(_certificate(client, record))

    # The rule the app works by says the child's consent to be stored is withdrawn.
    assert not consents_for_children([child.pk], at=PRODUCED)[child.pk].allows(Purpose.STORED)
    assert items[Purpose.STORED.label] == (
        f"{Purpose.STORED.label}: Yes Withdrawn by another carer"
        f" {mum.full_name} has not withdrawn or replaced it; it would expire on Tuesday 1 June 2027 at 09:00."
        f" Not in force for the child: withdrawn by another carer ({dad.full_name}) on Friday 4 December 2026"
        f" at 09:15 (record #{withdrawal.pk})."
    )
    assert "In force" not in items[Purpose.STORED.label] and "in force." not in items[Purpose.STORED.label]
    for label, text in items.items():
        if label != Purpose.STORED.label:
            assert text == f"{label}: Yes In force {IN_FORCE_TILL}", label


@pytest.mark.django_db
def test_the_reading_after_another_carers_withdrawal_keeps_this_carers_story_and_adds_theirs(coordinator):
    family, child, [mum, dad] = family_with_child(coordinator, carers=2)
    record = give(child, mum, at=SIGNED)
    give(child, dad, at=SIGNED + dt.timedelta(hours=1))
    withdrawal = withdraw(child, dad, [Purpose.STORED], at=WITHDRAWN)

    later = {answer.purpose: answer for answer in certificate_later(record, now=PRODUCED).answers}

    stored = later[Purpose.STORED]
    assert [event.kind for event in stored.events] == [Later.UNCHANGED, Later.OTHER_WITHDRAWN]
    assert (stored.status, stored.style) == ("Withdrawn by another carer", "withdrawn")
    assert stored.events[-1].record_id == withdrawal.pk and stored.events[-1].at == WITHDRAWN
    assert all(later[p].status == "In force" for p in PURPOSES if p != Purpose.STORED)
    # Before Dad withdrew, the same reading said it was in force.
    before = certificate_later(record, now=WITHDRAWN - dt.timedelta(minutes=1))
    assert {answer.status for answer in before.answers} == {"In force"}


@pytest.mark.django_db
def test_another_carers_later_refusal_is_shown_and_ends_in_force(client, coordinator):
    family, child, [mum, dad] = family_with_child(coordinator, carers=2)
    record = give(child, mum, at=SIGNED)
    refusal = give(child, dad, answers=all_answers(True, training=False), at=WITHDRAWN)
    client.force_login(coordinator)

    items = _answer_items(_certificate(client, record))

    assert not consents_for_children([child.pk], at=PRODUCED)[child.pk].allows(Purpose.TRAINING)
    training = items[Purpose.TRAINING.label]
    assert training.startswith(f"{Purpose.TRAINING.label}: Yes Refused by another carer ")
    assert (
        f"Not in force for the child: refused by another carer ({dad.full_name}) on Friday 4 December 2026 at 09:15"
        f" (record #{refusal.pk})." in training
    )
    assert "In force" not in training
    # Dad's yes to everything else changes nothing beside Mum's answers.
    assert all(items[p.label] == f"{p.label}: Yes In force {IN_FORCE_TILL}" for p in Purpose if p != Purpose.TRAINING)


@pytest.mark.django_db
def test_another_carers_refusal_from_before_this_form_still_stops_it(coordinator):
    family, child, [mum, dad] = family_with_child(coordinator, carers=2)
    refusal = give(child, dad, answers=all_answers(True, print=False), at=SIGNED - dt.timedelta(days=30))
    record = give(child, mum, at=SIGNED)

    later = {answer.purpose: answer for answer in certificate_later(record, now=PRODUCED).answers}

    assert later[Purpose.PRINT].status == "Refused by another carer"
    assert later[Purpose.PRINT].events[-1].text == (
        f"Not in force for the child: refused by another carer ({dad.full_name}) on Saturday 2 May 2026 at 09:00"
        f" (record #{refusal.pk})."
    )
    assert later[Purpose.ONLINE].status == "In force"


@pytest.mark.django_db
def test_another_carers_later_yes_does_not_change_this_answers_status(client, coordinator):
    family, child, [mum, dad] = family_with_child(coordinator, carers=2)
    record = give(child, mum, answers=all_answers(True, training=False), at=SIGNED)
    give(child, dad, at=WITHDRAWN)  # Dad says yes to everything, training too
    client.force_login(coordinator)

    items = _answer_items(_certificate(client, record))

    assert items[Purpose.TRAINING.label] == (
        f"{Purpose.TRAINING.label}: No Still no Still stands: no later form or withdrawal has changed it."
    )
    assert items[Purpose.ONLINE.label] == f"{Purpose.ONLINE.label}: Yes In force {IN_FORCE_TILL}"
    later = certificate_later(record, now=PRODUCED)
    assert {answer.purpose: [e.kind for e in answer.events] for answer in later.answers} == {
        p: [Later.STANDS if p == Purpose.TRAINING else Later.IN_FORCE] for p in PURPOSES
    }


@pytest.mark.django_db
def test_another_carers_no_to_publishing_online_stops_a_recognisable_face_online(coordinator):
    family, child, [mum, dad] = family_with_child(coordinator, carers=2)
    record = give(child, mum, at=SIGNED)
    withdrawal = withdraw(child, dad, [Purpose.ONLINE], at=WITHDRAWN)

    face = next(a for a in certificate_later(record, now=PRODUCED).answers if a.purpose == Purpose.FACE_ONLINE)

    assert not consents_for_children([child.pk], at=PRODUCED)[child.pk].allows(Purpose.FACE_ONLINE)
    assert face.status == "Withdrawn by another carer"
    assert face.events[-1].text == (
        "Not in force for the child: consent to publish photos online was withdrawn by another carer"
        f" ({dad.full_name}) on Friday 4 December 2026 at 09:15 (record #{withdrawal.pk})."
    )


@pytest.mark.django_db
def test_another_carers_no_to_both_online_purposes_is_shown_once_beside_a_recognisable_face(coordinator):
    family, child, [mum, dad] = family_with_child(coordinator, carers=2)
    record = give(child, mum, at=SIGNED)
    withdrawal = withdraw(child, dad, [Purpose.ONLINE, Purpose.FACE_ONLINE], at=WITHDRAWN)

    face = next(a for a in certificate_later(record, now=PRODUCED).answers if a.purpose == Purpose.FACE_ONLINE)

    assert [(e.kind, e.record_id) for e in face.events] == [
        (Later.UNCHANGED, None),
        (Later.OTHER_WITHDRAWN, withdrawal.pk),
    ]
    assert face.events[-1].text.startswith("Not in force for the child: withdrawn by another carer")


@pytest.mark.django_db
def test_once_the_carer_loses_parental_responsibility_nothing_they_signed_counts(client, coordinator):
    family, child, [mum, dad] = family_with_child(coordinator, carers=2)
    record = give(child, mum, answers=all_answers(True, training=False), at=SIGNED)
    carer_save(family=family, carer=mum, by=coordinator, email=mum.email, has_parental_responsibility=False)
    client.force_login(coordinator)

    items = _answer_items(_certificate(client, record))

    no_longer = f"No longer counts: {mum.full_name} is no longer recorded as having parental responsibility."
    assert items[Purpose.ONLINE.label] == (
        f"{Purpose.ONLINE.label}: Yes No longer counts {mum.full_name} has not withdrawn or replaced it; it would"
        f" expire on Tuesday 1 June 2027 at 09:00. {no_longer}"
    )
    # Her no stops counting too: Dad alone decides now.
    assert items[Purpose.TRAINING.label] == (
        f"{Purpose.TRAINING.label}: No No longer counts"
        f" Still stands: no later form or withdrawal has changed it. {no_longer}"
    )
    assert all("In force" not in text for text in items.values())
    assert consents_for_children([child.pk], at=PRODUCED)[child.pk].states[Purpose.TRAINING] == "none"


@pytest.mark.django_db
def test_a_no_from_a_carer_without_parental_responsibility_does_not_stop_it(coordinator):
    family, child, [mum, grandad] = family_with_child(coordinator, carers=2)
    record = give(child, mum, at=SIGNED)
    withdraw(child, grandad, [Purpose.ONLINE], at=WITHDRAWN)
    carer_save(family=family, carer=grandad, by=coordinator, email=grandad.email, has_parental_responsibility=False)

    later = certificate_later(record, now=PRODUCED)

    assert consents_for_children([child.pk], at=PRODUCED)[child.pk].allows(Purpose.ONLINE)
    assert {answer.status for answer in later.answers} == {"In force"}


@pytest.mark.django_db
def test_the_reading_takes_two_queries_however_many_carers_decided(coordinator, django_assert_num_queries):
    family, child, [mum, *others] = family_with_child(coordinator, carers=4)
    record = give(child, mum, at=SIGNED)
    for number, carer in enumerate(others):
        # The last said yes to training and withdraws it; the others refused it (a no-op withdrawal of what
        # was already refused records nothing: consents.services.withdrawal).
        answers = all_answers(True, training=number == 2, print=False)
        give(child, carer, answers=answers, at=SIGNED + dt.timedelta(days=number))
        withdraw(child, carer, [list(Purpose)[number].value], at=WITHDRAWN + dt.timedelta(hours=number))
    carer_save(family=family, carer=others[0], by=coordinator, email=others[0].email, has_parental_responsibility=False)

    # The child's records up to now, every carer's, with their carer; the first form version requiring re-consent.
    with django_assert_num_queries(2):
        later = certificate_later(record, now=PRODUCED)

    status = {answer.purpose: answer.status for answer in later.answers}
    assert status == {
        # Its only no came from a carer who no longer has parental responsibility.
        Purpose.PHOTOGRAPHED: "In force",
        Purpose.STORED: "Withdrawn by another carer",
        Purpose.TRAINING: "Withdrawn by another carer",  # a withdrawal wins over the refusals, as in the rules
        Purpose.PRINT: "Refused by another carer",
        Purpose.ONLINE: "In force",
        Purpose.FACE_ONLINE: "In force",
    }


# --- printed --------------------------------------------------------------------------------------------


def _hidden_when_printed() -> set[str]:
    """The classes fig.css hides from a printed page (every `display: none` inside `@media print`)."""
    css = (Path(settings.BASE_DIR) / "static" / "css" / "fig.css").read_text()
    hidden = set()
    for block in re.findall(r"@media print\s*\{(.*?)\n\}", css, flags=re.S):
        for selectors, rules in re.findall(r"([^{}]+)\{([^{}]*)\}", block):
            if re.search(r"display\s*:\s*none", rules):
                hidden |= set(re.findall(r"\.([\w-]+)", selectors))
    assert {"no-print", "site-header"} <= hidden  # the parsing found the print rules
    return hidden


class _PrintedText(HTMLParser):
    """The page's text less what sits inside an element with a class the print styles hide."""

    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}

    def __init__(self, hidden: set[str]) -> None:
        super().__init__()
        self.hidden, self.stack, self.parts = hidden, [], []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in self.VOID:
            self.stack.append((tag, bool(self.hidden & set((dict(attrs).get("class") or "").split()))))

    def handle_endtag(self, tag: str) -> None:
        while self.stack and self.stack.pop()[0] != tag:
            pass

    def handle_data(self, data: str) -> None:
        if not any(hidden for _, hidden in self.stack):
            self.parts.append(data)

    @property
    def text(self) -> str:
        return " ".join(" ".join(self.parts).split())


@pytest.mark.django_db
def test_a_printed_certificate_keeps_what_happened_later_and_when_it_was_produced(client, coordinator):
    family, child, [mum] = family_with_child(coordinator)
    record = give(child, mum, at=SIGNED)
    withdraw(child, mum, [Purpose.ONLINE], at=WITHDRAWN)
    client.force_login(coordinator)
    parser = _PrintedText(_hidden_when_printed())

    parser.feed(_certificate(client, record))

    assert "Print" not in parser.text.split("Produced on", 1)[1][:200]  # the button is left off, as before
    assert "Produced on Saturday 5 December 2026 at 14:30 (UK time)." in parser.text
    assert f"{Purpose.ONLINE.label}: Yes Withdrawn Withdrawn on Friday 4 December 2026 at 09:15" in parser.text


# --- who may see it, after a withdrawal ---------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("persona", "status"),
    [("anonymous", 302), ("parent", 403), ("member_of_staff", 403), ("other_coordinator", 404), ("ceo", 200)],
)
def test_who_may_see_the_certificate_after_a_withdrawal_is_unchanged(client, coordinator, persona, status, request):
    family, child, [mum] = family_with_child(coordinator)
    record = give(child, mum, at=SIGNED)
    withdraw(child, mum, [Purpose.ONLINE], at=WITHDRAWN)
    if persona != "anonymous":
        client.force_login(request.getfixturevalue(persona))

    response = client.get(reverse("consents:certificate", args=[record.pk]))

    assert response.status_code == status
    if status == 302:
        assert response["Location"].startswith(reverse("account_login") + "?next=")
    assert ("Withdrawn on" in response.content.decode()) is (status == 200)
