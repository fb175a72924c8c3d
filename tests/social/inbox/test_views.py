"""The inbox's pages: who may reach each URL (the access matrix), and what each page and form does.

Personas: a social media administrator, the CEO (reads everything, changes nothing), the member
of staff a message was passed to, a member of staff it was not passed to, the coordinator of the
family a flagged comment names, a coordinator of another family, a parent and anonymous people.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
from django.contrib.messages import get_messages
from django.core import mail
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from consents.models import Family
from social import graph
from social.inbox import services
from social.models import Conversation, Message, Platform, PolicyTerm, Takedown, policy_due_at
from social.templatetags.social_tags import duration, time_left
from staff.models import AuditEvent, User
from tests import factories
from tests.consents.factories import FamilyFactory, assign
from tests.query_counts import STAFF_REQUEST_QUERIES

_ids = itertools.count(1)
NOW = timezone.now()
DAY = timedelta(days=1)


def make_message(
    *,
    received_at: datetime | None = None,
    text: str = "Hello FiG, when is the next group?",
    sender_name: str = "Jo Public",
    families: tuple[Family, ...] = (),
    **fields,
) -> Conversation:
    """A conversation holding one comment (or message), as the webhook would leave it (flagging already done)."""
    received_at = received_at or NOW - DAY
    fields.setdefault("platform", Platform.FACEBOOK)
    fields.setdefault("kind", Conversation.Kind.COMMENT)
    fields.setdefault("platform_id", f"m-{next(_ids)}")
    message = factories.make_conversation(
        text,
        sender_name=sender_name,
        received_at=received_at,
        flagged_at=received_at,
        urgent=bool(families),
        flagged_names=["Ava Demo"] if families else [],
        **fields,
    )
    message.flagged_families.set(families)
    return message


def open_takedown(message: Conversation, by: User, reason: str = "Names a child") -> Takedown:
    """A takedown of the conversation's latest public item, opened as the message page does."""
    return services.takedown_open(message=message, reason=reason, by=by)[0]


def _messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


# --- personas and a small world ---------------------------------------------------------------


@pytest.fixture
def social_admin(db):
    return factories.staff_user("social_admin", email="sol@example.org", full_name="Sol Admin")


@pytest.fixture
def helper(db):
    """The member of staff the message is passed to."""
    return factories.staff_user("staff", email="hal@example.org", full_name="Hal Helper")


@pytest.fixture
def other_coordinator(db):
    return factories.staff_user("coordinator", email="other.coordinator@example.org")


@dataclass
class World:
    family: Family
    message: Conversation  # flagged (names the family), passed to the helper
    takedown: Takedown  # open, for another comment


@pytest.fixture
def world(social_admin, helper, coordinator, other_coordinator) -> World:
    family = FamilyFactory()
    assign(coordinator, family)
    assign(other_coordinator, FamilyFactory())
    message = make_message(families=(family,), text="Lovely to see Ava Demo at the picnic!")
    Conversation.objects.filter(pk=message.pk).update(
        passed_to=helper, passed_note="Can you answer this?", passed_at=NOW
    )
    message.refresh_from_db()
    other = make_message(text="Another comment that must come down")
    takedown = Takedown.objects.create(
        message=other, item=other.messages.get(), reason="Names a child", due_at=NOW + DAY
    )
    return World(family, message, takedown)


def _persona(name: str, request) -> User | None:
    if name == "anonymous":
        return None
    return request.getfixturevalue(name)


def _targets(w: World, admin: User) -> dict[str, tuple[str, str, dict]]:
    """Every inbox URL: (method, url, a body that would change something if allowed)."""
    pk = w.message.pk
    return {
        "inbox": ("get", reverse("social:inbox"), {}),
        "dashboard": ("get", reverse("social:dashboard"), {}),
        "takedowns": ("get", reverse("social:takedowns"), {}),
        "for_me": ("get", reverse("social:for_me"), {}),
        "add_form": ("get", reverse("social:add_message"), {}),
        "add": (
            "post",
            reverse("social:add_message"),
            {
                "platform": "email",
                "kind": "message",
                "sender_name": "A parent",
                "text": "Hello",
                "received_at": timezone.localtime(NOW - DAY).strftime("%Y-%m-%dT%H:%M"),
            },
        ),
        "message": ("get", reverse("social:message", args=[pk]), {}),
        "assign": ("post", reverse("social:assign", args=[pk]), {"assignee": admin.pk}),
        "pass_on": ("post", reverse("social:pass_on", args=[pk]), {"to": admin.pk, "note": "Yours now"}),
        "respond": ("post", reverse("social:respond", args=[pk]), {"text": "Thank you!", "link": ""}),
        "close": ("post", reverse("social:close", args=[pk]), {"reason": "Spam"}),
        "takedown_open": ("post", reverse("social:takedown_open", args=[pk]), {"reason": "Names Ava"}),
        "takedown_remove": ("post", reverse("social:takedown_remove", args=[w.takedown.pk]), {"how": "by_hand"}),
        # The post checks' term lists, kept by the same administrators and read by the same CEO.
        "policy_terms": ("get", reverse("social:policy_terms"), {}),
        "policy_term_add": (
            "post",
            reverse("social:policy_term_add"),
            {"category": "political", "term": "council tax"},
        ),
        "policy_term_off": (
            "post",
            reverse("social:policy_term_off", args=[PolicyTerm.objects.get(term="pray").pk]),
            {},
        ),
    }


