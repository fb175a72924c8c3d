"""Parents' own pages (/consents/my/…): only their own children, the form again, and withdrawal of one
purpose or of everything."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from django.contrib.messages import get_messages
from django.core import mail
from django.urls import reverse

from consents.models import PURPOSES, Carer, Child, ConsentRecord
from consents.selectors import State, consents_for_children
from tests import factories
from tests.consents.factories import CarerFactory, ChildFactory, family_with_child, give, withdraw
from tests.query_counts import SIGNED_IN_REQUEST_QUERIES

MY_CHILDREN = reverse("consents:my_children")


@dataclass
class Families:
    ava: Child  # the parent's children (the parent is their carer with parental responsibility)
    ben: Child
    me: Carer
    cara: Child  # another family's child
    them: Carer


@pytest.fixture
def families(parent) -> Families:
    family, ava, [me] = family_with_child()
    Carer.objects.filter(pk=me.pk).update(email=parent.email, full_name="Maya Jones")
    me.refresh_from_db()
    Child.objects.filter(pk=ava.pk).update(first_name="Ava", last_name="Jones")
    ava.refresh_from_db()
    ben = ChildFactory(family=family, first_name="Ben", last_name="Jones")
    give(ava, me)
    _, cara, [them] = family_with_child()
    Child.objects.filter(pk=cara.pk).update(first_name="Cara", last_name="Other")
    give(cara, them)
    return Families(ava, ben, me, cara, them)


def _pages(child: Child) -> dict[str, str]:
    return {
        "my_child": reverse("consents:my_child", args=[child.pk]),
        "my_child_form": reverse("consents:my_child_form", args=[child.pk]),
        "my_child_withdraw": reverse("consents:my_child_withdraw", args=[child.pk]),
    }


def _sign_data(value: str = "yes", **overrides: str) -> dict[str, str]:
    return {
        **{f"purpose_{p}": overrides.get(p, value) for p in PURPOSES},
        "confirm_parental_responsibility": "on",
        "typed_name": "Maya Jones",
        "signature": "",
    }


def _snapshot() -> tuple:
    return ConsentRecord.objects.count(), len(mail.outbox)


def _checked(body: str, name: str) -> list[str]:
    """What a browser would send for `name` as the page stands: checked boxes and hidden inputs."""
    inputs = re.findall(rf'<input[^>]*name="{name}"[^>]*>', body)
    return [
        re.search(r'value="(\w+)"', i).group(1)
        for i in inputs
        if re.search(r"\schecked[\s>]", i) or 'type="hidden"' in i
    ]


# --- who may open the pages ---------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["my_children", "my_child", "my_child_form", "my_child_withdraw"])
def test_it_sends_anonymous_people_to_sign_in(client, families, name):
    url = MY_CHILDREN if name == "my_children" else _pages(families.ava)[name]
    for response in (client.get(url), client.post(url, _sign_data())):
        assert response.status_code == 302
        assert response["Location"] == f"{reverse('account_login')}?next={url}"
    assert ConsentRecord.objects.count() == 2


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["coordinator", "social_admin", "ceo", "staff"])
@pytest.mark.parametrize("name", ["my_children", "my_child", "my_child_form", "my_child_withdraw"])
def test_it_has_no_parent_pages_for_staff(client, families, role, name):
    user = factories.staff_user(role)
    CarerFactory(family=families.ava.family, email=user.email)  # even a member of staff who is also a carer
    client.force_login(user)
    url = MY_CHILDREN if name == "my_children" else _pages(families.ava)[name]
    assert client.get(url).status_code == 404
    assert client.post(url, {**_sign_data(), "purposes": PURPOSES}).status_code == 404
    assert ConsentRecord.objects.count() == 2


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["my_child", "my_child_form", "my_child_withdraw"])
def test_it_gives_404_for_another_familys_child(client, parent, families, name, django_capture_on_commit_callbacks):
    client.force_login(parent)
    url = _pages(families.cara)[name]
    before = _snapshot()
    assert client.get(url).status_code == 404
    assert client.get(url, {"purpose": "online"}).status_code == 404
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client.post(url, {**_sign_data(), "purposes": PURPOSES})
    assert response.status_code in {404, 405}  # my_child takes no POST at all
    assert callbacks == [] and _snapshot() == before
    assert consents_for_children([families.cara.pk])[families.cara.pk].allows("online")


@pytest.mark.django_db
def test_a_carer_without_parental_responsibility_sees_no_child(client, families):
    grandparent = factories.parent_user(email="gran@example.org")
    CarerFactory(family=families.ava.family, email=grandparent.email, has_parental_responsibility=False)
    client.force_login(grandparent)
    assert client.get(MY_CHILDREN).context["cards"] == []
    for url in _pages(families.ava).values():
        assert client.get(url).status_code == 404


@pytest.mark.django_db
def test_it_refuses_the_wrong_http_method(client, parent, families):
    client.force_login(parent)
    pages = _pages(families.ava)
    assert client.post(MY_CHILDREN).status_code == 405
    assert client.post(pages["my_child"]).status_code == 405
    assert client.put(pages["my_child_form"]).status_code == 405
    assert client.delete(pages["my_child_withdraw"]).status_code == 405
    assert ConsentRecord.objects.count() == 2


# --- the parent's own pages ---------------------------------------------------------------


@pytest.mark.django_db
def test_it_lists_only_the_parents_own_children_with_their_current_state(client, parent, families):
    client.force_login(parent)
    response = client.get(MY_CHILDREN)
    assert response.status_code == 200
    cards = {card["child"].first_name: card for card in response.context["cards"]}
    assert sorted(cards) == ["Ava", "Ben"]
    assert {state for _, _, state in cards["Ava"]["states"]} == {State.GIVEN}
    assert {state for _, _, state in cards["Ben"]["states"]} == {State.NONE}
    body = response.content.decode()
    assert "Cara" not in body and "Other" not in body
    assert families.ava.family.reference not in body  # parents never need the family's code
    assert "Consented" in body and "No answers yet" in body  # Ben: one line, not a "No answer" per purpose


@pytest.mark.django_db
def test_the_email_match_ignores_case(client, families):
    shouting = factories.parent_user(email="SHOUT@example.org")
    CarerFactory(family=families.cara.family, email="shout@EXAMPLE.org")
    client.force_login(shouting)
    assert [card["child"] for card in client.get(MY_CHILDREN).context["cards"]] == [families.cara]


@pytest.mark.django_db
def test_it_shows_a_childs_states_and_history(client, parent, families):
    withdraw(families.ava, families.me, ["print"])
    client.force_login(parent)
    response = client.get(_pages(families.ava)["my_child"])
    assert response.status_code == 200
    states = {code: state for code, _, state, _ in response.context["states"]}
    assert states == {**dict.fromkeys(PURPOSES, State.GIVEN), "print": State.WITHDRAWN}
    assert [r.kind for r in response.context["records"]] == [ConsentRecord.Kind.WITHDRAWAL, ConsentRecord.Kind.GIVEN]
    body = response.content.decode()
    withdraw_url = reverse("consents:my_child_withdraw", args=[families.ava.pk])
    # One withdraw link per purpose still given, and one for everything.
    assert body.count(f"{withdraw_url}?purpose=") == len(PURPOSES) - 1
    assert f"{withdraw_url}?purpose=print" not in body
    assert f'href="{withdraw_url}"' in body


@pytest.mark.django_db
def test_it_lets_the_parent_fill_in_the_form_again(client, parent, families, django_capture_on_commit_callbacks):
    client.force_login(parent)
    url = _pages(families.ben)["my_child_form"]
    response = client.get(url)
    assert response.status_code == 200
    body = response.content.decode()
    assert all(_checked(body, f"purpose_{p}") == [] for p in PURPOSES)  # nothing chosen in advance
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, _sign_data("yes", online="no", face_online="no"))
    assert response["Location"] == _pages(families.ben)["my_child"]
    record = ConsentRecord.objects.get(child=families.ben)
    assert record.identified_by == ConsentRecord.IdentifiedBy.CODE_SIGN_IN
    assert (record.carer, record.request, record.typed_name) == (families.me, None, "Maya Jones")
    assert record.answers == {p: p not in {"online", "face_online"} for p in PURPOSES}
    assert record.ip_address == "127.0.0.1" and record.text_sha256 == ConsentRecord.digest(record.text_shown)
    assert [m.to for m in mail.outbox] == [[parent.email]]
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        "Your answers for Ben are saved. We have emailed you a copy."
    ]
    states = consents_for_children([families.ben.pk])[families.ben.pk].states
    assert states["photographed"] == State.GIVEN and states["online"] == State.REFUSED


@pytest.mark.django_db
def test_it_explains_missing_answers_on_the_parents_form(client, parent, families):
    client.force_login(parent)
    response = client.post(_pages(families.ben)["my_child_form"], {"typed_name": "Maya Jones"})
    assert response.status_code == 400
    assert {f"purpose_{p}" for p in PURPOSES} | {"confirm_parental_responsibility"} == set(
        response.context["form"].errors
    )
    assert not ConsentRecord.objects.filter(child=families.ben).exists()


@pytest.mark.django_db
def test_the_withdraw_page_preselects_only_the_purpose_asked_for(client, parent, families):
    client.force_login(parent)
    url = _pages(families.ava)["my_child_withdraw"]
    one = client.get(url, {"purpose": "online"})
    assert one.context["form"]["purposes"].value() == ["online"]
    assert _checked(one.content.decode(), "purposes") == ["online"]
    assert sorted(_checked(client.get(url).content.decode(), "purposes")) == sorted(PURPOSES)
    assert sorted(_checked(client.get(url, {"purpose": "bogus"}).content.decode(), "purposes")) == sorted(PURPOSES)


@pytest.mark.django_db
def test_it_withdraws_one_purpose(client, parent, families, django_capture_on_commit_callbacks):
    client.force_login(parent)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(_pages(families.ava)["my_child_withdraw"], {"purposes": ["online"], "reason": ""})
    assert response["Location"] == _pages(families.ava)["my_child"]
    record = ConsentRecord.objects.get(kind=ConsentRecord.Kind.WITHDRAWAL)
    assert record.answers == {"online": False}
    assert (record.child, record.carer, record.identified_by) == (
        families.ava,
        families.me,
        ConsentRecord.IdentifiedBy.CODE_SIGN_IN,
    )
    position = consents_for_children([families.ava.pk])[families.ava.pk]
    assert position.states["online"] == State.WITHDRAWN
    assert position.states["face_online"] == State.WITHDRAWN  # a face online needs online at all
    assert position.allows("photographed") and position.allows("print")
    assert [m.to for m in mail.outbox] == [[parent.email]]
    assert "withdrawn" in mail.outbox[0].subject


@pytest.mark.django_db
def test_it_withdraws_everything(client, parent, families):
    client.force_login(parent)
    response = client.post(_pages(families.ava)["my_child_withdraw"], {"purposes": PURPOSES, "reason": "Moving away"})
    assert response.status_code == 302
    record = ConsentRecord.objects.get(kind=ConsentRecord.Kind.WITHDRAWAL)
    assert record.answers == dict.fromkeys(PURPOSES, False) and record.reason == "Moving away"
    assert consents_for_children([families.ava.pk])[families.ava.pk].allowed == frozenset()


@pytest.mark.django_db
def test_it_asks_what_to_withdraw(client, parent, families):
    client.force_login(parent)
    response = client.post(_pages(families.ava)["my_child_withdraw"], {"purposes": [], "reason": ""})
    assert response.status_code == 200
    assert "purposes" in response.context["form"].errors
    assert ConsentRecord.objects.count() == 2


# --- query counts -------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("children", [1, 8])
def test_my_children_needs_a_fixed_number_of_queries(client, parent, django_assert_num_queries, children):
    family, first, [me] = family_with_child()
    Carer.objects.filter(pk=me.pk).update(email=parent.email)
    for kid in [first, *(ChildFactory(family=family) for _ in range(children - 1))]:
        give(kid, me)
    client.force_login(parent)
    client.get(MY_CHILDREN)  # the first request creates the usersession row
    # The user (with their roles: not staff); the children with their family, consent positions
    # (children's families, carers with PR, re-consent cutoff, records); the requests waiting for them.
    with django_assert_num_queries(SIGNED_IN_REQUEST_QUERIES + 6):
        response = client.get(MY_CHILDREN)
    assert len(response.context["cards"]) == children
