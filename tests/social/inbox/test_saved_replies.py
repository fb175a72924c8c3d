"""Saved replies: a social media administrator adds, changes and retires them, each change audited; the CEO
reads the list; everyone else is refused and nothing changes. The services refuse what the page would.

Personas: a social media administrator, the CEO, a member of staff, a coordinator, a parent and anonymous people.
"""

from __future__ import annotations

import html

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from social.inbox.saved_replies import (
    SavedReplyError,
    active_saved_replies,
    saved_reply_add,
    saved_reply_change,
    saved_reply_retire,
)
from social.models import SavedReply
from staff.models import AuditEvent, User
from tests import factories

pytestmark = pytest.mark.django_db

LIST = reverse("social:saved_replies")
ADD = reverse("social:saved_reply_add")
WELCOME = {"title": "Welcome", "text": "Hello {first_name}, thank you for getting in touch."}


@pytest.fixture
def social_admin(db) -> User:
    return factories.staff_user("social_admin", email="sol@example.org", full_name="Sol Admin")


@pytest.fixture
def saved(social_admin) -> SavedReply:
    return saved_reply_add(title="Opening times", text="We are open 9 to 5, {first_name}.", by=social_admin)


def _messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def snapshot() -> dict:
    return {
        "saved": list(SavedReply.objects.order_by("pk").values_list("title", "text", "is_active")),
        "audit": AuditEvent.objects.filter(action__startswith="saved_reply.").count(),
    }


def _persona(name: str, request) -> User | None:
    return None if name == "anonymous" else request.getfixturevalue(name)


def _targets(saved: SavedReply) -> dict[str, tuple[str, str, dict]]:
    return {
        "list": ("get", LIST, {}),
        "add": ("post", ADD, WELCOME),
        "edit_form": ("get", reverse("social:saved_reply_edit", args=[saved.pk]), {}),
        "edit": ("post", reverse("social:saved_reply_edit", args=[saved.pk]), {"title": "Hours", "text": "9 to 5"}),
        "retire": ("post", reverse("social:saved_reply_retire", args=[saved.pk]), {}),
    }


MATRIX: dict[str, dict[str, object]] = {
    "social_admin": {"default": "ok"},
    "ceo": {"default": 403, "list": "ok"},
    "member_of_staff": {"default": 403},
    "coordinator": {"default": 403},
    "parent": {"default": 403},
    "anonymous": {"default": "login"},
}


@pytest.mark.parametrize("persona", list(MATRIX))
@pytest.mark.parametrize("name", ["list", "add", "edit_form", "edit", "retire"])
def test_the_access_matrix(client, request, saved, persona, name):
    user = _persona(persona, request)
    if user is not None:
        client.force_login(user)
    method, url, body = _targets(saved)[name]
    expected = MATRIX[persona].get(name, MATRIX[persona]["default"])
    before = snapshot()

    response = getattr(client, method)(url, body)

    if expected == "login":
        assert response.status_code == 302 and response["Location"].startswith(reverse("account_login"))
    elif expected == "ok":
        assert response.status_code == (200 if method == "get" else 302)
        assert (snapshot() != before) is (method == "post"), "an allowed change changed nothing, or a page did"
    else:
        assert response.status_code == expected
    if expected != "ok":
        assert snapshot() == before


def test_an_unknown_saved_reply_is_404(client, social_admin):
    client.force_login(social_admin)
    assert client.get(reverse("social:saved_reply_edit", args=[999999])).status_code == 404
    assert client.post(reverse("social:saved_reply_retire", args=[999999])).status_code == 404


def test_it_refuses_get_on_add_and_retire(client, social_admin, saved):
    client.force_login(social_admin)
    before = snapshot()
    assert client.get(ADD).status_code == 405
    assert client.get(reverse("social:saved_reply_retire", args=[saved.pk])).status_code == 405
    assert snapshot() == before