OK = "ok"  # 200 for a page, 302 back to a page for a change
# persona -> URL -> expected outcome; a URL left out answers as "default".
MATRIX: dict[str, dict[str, object]] = {
    "social_admin": {"default": OK},
    "ceo": {
        "default": 403,
        "inbox": OK,
        "dashboard": OK,
        "takedowns": OK,
        "for_me": OK,
        "message": OK,
        "policy_terms": OK,
    },
    "helper": {
        "default": 403,
        "for_me": OK,
        "message": OK,
        "respond": OK,
        "assign": 403,
        "pass_on": 403,
        "close": 403,
        "takedown_open": 403,
    },
    "member_of_staff": {
        "default": 403,
        "for_me": OK,
        "message": 404,
        "assign": 404,
        "pass_on": 404,
        "respond": 404,
        "close": 404,
        "takedown_open": 404,
    },
    "coordinator": {"default": 403, "for_me": OK, "message": OK, "takedown_open": OK},
    "other_coordinator": {
        "default": 403,
        "for_me": OK,
        "message": 404,
        "assign": 404,
        "pass_on": 404,
        "respond": 404,
        "close": 404,
        "takedown_open": 404,
    },
    "parent": {"default": 403},
    "anonymous": {"default": "login"},
}
URL_NAMES = [
    "inbox",
    "dashboard",
    "takedowns",
    "for_me",
    "add_form",
    "add",
    "message",
    "assign",
    "pass_on",
    "respond",
    "close",
    "takedown_open",
    "takedown_remove",
    "policy_terms",
    "policy_term_add",
    "policy_term_off",
]


def _snapshot() -> dict:
    return {
        "messages": list(
            Conversation.objects.order_by("pk").values(
                "status", "assignee", "passed_to", "passed_note", "response_text", "closed_reason"
            )
        ),
        "items": list(Message.objects.order_by("pk").values("conversation", "event", "text")),
        "takedowns": list(Takedown.objects.order_by("pk").values("status", "how")),
        "audit": AuditEvent.objects.filter(
            Q(action__startswith="inbox.") | Q(action__startswith="takedown.") | Q(action__startswith="policy_term.")
        ).count(),
        "terms": list(PolicyTerm.objects.order_by("pk").values_list("category", "term", "is_active")),
        "mail": len(mail.outbox),
    }


@pytest.mark.django_db
@pytest.mark.parametrize("persona", list(MATRIX))
@pytest.mark.parametrize("name", URL_NAMES)
def test_the_access_matrix(client, request, world, social_admin, persona, name):
    user = _persona(persona, request)
    if user is not None:
        client.force_login(user)
    method, url, body = _targets(world, social_admin)[name]
    expected = MATRIX[persona].get(name, MATRIX[persona]["default"])
    before = _snapshot()

    response = getattr(client, method)(url, body)

    if expected == "login":
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("account_login"))
    elif expected == OK:
        assert response.status_code == (200 if method == "get" else 302), response.content.decode()[:2000]
        if method == "post":
            assert _snapshot() != before, "an allowed change changed nothing"
    else:
        assert response.status_code == expected
    if expected != OK or method == "get":
        assert _snapshot() == before


POST_ONLY = ["assign", "pass_on", "respond", "close", "takedown_open", "takedown_remove"]


@pytest.mark.django_db
@pytest.mark.parametrize("name", POST_ONLY)
def test_it_refuses_get_on_every_change(client, world, social_admin, name):
    client.force_login(social_admin)
    _, url, _ = _targets(world, social_admin)[name]
    before = _snapshot()
    assert client.get(url).status_code == 405
    assert client.put(url).status_code == 405
    assert _snapshot() == before


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["inbox", "dashboard", "takedowns", "for_me", "message"])
def test_it_refuses_post_on_every_page(client, world, social_admin, name):
    client.force_login(social_admin)
    _, url, _ = _targets(world, social_admin)[name]
    assert client.post(url, {}).status_code == 405


