"""The religious and political term lists page: social media administrators add terms and switch them
off and on again, each change audited; the CEO reads the lists; nobody else reaches them. A term added
on the page is found by the policy check on a post.

Personas: a social media administrator, the CEO, a member of staff, a coordinator, a photographer,
a parent and anonymous people.
"""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.messages import get_messages
from django.core import mail
from django.urls import reverse

from social.models import PolicyTerm
from social.posts.terms import TermError, policy_term_add
from staff.models import AuditEvent, User
from tests import factories
from tests.query_counts import STAFF_REQUEST_QUERIES

pytestmark = pytest.mark.django_db

LIST = reverse("social:policy_terms")
ADD = reverse("social:policy_term_add")


def _off(term: PolicyTerm) -> str:
    return reverse("social:policy_term_off", args=[term.pk])


def _on(term: PolicyTerm) -> str:
    return reverse("social:policy_term_on", args=[term.pk])


@pytest.fixture
def social_admin(db) -> User:
    return factories.staff_user("social_admin", email="sol@example.org", full_name="Sol Admin")


@pytest.fixture
def photographer(db) -> User:
    return factories.staff_user("photographer", email="photographer@example.org")


@pytest.fixture
def pray(db) -> PolicyTerm:
    return PolicyTerm.objects.get(category="religious", term="pray")


def snapshot() -> dict:
    """Everything the term pages could change."""
    return {
        "terms": list(PolicyTerm.objects.order_by("pk").values_list("category", "term", "is_active")),
        "audit": AuditEvent.objects.count(),
        "mail": len(mail.outbox),
    }


def _messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def _live_check(client, text: str) -> dict[str, list[str]]:
    """What the draft page's live check finds in `text`, as the author sees it."""
    response = client.post(reverse("social:live_check"), {"text": text})
    assert response.status_code == 200
    return {f["check"]: f["matches"] for f in response.json()["findings"]}


def _targets(term: PolicyTerm) -> dict[str, tuple[str, str, dict]]:
    """Every term URL: (method, url, a body that would change something if allowed)."""
    return {
        "list": ("get", LIST, {}),
        "add": ("post", ADD, {"category": "political", "term": "council tax"}),
        "off": ("post", _off(term), {}),
        "on": ("post", _on(term), {}),
    }


# --- who may reach what ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["list", "add", "off", "on"])
def test_it_sends_anonymous_people_to_sign_in(client, pray, name):
    PolicyTerm.objects.filter(pk=pray.pk).update(is_active=name != "on")
    method, url, body = _targets(pray)[name]
    before = snapshot()
    response = getattr(client, method)(url, body)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login") + "?next=")
    assert snapshot() == before


@pytest.mark.parametrize("persona", ["member_of_staff", "coordinator", "photographer", "parent", "stranger"])
@pytest.mark.parametrize("name", ["list", "add", "off", "on"])
def test_it_refuses_everyone_but_the_administrators_and_the_ceo(client, request, pray, persona, name):
    PolicyTerm.objects.filter(pk=pray.pk).update(is_active=name != "on")
    client.force_login(request.getfixturevalue(persona))
    method, url, body = _targets(pray)[name]
    before = snapshot()
    response = getattr(client, method)(url, body)
    assert response.status_code == 403
    assert "pray" not in response.content.decode()
    assert snapshot() == before


@pytest.mark.parametrize("name", ["add", "off", "on"])
def test_the_ceo_reads_the_lists_but_changes_nothing(client, ceo, pray, name):
    PolicyTerm.objects.filter(pk=pray.pk).update(is_active=name != "on")
    client.force_login(ceo)
    page = client.get(LIST)
    assert page.status_code == 200
    html = page.content.decode()
    assert ">pray<" in html and ">Prime Minister<" in html
    assert "<form" not in html.split("<main", 1)[1] and "Add a term" not in html
    method, url, body = _targets(pray)[name]
    before = snapshot()
    assert getattr(client, method)(url, body).status_code == 403
    assert snapshot() == before


@pytest.mark.parametrize(("name", "method"), [("list", "post"), ("add", "get"), ("off", "get"), ("on", "get")])
def test_it_refuses_the_wrong_http_method(client, social_admin, pray, name, method):
    client.force_login(social_admin)
    _, url, body = _targets(pray)[name]
    before = snapshot()
    assert getattr(client, method)(url, body).status_code == 405
    assert client.put(url).status_code == 405
    assert snapshot() == before


def test_an_unknown_term_is_404(client, social_admin):
    client.force_login(social_admin)
    assert client.post(reverse("social:policy_term_off", args=[999999])).status_code == 404


