"""The consent certificate tells the truth later: beside each answer, what has happened to it since
(withdrawn, replaced, expired, renewed, or still in force), and when the certificate was produced.

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

from consents.models import Purpose
from consents.selectors_certificate import Later, certificate_later
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
    give(child, dad, answers=all_answers(False), at=SIGNED)  # another carer's records are not this one's story
    for day in range(1, 6):
        withdraw(child, mum, [list(Purpose)[day].value], at=SIGNED + dt.timedelta(days=day))
    give(child, mum, at=WITHDRAWN)

    # The carer's later records for this child; the first form version requiring re-consent. (The record's
    # carer and form version come loaded: here from the service that made it, in the view from access_record.)
    with django_assert_num_queries(2):
        later = certificate_later(record, now=PRODUCED)

    kinds = {answer.purpose: [event.kind for event in answer.events] for answer in later.answers}
    assert kinds[Purpose.PHOTOGRAPHED] == [Later.RENEWED]
    assert all(kinds[p] == [Later.WITHDRAWN] for p in list(Purpose)[1:6])
    assert later.produced == "Saturday 5 December 2026 at 14:30"


@pytest.mark.django_db
def test_the_reading_ignores_records_after_its_moment(coordinator):
    family, child, [mum] = family_with_child(coordinator)
    record = give(child, mum, at=SIGNED)
    withdraw(child, mum, [Purpose.ONLINE], at=WITHDRAWN)

    before = certificate_later(record, now=WITHDRAWN - dt.timedelta(minutes=1))

    assert {answer.events[-1].kind for answer in before.answers} == {Later.IN_FORCE}


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