@pytest.mark.django_db
def test_it_gives_the_ceo_no_forms(client, world, ceo):
    client.force_login(ceo)
    page = client.get(reverse("social:message", args=[world.message.pk])).content.decode()
    assert "Lovely to see Ava Demo" in page
    assert "<form" not in page.split("<main", 1)[1]
    inbox = client.get(reverse("social:inbox")).content.decode()
    assert reverse("social:add_message") not in inbox
    assert ">Mine <" not in inbox
    takedowns = client.get(reverse("social:takedowns")).content.decode()
    assert "Record the removal" not in takedowns


@pytest.mark.django_db
def test_it_shows_the_nav_link_to_inbox_readers_only(client, world, social_admin, ceo, helper, coordinator):
    for user, shown in [(social_admin, True), (ceo, True), (helper, False), (coordinator, False)]:
        client.force_login(user)
        html = client.get("/").content.decode()
        assert ('href="/social/inbox/"' in html) is shown, user
        assert ('href="/social/inbox/for-you/"' in html) is (not shown), user


# --- the inbox list ------------------------------------------------------------------------------


@pytest.fixture
def tabs_world(social_admin, helper):
    """One message for each tab."""
    other_admin = factories.staff_user("social_admin", full_name="Ola Other")
    return {
        "waiting": make_message(received_at=NOW - DAY, text="waiting message"),
        "overdue": make_message(received_at=NOW - 9 * DAY, text="overdue message"),
        "mine": make_message(received_at=NOW - 2 * DAY, text="mine message", assignee=social_admin),
        "theirs": make_message(received_at=NOW - 3 * DAY, text="theirs message", assignee=other_admin),
        "passed": make_message(received_at=NOW - 4 * DAY, text="passed message", passed_to=helper, passed_at=NOW),
        "answered": make_message(
            received_at=NOW - 5 * DAY,
            text="answered message",
            status="answered",
            responded_at=NOW - DAY,
            response_text="Thanks",
            responded_by=social_admin,
        ),
        "closed": make_message(
            received_at=NOW - 6 * DAY,
            text="closed message",
            status="closed",
            closed_at=NOW - 2 * DAY,
            closed_reason="Spam",
            closed_by=social_admin,
        ),
    }


def _listed(response) -> list[str]:
    return [m.text for m in response.context["page"]]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("tab", "expected"),
    [
        ("open", ["overdue", "passed", "theirs", "mine", "waiting"]),
        ("overdue", ["overdue"]),
        ("mine", ["mine"]),
        ("passed", ["passed"]),
        ("done", ["answered", "closed"]),  # the most recently done first
    ],
)
def test_each_tab_lists_its_messages_in_order_of_time_left(client, social_admin, tabs_world, tab, expected):
    client.force_login(social_admin)
    response = client.get(reverse("social:inbox"), {"tab": tab})
    assert response.status_code == 200
    assert _listed(response) == [f"{name} message" for name in expected]
    counts = {key: count for key, _, count, _ in response.context["tabs"]}
    assert counts == {"open": 5, "overdue": 1, "mine": 1, "passed": 1, "done": 2}
    assert response.context["page"].paginator.count == len(expected)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("params", "listed"),
    [
        (
            {"tab": "open"},
            "More than 3 messages: these are the first 3, urgent first and then the least time left. "
            "Search to find others.",
        ),
        ({"tab": "done"}, "More than 3 messages: these are the first 3. Search to find others."),
        (
            {"tab": "open", "q": "old"},
            "More than 3 messages match “old”: these are the first 3, urgent first and then "
            "the least time left. Make the search narrower to find others.",
        ),
    ],
)
def test_a_tab_counts_and_pages_up_to_a_cap_and_then_says_so(client, social_admin, monkeypatch, params, listed):
    """Years of messages are not counted one by one on every visit to the inbox."""
    from social.inbox import selectors

    monkeypatch.setattr(selectors, "TAB_CAP", 3)
    for n in range(4):
        make_message(received_at=NOW - timedelta(days=n + 1), text=f"old {n}", status="answered", responded_at=NOW)
        make_message(received_at=NOW - timedelta(hours=n + 1), text=f"old question {n}")
    client.force_login(social_admin)
    response = client.get(reverse("social:inbox"), params)
    tabs = {key: (count, capped) for key, _, count, capped in response.context["tabs"]}
    assert tabs["open"] == (3, True) and tabs["done"] == (3, True) and tabs["overdue"] == (0, False)
    html = response.content.decode()
    assert re.search(r"Done\s*<span class=\"tab-count\">3\+</span>", html)
    assert listed in " ".join(html.split())
    page = response.context["page"]
    assert len(page) == 3 and page.paginator.num_pages == 1