def test_the_lists_are_linked_from_the_home_page_and_the_posts_pages(client, social_admin, ceo, member_of_staff):
    for user, shown in [(social_admin, True), (ceo, True), (member_of_staff, False)]:
        client.force_login(user)
        assert (f'href="{LIST}"' in client.get("/").content.decode()) is shown, user
    client.force_login(social_admin)
    assert f'href="{LIST}"' in client.get(reverse("social:review_queue")).content.decode()


# --- the lists --------------------------------------------------------------------------------------------


def test_it_lists_each_category_a_to_z_with_what_is_switched_off(client, social_admin, pray):
    PolicyTerm.objects.filter(pk=pray.pk).update(is_active=False)
    client.force_login(social_admin)
    response = client.get(LIST)
    lists = {category: [(t.term, t.is_active) for t in terms] for category, _, terms, _ in response.context["lists"]}
    assert set(lists) == {"religious", "political"}
    assert ("pray", False) in lists["religious"] and ("Prime Minister", True) in lists["political"]
    assert [t for t, _ in lists["religious"]] == sorted((t for t, _ in lists["religious"]), key=str.casefold)
    html = response.content.decode()
    assert 'id="religious-terms"' in html and 'id="political-terms"' in html
    assert _on(pray) in html and _off(pray) not in html  # offered back on, not off again
    assert "Switched off" in html


@pytest.mark.parametrize("count", [10, 1000])
def test_it_lists_the_terms_in_a_fixed_number_of_queries(client, social_admin, count, django_assert_num_queries):
    PolicyTerm.objects.bulk_create(
        [PolicyTerm(category="political", term=f"made up term {i}", is_active=i % 2 == 0) for i in range(count)]
    )
    client.force_login(social_admin)
    client.get(LIST)  # the first request creates the usersession row
    # The signed-in staff request's own queries, then one for every term of both lists.
    with django_assert_num_queries(STAFF_REQUEST_QUERIES + 1):
        response = client.get(LIST)
    assert sum(len(terms) for _, _, terms, _ in response.context["lists"]) == PolicyTerm.objects.count()


# --- adding -----------------------------------------------------------------------------------------------


def test_an_added_term_is_audited_and_found_in_posts_from_then_on(client, social_admin, member_of_staff):
    client.force_login(member_of_staff)
    assert "political" not in _live_check(client, "Council Tax is going up in April")

    client.force_login(social_admin)
    response = client.post(ADD, {"category": "political", "term": "  council   tax "})
    assert response.status_code == 302 and response["Location"] == LIST + "#political-terms"
    assert _messages(response) == [
        "“council tax” is added to the political list. Posts are checked for it from now on."
    ]
    term = PolicyTerm.objects.get(term="council tax")
    assert (term.category, term.is_active) == ("political", True)
    [event] = AuditEvent.objects.filter(action="policy_term.added")
    assert (event.actor, event.target_id, event.details) == (
        social_admin,
        str(term.pk),
        {"category": "political", "term": "council tax", "kind": "term"},
    )

    client.force_login(member_of_staff)  # drafting: the live check beside the text
    assert _live_check(client, "Council Tax is going up in April")["political"] == ["Council Tax"]  # as written
    assert "political" not in _live_check(client, "The council taxi rank")  # whole words only
    draft = client.post(reverse("social:post_new"), {"text": "Council tax is going up.", "channels": ["website"]})
    post_page = client.get(draft["Location"]).content.decode()
    assert "Political content" in post_page and "council tax" in post_page


def test_a_switched_off_term_is_no_longer_found_and_can_be_switched_on_again(
    client, social_admin, member_of_staff, pray
):
    client.force_login(social_admin)
    response = client.post(_off(pray))
    assert response.status_code == 302 and response["Location"] == LIST + "#religious-terms"
    assert _messages(response) == ["“pray” is switched off: posts are no longer checked for it."]
    pray.refresh_from_db()
    assert pray.is_active is False
    client.force_login(member_of_staff)
    assert "religious" not in _live_check(client, "We will pray for sunshine")

    client.force_login(social_admin)
    client.post(_off(pray))  # a double submit changes nothing more
    assert AuditEvent.objects.filter(action="policy_term.switched_off").count() == 1
    response = client.post(_on(pray))
    assert _messages(response)[-1] == "“pray” is switched on again: posts are checked for it."
    client.force_login(member_of_staff)
    assert _live_check(client, "We will pray for sunshine")["religious"] == ["pray"]
    assert [
        (e.action, e.actor) for e in AuditEvent.objects.filter(action__startswith="policy_term.").order_by("id")
    ] == [("policy_term.switched_off", social_admin), ("policy_term.switched_on", social_admin)]