def test_an_administrator_adds_one_audited_and_it_is_offered_in_the_reply_box(client, social_admin):
    client.force_login(social_admin)

    response = client.post(ADD, WELCOME)

    assert response.status_code == 302 and response["Location"] == LIST
    assert _messages(response) == ["“Welcome” is added. Staff can insert it in a reply from now on."]
    added = SavedReply.objects.get()
    assert (added.title, added.text, added.is_active, added.created_by) == (
        "Welcome",
        WELCOME["text"],
        True,
        social_admin,
    )
    [event] = AuditEvent.objects.filter(action="saved_reply.added")
    assert (event.actor, event.target_type, event.target_id) == (social_admin, "social.savedreply", str(added.pk))
    assert event.details == WELCOME
    assert list(active_saved_replies()) == [added]
    page = html.unescape(client.get(LIST).content.decode())
    assert "Hello {first_name}, thank you for getting in touch." in page
    assert "“Hello {first_name},” becomes “Hello Sam,” or “Hello there,”" in page


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"title": "", "text": "Hi"}, "Give the saved reply a title."),
        ({"title": "Hi", "text": "  "}, "Write the reply."),
        ({"title": "Hi", "text": "x" * 2001}, "Meta takes replies of up to 2,000 characters: make it shorter."),
        ({"title": "Hi", "text": "Dear {name}"}, "Only {first_name} is filled in for you: take out {name}."),
        ({"title": "opening TIMES", "text": "Other words"}, "There is already a saved reply called “opening TIMES”."),
    ],
)
def test_a_bad_saved_reply_changes_nothing(client, social_admin, saved, data, error):
    client.force_login(social_admin)
    before = snapshot()
    response = client.post(ADD, data)
    assert response.status_code == 400
    page = html.unescape(response.content.decode())
    assert error in page and "There is a problem" in page
    assert snapshot() == before


def test_an_administrator_changes_one_and_the_audit_keeps_the_words_before(client, social_admin, saved):
    client.force_login(social_admin)
    url = reverse("social:saved_reply_edit", args=[saved.pk])
    form = client.get(url)
    assert form.status_code == 200 and "We are open 9 to 5, {first_name}." in html.unescape(form.content.decode())

    response = client.post(url, {"title": "Opening hours", "text": "Open 10 to 4, {first_name}."})

    assert response.status_code == 302 and response["Location"] == LIST
    saved.refresh_from_db()
    assert (saved.title, saved.text) == ("Opening hours", "Open 10 to 4, {first_name}.")
    assert saved.updated_at > saved.created_at
    assert AuditEvent.objects.get(action="saved_reply.changed").details == {
        "title": "Opening hours",
        "text": "Open 10 to 4, {first_name}.",
        "title_before": "Opening times",
        "text_before": "We are open 9 to 5, {first_name}.",
    }
    # Saving it unchanged records nothing more.
    assert client.post(url, {"title": "Opening hours", "text": "Open 10 to 4, {first_name}."}).status_code == 302
    assert AuditEvent.objects.filter(action="saved_reply.changed").count() == 1


def test_a_change_to_another_ones_title_is_refused(client, social_admin, saved):
    other = saved_reply_add(title="Thanks", text="Thank you!", by=social_admin)
    client.force_login(social_admin)
    before = snapshot()
    response = client.post(reverse("social:saved_reply_edit", args=[other.pk]), {"title": "OPENING times", "text": "x"})
    assert response.status_code == 400
    assert "There is already a saved reply called “OPENING times”." in html.unescape(response.content.decode())
    assert snapshot() == before


def test_an_administrator_retires_one_audited_once_and_it_is_no_longer_offered(client, social_admin, saved):
    client.force_login(social_admin)
    url = reverse("social:saved_reply_retire", args=[saved.pk])

    response = client.post(url)

    assert response.status_code == 302
    assert _messages(response) == ["“Opening times” is retired. It is no longer offered in the reply box."]
    saved.refresh_from_db()
    assert not saved.is_active
    assert list(active_saved_replies()) == []
    assert AuditEvent.objects.get(action="saved_reply.retired").details == {"title": "Opening times"}
    client.post(url)
    assert AuditEvent.objects.filter(action="saved_reply.retired").count() == 1
    page = client.get(LIST).content.decode()
    assert "Retired</span>" in page
    # A retired one cannot be changed, and its title is free for a new one.
    edit = client.get(reverse("social:saved_reply_edit", args=[saved.pk]))
    assert edit.status_code == 302 and edit["Location"] == LIST
    assert client.post(ADD, {"title": "Opening times", "text": "New words"}).status_code == 302


def test_the_ceo_reads_the_list_with_no_forms_and_the_nav_links_to_it(client, ceo, saved):
    client.force_login(ceo)
    page = client.get(LIST).content.decode()
    assert "Opening times" in page and "Social media administrators keep these replies." in page
    assert "<form" not in page.split("<main", 1)[1]
    inbox = client.get(reverse("social:inbox")).content.decode()
    assert f'<a href="{LIST}">Saved replies</a>' in inbox


def test_the_services_refuse_anyone_but_an_administrator(ceo, social_admin, saved):
    before = snapshot()
    for change in (
        lambda: saved_reply_add(title="New", text="Words", by=ceo),
        lambda: saved_reply_change(saved=saved, title="New", text="Words", by=ceo),
        lambda: saved_reply_retire(saved=saved, by=ceo),
    ):
        with pytest.raises(SavedReplyError, match="Only a social media administrator"):
            change()
    assert snapshot() == before