@pytest.mark.django_db
def test_an_unknown_tab_shows_the_open_one(client, social_admin, tabs_world):
    client.force_login(social_admin)
    response = client.get(reverse("social:inbox"), {"tab": "everything"})
    assert response.context["tab"] == "open"


@pytest.mark.django_db
def test_urgent_messages_come_first_within_a_tab_with_a_clear_badge(client, social_admin):
    soon = make_message(received_at=NOW - 6 * DAY, text="due soon, not urgent")
    urgent = make_message(received_at=NOW - DAY, text="names a child", families=(FamilyFactory(),))
    client.force_login(social_admin)
    response = client.get(reverse("social:inbox"))
    assert list(response.context["page"]) == [urgent, soon]
    html = response.content.decode()
    assert html.count("May identify a family") == 1
    assert 'class="row-urgent"' in html


@pytest.mark.django_db
def test_the_time_left_badge_says_it_in_words_with_a_colour(client, social_admin):
    # Deadlines set directly, so a clock change within the week cannot move them by an hour.
    make_message(due_at=NOW + timedelta(hours=5, minutes=30), text="five hours")
    make_message(due_at=NOW - timedelta(days=3, hours=1), text="three days late")
    make_message(due_at=NOW + timedelta(days=1, hours=12), text="a day and a half")
    make_message(due_at=NOW + timedelta(days=6, hours=23), text="a week")
    client.force_login(social_admin)
    html = client.get(reverse("social:inbox")).content.decode()
    assert '<span class="badge badge-danger">3 days overdue</span>' in html
    assert '<span class="badge badge-warning">Due in 5 hours</span>' in html
    assert '<span class="badge badge-warning">1 day left</span>' in html
    assert '<span class="badge badge-time">6 days left</span>' in html


@pytest.mark.parametrize(
    ("delta", "text", "tone"),
    [
        (timedelta(days=6, hours=23), "6 days left", "ok"),
        (timedelta(days=3), "3 days left", "ok"),
        (timedelta(days=2), "2 days left", "soon"),
        (timedelta(days=1, hours=2), "1 day left", "soon"),
        (timedelta(hours=23, minutes=59), "Due in 23 hours", "soon"),
        (timedelta(hours=1), "Due in 1 hour", "soon"),
        (timedelta(minutes=12), "Due in 12 minutes", "soon"),
        (timedelta(seconds=20), "Due in 1 minute", "soon"),
        (timedelta(0), "1 minute overdue", "overdue"),
        (-timedelta(minutes=40), "40 minutes overdue", "overdue"),
        (-timedelta(hours=5, minutes=59), "5 hours overdue", "overdue"),
        (-timedelta(days=1), "1 day overdue", "overdue"),
        (-timedelta(days=3, hours=20), "3 days overdue", "overdue"),
    ],
)
def test_time_left_in_plain_words(delta, text, tone):
    left = time_left(NOW + delta, NOW, soon=timedelta(days=2))
    assert (left.text, left.tone) == (text, tone)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "—"),
        (timedelta(0), "0 minutes"),
        (timedelta(minutes=1), "1 minute"),
        (timedelta(hours=5, minutes=10), "5 hours 10 minutes"),
        (timedelta(hours=3), "3 hours"),
        (timedelta(days=2, hours=4, minutes=20), "2 days 4 hours"),
        (timedelta(days=1), "1 day"),
    ],
)
def test_durations_in_plain_words(value, text):
    assert duration(value) == text


@pytest.mark.django_db
def test_it_searches_the_text_and_the_sender(client, social_admin):
    make_message(text="When is the summer picnic?", sender_name="Pat")
    make_message(text="Thank you", sender_name="Picnic Lover")
    make_message(text="Unrelated", sender_name="Sam", sender_id="98765")
    client.force_login(social_admin)
    found = client.get(reverse("social:inbox"), {"q": "picnic"})
    assert sorted(_listed(found)) == ["Thank you", "When is the summer picnic?"]
    assert "2 messages match" in found.content.decode()
    assert _listed(client.get(reverse("social:inbox"), {"q": "98765"})) == ["Unrelated"]
    assert _listed(client.get(reverse("social:inbox"), {"q": "nothing like it"})) == []


@pytest.mark.django_db
def test_it_pages_through_keeping_the_tab_and_the_search(client, social_admin):
    for n in range(30):
        make_message(received_at=NOW - timedelta(hours=n + 1), text=f"question {n}")
    client.force_login(social_admin)
    first = client.get(reverse("social:inbox"), {"tab": "open", "q": "question"})
    assert len(first.context["page"]) == 25
    assert 'href="?tab=open&amp;q=question&amp;page=2"' in first.content.decode()
    second = client.get(reverse("social:inbox"), {"tab": "open", "q": "question", "page": 2})
    assert len(second.context["page"]) == 5
    assert second.context["page"].number == 2