def test_adding_a_switched_off_term_switches_it_back_on(client, social_admin, pray):
    PolicyTerm.objects.filter(pk=pray.pk).update(is_active=False)
    count = PolicyTerm.objects.count()
    client.force_login(social_admin)
    response = client.post(ADD, {"category": "religious", "term": "Pray"})
    assert response.status_code == 302
    assert _messages(response) == [
        "“pray” was on the religious list, switched off. It is switched on again: posts are checked for it from now on."
    ]
    assert PolicyTerm.objects.count() == count
    pray.refresh_from_db()
    assert pray.is_active is True
    assert AuditEvent.objects.get(action="policy_term.switched_on").details == {
        "category": "religious",
        "term": "pray",
        "kind": "term",
    }


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"category": "religious", "term": "pray"}, "“pray” is already on the religious list."),
        ({"category": "religious", "term": "PRAY"}, "“pray” is already on the religious list."),
        ({"category": "political", "term": "pray"}, "“pray” is already on the religious list."),
        ({"category": "political", "term": "prime   minister"}, "“Prime Minister” is already on the political list."),
        ({"category": "political", "term": ""}, "Enter a word or a short phrase."),
        ({"category": "political", "term": "   "}, "Enter a word or a short phrase."),
        ({"category": "political", "term": "a"}, "Enter at least two letters"),
        ({"category": "political", "term": "C++"}, "Use letters and numbers, with spaces, hyphens or apostrophes"),
        ({"category": "political", "term": "vote!"}, "Use letters and numbers, with spaces, hyphens or apostrophes"),
        ({"category": "political", "term": "<b>vote</b>"}, "Use letters and numbers"),
        ({"category": "political", "term": "-vote"}, "Use letters and numbers"),
        ({"category": "political", "term": "x" * 101}, "Keep it under 100 characters."),
        ({"category": "political", "term": "one two three four five six seven"}, "up to 6 words"),
        ({"category": "", "term": "council tax"}, "Choose the list: religious or political."),
        ({"category": "sporting", "term": "council tax"}, "Select a valid choice."),
    ],
)
def test_a_bad_or_duplicate_term_is_refused_with_a_clear_message_and_changes_nothing(
    client, social_admin, pray, body, error
):
    client.force_login(social_admin)
    before = snapshot()
    response = client.post(ADD, body)
    assert response.status_code == 400
    html = response.content.decode()
    assert error in html, html.split("<main", 1)[1][:3000]
    assert "There is a problem" in html and "Nothing was changed." in html
    assert snapshot() == before


def test_a_double_submitted_term_is_added_once(client, social_admin):
    client.force_login(social_admin)
    body = {"category": "political", "term": "council tax"}
    assert client.post(ADD, body).status_code == 302
    second = client.post(ADD, body)
    assert second.status_code == 400
    assert "“council tax” is already on the political list." in second.content.decode()
    assert PolicyTerm.objects.filter(term__iexact="council tax").count() == 1
    assert AuditEvent.objects.filter(action="policy_term.added").count() == 1


def test_the_service_refuses_someone_who_may_not_change_the_lists(member_of_staff, ceo):
    for user in (member_of_staff, ceo):
        with pytest.raises(TermError, match="Only a social media administrator"):
            policy_term_add(category="political", term="council tax", by=user)
    assert not PolicyTerm.objects.filter(term="council tax").exists()


def test_the_admin_shows_the_terms_but_changes_go_through_the_page(client):
    assert isinstance(admin.site._registry[PolicyTerm], admin.ModelAdmin)
    superuser = factories.staff_user("staff", email="root@example.org", is_staff=True, is_superuser=True)
    client.force_login(superuser)
    listing = client.get(reverse("admin:social_policyterm_changelist"))
    assert listing.status_code == 200 and "Prime Minister" in listing.content.decode()
    assert client.get(reverse("admin:social_policyterm_add")).status_code == 403
    term = PolicyTerm.objects.get(term="pray")
    assert client.post(reverse("admin:social_policyterm_change", args=[term.pk]), {"term": "x"}).status_code == 403


@pytest.mark.django_db
def test_the_database_refuses_a_term_twice_in_any_case_or_checked_on_both_lists():
    from django.db import IntegrityError, transaction

    PolicyTerm.objects.create(category=PolicyTerm.Category.RELIGIOUS, term="Candlemas")
    with pytest.raises(IntegrityError), transaction.atomic():
        PolicyTerm.objects.create(category=PolicyTerm.Category.RELIGIOUS, term="candlemas")
    with pytest.raises(IntegrityError), transaction.atomic():
        PolicyTerm.objects.create(category=PolicyTerm.Category.POLITICAL, term="CANDLEMAS")
    # Switched off on one list, it may be checked on the other.
    PolicyTerm.objects.filter(term="Candlemas").update(is_active=False)
    PolicyTerm.objects.create(category=PolicyTerm.Category.POLITICAL, term="candlemas")