def _bulk_messages(count: int, *, assignee: User, helper: User) -> None:
    rows = []
    for n in range(count):
        received_at = NOW - timedelta(minutes=7 * n)
        rows.append(
            Conversation(
                platform=Platform.FACEBOOK,
                kind=Conversation.Kind.COMMENT,
                sender_name=f"Sender {n}",
                text=f"Bulk message {n}",
                received_at=received_at,
                due_at=policy_due_at(received_at),
                urgent=n % 7 == 0,
                assignee=assignee if n % 2 else None,
                passed_to=helper if n % 3 == 0 else None,
                status="answered" if n % 5 == 0 else "open",
                responded_at=NOW if n % 5 == 0 else None,
            )
        )
    Conversation.objects.bulk_create(rows, batch_size=2000)


@pytest.mark.django_db
@pytest.mark.parametrize("count", [10, 10_000])
@pytest.mark.parametrize(
    ("params", "page_count"),
    [
        ({}, 0),  # a tab's page count is its tab count
        ({"tab": "done"}, 0),
        ({"tab": "mine", "q": "bulk"}, 1),  # a search counts what it found
    ],
)
def test_the_inbox_needs_the_same_number_of_queries_for_10_and_10000_messages(
    client, social_admin, helper, django_assert_num_queries, count, params, page_count
):
    _bulk_messages(count, assignee=social_admin, helper=helper)
    Takedown.objects.create(message=Conversation.objects.first(), reason="x", due_at=NOW + DAY)
    client.force_login(social_admin)
    client.get(reverse("social:inbox"))  # the first request creates the usersession row
    # + the five tab counts (each stops at TAB_CAP); the page of messages with their assignee and
    #   passed_to (joined) and whether a takedown is open (a subquery); a search's count.
    with django_assert_num_queries(STAFF_REQUEST_QUERIES + 6 + page_count):
        response = client.get(reverse("social:inbox"), params)
    assert response.status_code == 200
    assert len(response.context["page"]) == min(25, response.context["page"].paginator.count)
    assert response.context["page"].paginator.count > 0


# --- the message page -------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_message_page_shows_times_in_london(client, social_admin):
    # 09:30 UTC on 1 July is 10:30 in London (BST); due a week later at the same London time.
    message = make_message(received_at=datetime(2025, 7, 1, 9, 30, tzinfo=UTC), text="Summer question")
    client.force_login(social_admin)
    html = client.get(reverse("social:message", args=[message.pk])).content.decode()
    assert "Tuesday 1 July 2025, 10:30" in html
    assert "Tuesday 8 July 2025, 10:30" in html
    assert "Summer question" in html


@pytest.mark.django_db
def test_the_deadline_keeps_the_london_time_of_day_across_the_october_change(client, social_admin):
    # 10:00 BST on Monday 20 October 2025; the clocks go back on the 26th: due 10:00 GMT on the 27th.
    message = make_message(received_at=datetime(2025, 10, 20, 9, 0, tzinfo=UTC))
    client.force_login(social_admin)
    html = client.get(reverse("social:message", args=[message.pk])).content.decode()
    assert "Monday 20 October 2025, 10:00" in html
    assert "Monday 27 October 2025, 10:00" in html


@pytest.mark.django_db
def test_it_assigns_a_message_to_me_and_records_it(client, social_admin):
    message = make_message()
    client.force_login(social_admin)
    response = client.post(reverse("social:assign", args=[message.pk]), {"to_me": "1"})
    assert response.status_code == 302
    assert response["Location"] == reverse("social:message", args=[message.pk])
    assert _messages(response) == ["The message is assigned to you."]
    message.refresh_from_db()
    assert message.assignee == social_admin
    event = AuditEvent.objects.get(action="inbox.assigned")
    assert (event.actor, event.target_id) == (social_admin, str(message.pk))
    page = client.get(reverse("social:message", args=[message.pk])).content.decode()
    assert "Assigned to Sol Admin" in page  # the history
    assert "It is assigned to you." in page


@pytest.mark.django_db
def test_it_assigns_to_another_administrator_who_is_emailed(client, social_admin, django_capture_on_commit_callbacks):
    colleague = factories.staff_user("social_admin", email="col@example.org", full_name="Col League")
    message = make_message()
    client.force_login(social_admin)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("social:assign", args=[message.pk]), {"assignee": colleague.pk})
    assert response.status_code == 302
    message.refresh_from_db()
    assert message.assignee == colleague
    assert [m.to for m in mail.outbox] == [["col@example.org"]]


@pytest.mark.django_db
def test_it_only_assigns_to_social_administrators(client, social_admin, helper):
    message = make_message()
    client.force_login(social_admin)
    response = client.post(reverse("social:assign", args=[message.pk]), {"assignee": helper.pk})
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    message.refresh_from_db()
    assert message.assignee is None


@pytest.mark.django_db
def test_it_passes_a_message_on_with_a_note_and_emails_them(
    client, social_admin, helper, django_capture_on_commit_callbacks
):
    message = make_message()
    client.force_login(social_admin)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("social:pass_on", args=[message.pk]),
            {"to": helper.pk, "note": "You ran this group: can you answer?"},
        )
    assert response.status_code == 302
    message.refresh_from_db()
    assert (message.passed_to, message.passed_note) == (helper, "You ran this group: can you answer?")
    assert message.status == "open" and message.due_at == policy_due_at(message.received_at)
    assert [m.to for m in mail.outbox] == [["hal@example.org"]]
    assert "You ran this group" in mail.outbox[0].body
    page = client.get(reverse("social:message", args=[message.pk])).content.decode()
    assert "Passed on to Hal Helper" in page


@pytest.mark.django_db
def test_passing_on_without_a_note_changes_nothing(client, social_admin, helper):
    message = make_message()
    client.force_login(social_admin)
    before = _snapshot()
    response = client.post(reverse("social:pass_on", args=[message.pk]), {"to": helper.pk, "note": "  "})
    assert response.status_code == 400
    html = response.content.decode()
    assert "Add a note saying what you need from them." in html
    assert "There is a problem" in html
    assert _snapshot() == before


@pytest.mark.django_db
def test_the_member_of_staff_sees_only_what_was_passed_to_them_and_records_the_response(client, helper):
    mine = make_message(text="Passed to Hal", passed_to=helper, passed_note="Please reply", passed_at=NOW)
    not_mine = make_message(text="Not for Hal")
    client.force_login(helper)

    listed = client.get(reverse("social:for_me"))
    assert [m.text for m in listed.context["page"]] == ["Passed to Hal"]
    assert client.get(reverse("social:message", args=[not_mine.pk])).status_code == 404
    page = client.get(reverse("social:message", args=[mine.pk])).content.decode()
    assert "Record the response" in page and "Pass it on" not in page and "Assign to me" not in page

    response = client.post(
        reverse("social:respond", args=[mine.pk]),
        {"text": "The next group is on Tuesday.", "link": "facebook.com/fig/posts/1"},
    )
    assert response.status_code == 302
    mine.refresh_from_db()
    assert mine.status == "answered"
    assert (mine.response_text, mine.response_link) == (
        "The next group is on Tuesday.",
        "https://facebook.com/fig/posts/1",
    )
    assert mine.responded_by == helper and mine.responded_at is not None
    [reply] = mine.messages.filter(from_fig=True)  # the reply made elsewhere, kept in the conversation
    assert (reply.event, reply.text, reply.by) == (Message.Event.RECORDED, "The next group is on Tuesday.", helper)
    page = client.get(reverse("social:message", args=[mine.pk])).content.decode()
    assert "Answered on time" in page and "Response recorded" in page
    assert client.post(reverse("social:respond", args=[not_mine.pk]), {"text": "x"}).status_code == 404


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"text": "", "link": ""}, "Write what FiG replied."),
        ({"text": "Thanks", "link": "not a link at all"}, "Enter a full web address"),
    ],
)
def test_a_bad_response_changes_nothing(client, social_admin, data, error):
    message = make_message()
    client.force_login(social_admin)
    before = _snapshot()
    response = client.post(reverse("social:respond", args=[message.pk]), data)
    assert response.status_code == 400
    assert error in response.content.decode()
    assert _snapshot() == before


@pytest.mark.django_db
def test_a_double_submitted_response_is_recorded_once(client, social_admin):
    message = make_message()
    client.force_login(social_admin)
    assert client.post(reverse("social:respond", args=[message.pk]), {"text": "First"}).status_code == 302
    before = _snapshot()
    again = client.post(reverse("social:respond", args=[message.pk]), {"text": "Second"})
    assert again.status_code == 400
    assert "This message is already done." in again.content.decode()
    assert _snapshot() == before
    message.refresh_from_db()
    assert message.response_text == "First"


@pytest.mark.django_db
def test_it_closes_a_message_that_needs_no_reply_with_a_reason(client, social_admin):
    message = make_message()
    client.force_login(social_admin)
    response = client.post(reverse("social:close", args=[message.pk]), {"reason": "Spam from a bot"})
    assert response.status_code == 302
    message.refresh_from_db()
    assert (message.status, message.closed_reason, message.closed_by) == ("closed", "Spam from a bot", social_admin)
    page = client.get(reverse("social:message", args=[message.pk])).content.decode()
    assert "Closed as needing no reply" in page and "Spam from a bot" in page
    assert "Record the response" not in page

    other = make_message()
    before = _snapshot()
    refused = client.post(reverse("social:close", args=[other.pk]), {"reason": ""})
    assert refused.status_code == 400
    assert "Say why this message needs no reply." in refused.content.decode()
    assert _snapshot() == before


# --- a message received another way -------------------------------------------------------------


def _add(client, **overrides):
    data = {
        "platform": "phone",
        "kind": "message",
        "sender_name": "A grandparent",
        "text": "Rang about the summer trip",
        "received_at": "2025-10-20T09:15",
    }
    return client.post(reverse("social:add_message"), {**data, **overrides})


@pytest.mark.django_db
def test_it_adds_a_message_received_by_phone_in_london_time(client, social_admin):
    client.force_login(social_admin)
    response = _add(client)
    message = Conversation.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("social:message", args=[message.pk])
    # 09:15 on 20 October 2025 in London is 08:15 UTC (BST); due 09:15 GMT on the 27th, after the change.
    assert message.received_at == datetime(2025, 10, 20, 8, 15, tzinfo=UTC)
    assert message.due_at == datetime(2025, 10, 27, 9, 15, tzinfo=UTC)
    assert (message.platform, message.kind, message.added_by) == ("phone", "message", social_admin)
    assert AuditEvent.objects.filter(action="inbox.added", target_id=str(message.pk)).exists()
    assert _messages(response) == ["Added. A reply is due by Monday 27 October 2025 at 09:15."]


@pytest.mark.django_db
def test_the_add_form_offers_only_the_other_ways_and_now_as_the_time(client, social_admin):
    client.force_login(social_admin)
    response = client.get(reverse("social:add_message"))
    choices = [value for value, _ in response.context["form"].fields["platform"].choices]
    assert choices == ["x", "email", "phone", "other"]
    assert 'type="datetime-local"' in response.content.decode()
    refused = _add(client, platform="facebook")
    assert refused.status_code == 400
    assert not Conversation.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("received_at", "error"),
    [
        ((timezone.localtime(NOW) + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"), "cannot be in the future"),
        ("2025-03-30T01:30", "couldn’t be interpreted in time zone Europe/London"),  # the hour the clocks skip
        ("yesterday", "Enter the date and time it was received."),
        ("", "Say when the message was received."),
    ],
)
def test_a_bad_time_received_changes_nothing(client, social_admin, received_at, error):
    client.force_login(social_admin)
    response = _add(client, received_at=received_at)
    assert response.status_code == 400
    assert error in response.content.decode()
    assert not Conversation.objects.exists()


# --- takedowns ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_opens_a_takedown_once_from_a_message(client, social_admin, settings):
    settings.FIG_TAKEDOWN_HOURS = 24
    message = make_message(families=(FamilyFactory(),))
    client.force_login(social_admin)
    response = client.post(reverse("social:takedown_open", args=[message.pk]), {"reason": "Names Ava"})
    assert response.status_code == 302
    takedown = Takedown.objects.get()
    assert (takedown.message, takedown.reason, takedown.opened_by) == (message, "Names Ava", social_admin)
    assert timedelta(hours=23, minutes=59) < takedown.due_at - timezone.now() <= timedelta(hours=24)
    page = client.get(reverse("social:message", args=[message.pk])).content.decode()
    assert "Takedown open" in page and "Open a takedown" not in page
    again = client.post(reverse("social:takedown_open", args=[message.pk]), {"reason": "again"})
    assert again.status_code == 400
    assert "A takedown is already open for this message." in again.content.decode()
    assert Takedown.objects.count() == 1


@pytest.mark.django_db
def test_the_familys_coordinator_sees_the_flagged_comment_and_can_open_a_takedown(client, world, coordinator):
    client.force_login(coordinator)
    listed = client.get(reverse("social:for_me"))
    assert list(listed.context["page"]) == [world.message]
    page = client.get(reverse("social:message", args=[world.message.pk])).content.decode()
    assert "May identify a family" in page and world.family.reference in page
    assert "Open a takedown" in page and "Record the response" not in page
    response = client.post(reverse("social:takedown_open", args=[world.message.pk]), {"reason": "Mum asked"})
    assert response.status_code == 302
    assert Takedown.objects.filter(message=world.message, opened_by=coordinator).exists()


@pytest.mark.django_db
def test_a_coordinator_does_not_see_unflagged_messages(client, coordinator):
    family = FamilyFactory()
    assign(coordinator, family)
    plain = make_message()
    client.force_login(coordinator)
    assert client.get(reverse("social:message", args=[plain.pk])).status_code == 404
    assert list(client.get(reverse("social:for_me")).context["page"]) == []


@pytest.mark.django_db
def test_it_records_a_removal_by_hand_and_lists_how_long_it_took(client, social_admin):
    message = make_message()
    takedown = open_takedown(message, social_admin)
    Takedown.objects.filter(pk=takedown.pk).update(opened_at=timezone.now() - timedelta(hours=3, minutes=5))
    client.force_login(social_admin)
    page = client.get(reverse("social:takedowns")).content.decode()
    assert "Names a child" in page and "Record the removal" in page
    assert "Hide it now" not in page  # the Graph API is not configured
    response = client.post(
        reverse("social:takedown_remove", args=[takedown.pk]), {"how": "by_hand", "notes": "Deleted from the Page"}
    )
    assert response.status_code == 302
    takedown.refresh_from_db()
    assert (takedown.status, takedown.how, takedown.removed_by) == ("removed", "by_hand", social_admin)
    page = client.get(reverse("social:takedowns")).content.decode()
    assert "No takedowns are open." in page
    assert "3 hours 5 minutes" in page and "In time" in page
    history = client.get(reverse("social:message", args=[message.pk])).content.decode()
    assert "Removed: Removed by hand on the platform" in history


@pytest.mark.django_db
def test_hide_through_the_graph_api_when_configured(client, social_admin, settings, django_capture_on_commit_callbacks):
    """The request commits first; the call is made after commit (a task), then the takedown is removed."""
    settings.FIG_META_PAGE_TOKEN = "page-token"
    message = make_message(platform_id="123_456")
    takedown = open_takedown(message, social_admin)
    client.force_login(social_admin)
    assert "Hide it now through Meta" in client.get(reverse("social:takedowns")).content.decode()
    with (
        mock.patch.object(graph, "call", return_value={"success": True}) as call,
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = client.post(reverse("social:takedown_remove", args=[takedown.pk]), {"how": "hidden"})
        call.assert_not_called()  # not while the request's transaction is open
        waiting = client.get(reverse("social:takedowns")).content.decode()
    assert response.status_code == 302
    assert "FiG Safety is asking Meta to remove it." in waiting  # the flash, on the page it went back to
    assert "Being hidden through the Graph API" in waiting and "Record the removal" not in waiting
    call.assert_called_once()
    assert call.call_args.args[0] == "POST" and "123_456" in call.call_args.args[1]
    takedown.refresh_from_db()
    assert (takedown.status, takedown.how, takedown.removed_by) == ("removed", "hidden", social_admin)


@pytest.mark.django_db
def test_a_graph_api_error_is_shown_and_nothing_is_marked_removed(
    client, social_admin, settings, django_capture_on_commit_callbacks
):
    settings.FIG_META_PAGE_TOKEN = "page-token"
    message = make_message(platform_id="123_456")
    takedown = open_takedown(message, social_admin)
    client.force_login(social_admin)
    with (
        mock.patch.object(graph, "call", side_effect=graph.GraphError(graph.REFUSED, status=400)),
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = client.post(reverse("social:takedown_remove", args=[takedown.pk]), {"how": "deleted"})
    assert response.status_code == 302
    html = client.get(reverse("social:takedowns")).content.decode()
    assert (
        "The last attempt through the Graph API failed: The Graph API refused (400). Nothing was marked as removed"
        in html
    )
    assert "Record the removal" in html  # it can be tried again, or recorded by hand
    takedown.refresh_from_db()
    assert (takedown.status, takedown.how, takedown.removed_at) == ("open", "", None)


@pytest.mark.django_db
def test_without_the_graph_api_hide_is_refused(client, social_admin):
    message = make_message(platform_id="123_456")
    takedown = open_takedown(message, social_admin)
    client.force_login(social_admin)
    before = _snapshot()
    response = client.post(reverse("social:takedown_remove", args=[takedown.pk]), {"how": "hidden"})
    assert response.status_code == 400
    assert _snapshot() == before
    missing = client.post(reverse("social:takedown_remove", args=[takedown.pk]), {})
    assert missing.status_code == 400
    assert "Choose how it was removed." in missing.content.decode()
    assert _snapshot() == before


@pytest.mark.django_db
def test_an_unknown_takedown_is_404(client, social_admin):
    client.force_login(social_admin)
    assert client.post(reverse("social:takedown_remove", args=[999999]), {"how": "by_hand"}).status_code == 404
