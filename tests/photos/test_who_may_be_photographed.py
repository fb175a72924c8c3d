"""Who may I photograph today: a plain yes or no for each child of a family, by the tagging rule, with why
not in a word and whether photos may go online; and finding the family by name, as you type, on the upload
page, on its own page and in the gallery's family filter, never finding a family the person may not use.

Personas: a photographer (any open family), the family's coordinator, a coordinator of another family,
the social media administrator, a parent of the family, anonymous people.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from consents.models import Child, Family, Purpose
from photos import today
from tests import factories
from tests.consents.factories import (
    CarerFactory,
    ChildFactory,
    FamilyFactory,
    all_answers,
    assign,
    give,
    withdraw,
)
from tests.photos.fixtures import bulk_photos
from tests.query_counts import STAFF_REQUEST_QUERIES

UPLOAD = reverse("photos:upload")
GALLERY = reverse("photos:gallery")
FIND = reverse("photos:today")


@pytest.fixture
def photographer(db):
    return factories.staff_user("photographer", email="photographer@example.org")


@pytest.fixture
def other_coordinator(db):
    return factories.staff_user("coordinator", email="other.coordinator@example.org")


@dataclass
class World:
    family: Family  # "Demo family (Priya)", the coordinator's
    ava: Child  # consented to everything
    ben: Child  # refused to be photographed
    cara: Child  # withdrew keeping photos in the vault
    dan: Child  # no answer
    eve: Child  # consented 13 months ago: run out
    fay: Child  # photographed and kept, not online
    gus: Child  # online, but not with a recognisable face
    other: Family  # another coordinator's: Hal Marsh, carer Jo Marsh


@pytest.fixture
def world(coordinator, other_coordinator) -> World:
    family = FamilyFactory(display_name="Demo family (Priya)")
    carer = CarerFactory(family=family, full_name="Priya Okafor")
    kids = {
        name: ChildFactory(family=family, first_name=name, last_name="Okafor")
        for name in ("Ava", "Ben", "Cara", "Dan", "Eve", "Fay", "Gus")
    }
    give(kids["Ava"], carer)
    give(kids["Ben"], carer, all_answers(photographed=False))
    give(kids["Cara"], carer)
    withdraw(kids["Cara"], carer, [Purpose.STORED])
    give(kids["Eve"], carer, at=timezone.now() - timedelta(days=400))
    give(kids["Fay"], carer, all_answers(False, photographed=True, stored=True))
    give(kids["Gus"], carer, all_answers(face_online=False))
    assign(coordinator, family)
    other = FamilyFactory(display_name="Marsh family")
    hal = ChildFactory(family=other, first_name="Hal", last_name="Marsh")
    give(hal, CarerFactory(family=other, full_name="Jo Marsh"))
    assign(other_coordinator, other)
    return World(family, *kids.values(), other)


def _page(family: Family) -> str:
    return reverse("photos:today_family", args=[family.reference])


# --- the answers ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_says_yes_or_no_for_every_child_with_why_not_in_a_word(world):
    answers = {a.child.first_name: (a.may, a.why_not, a.online) for a in today.who_may_be_photographed(world.family)}
    assert answers == {
        "Ava": (True, "", today.ONLINE),
        "Ben": (False, today.REFUSED, ""),
        "Cara": (False, today.WITHDRAWN, ""),
        "Dan": (False, today.NO_ANSWER, ""),
        "Eve": (False, today.RUN_OUT, ""),
        "Fay": (True, "", today.NOT_ONLINE),
        "Gus": (True, "", today.ONLINE_UNRECOGNISABLE),
    }


@pytest.mark.django_db
def test_the_page_says_it_plainly(client, photographer, world):
    client.force_login(photographer)
    response = client.get(_page(world.family))
    assert response.status_code == 200
    body = response.content.decode()
    assert "Yes, you may photograph Ava Okafor" in body
    assert "No: do not photograph Ben Okafor" in body
    assert "Refused. Keep Ben out of your photos." in body
    assert "Consent withdrawn. Keep Cara out of your photos." in body
    assert "No answer yet. Keep Dan out of your photos." in body
    assert "Consent has run out. Keep Eve out of your photos." in body
    assert "Photos must not go online." in body and "only if the face cannot be recognised" in body
    assert f"Demo family (Priya) · {world.family.reference}" in body
    # No more than a photographer needs: nothing of the carers, the answers purpose by purpose, or dates.
    assert "Priya Okafor" not in body and "Photos used in staff training" not in body


@pytest.mark.django_db
def test_a_family_with_no_children_yet_says_so(client, photographer):
    family = FamilyFactory()
    client.force_login(photographer)
    assert "you may not photograph any child of it" in client.get(_page(family)).content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("children", [1, 20])
def test_it_needs_the_same_queries_however_many_children(client, photographer, django_assert_num_queries, children):
    family = FamilyFactory()
    carer = CarerFactory(family=family)
    for child in ChildFactory.create_batch(children, family=family):
        give(child, carer)
    client.force_login(photographer)
    client.get(_page(family))  # the first request creates the usersession row
    # + the family; its children; their consent positions (families, carers with parental responsibility,
    # the re-consent cutoff, the records).
    with django_assert_num_queries(STAFF_REQUEST_QUERIES + 6):
        response = client.get(_page(family))
    assert response.content.decode().count("Yes, you may photograph") == children


# --- who may see it ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_photographers_and_the_familys_coordinators_may_see_it(client, photographer, coordinator, world):
    for person in (photographer, coordinator):
        client.force_login(person)
        assert client.get(_page(world.family)).status_code == 200


@pytest.mark.django_db
def test_everyone_else_is_told_nothing(client, world, other_coordinator, parent):
    url = _page(world.family)
    response = client.get(url)
    assert response.status_code == 302 and "/accounts/" in response["Location"]  # anonymous: sign in
    for person in (other_coordinator, parent, factories.staff_user("social_admin"), factories.staff_user("ceo")):
        client.force_login(person)
        assert client.get(url).status_code == 404, person
    client.force_login(other_coordinator)
    assert client.get(FIND).status_code == 200  # their own families, not this one
    assert client.get(FIND, {"q": "Ava"}).context["matches"].families == []


@pytest.mark.django_db
def test_a_closed_family_is_not_offered(client, photographer, world):
    Family.objects.filter(pk=world.family.pk).update(closed_at=timezone.now())
    client.force_login(photographer)
    assert client.get(_page(world.family)).status_code == 404
    assert client.get(FIND, {"q": "priya"}).context["matches"].families == []
    assert client.get(UPLOAD, {"q": "priya"}).context["matches"].families == []


@pytest.mark.django_db
def test_it_refuses_other_methods(client, photographer, world):
    client.force_login(photographer)
    assert client.post(_page(world.family)).status_code == 405


# --- finding the family ------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("text", ["priya", "DEMO FAM", "gus", "Priya Okafor"])
def test_the_photographer_finds_the_family_on_the_upload_page(client, photographer, world, text):
    client.force_login(photographer)
    response = client.get(UPLOAD, {"q": text})
    assert response.context["matches"].families == [world.family]
    body = response.content.decode()
    assert f'href="{UPLOAD}?family={world.family.reference}">Demo family (Priya) · {world.family.reference}</a>' in body
    assert f'href="{_page(world.family)}"' in body
    assert '<p class="result-count" id="family-match-count" role="status">1 family matches.</p>' in body


@pytest.mark.django_db
def test_the_upload_page_finds_a_family_by_its_reference_in_any_case(client, photographer, world):
    client.force_login(photographer)
    assert client.get(UPLOAD, {"q": world.other.reference.lower()}).context["matches"].families == [world.other]


@pytest.mark.django_db
def test_a_coordinator_finds_only_their_own_families_to_upload_for(client, coordinator, world):
    client.force_login(coordinator)
    for text in ("Hal", "Jo Marsh", "marsh family", world.other.reference):
        response = client.get(UPLOAD, {"q": text}, HTTP_ACCEPT="application/json")
        found = response.json()
        assert found["count"] == "No family matches."
        assert "Marsh" not in found["html"] and world.other.reference not in found["html"]


@pytest.mark.django_db
def test_the_upload_page_answers_the_search_as_you_type(client, photographer, world):
    client.force_login(photographer)
    found = client.get(UPLOAD, {"q": "okafor"}, HTTP_ACCEPT="application/json").json()
    assert found["count"] == "1 family matches."
    assert f"Demo family (Priya) · {world.family.reference}" in found["html"]
    assert "Who may I photograph today" in found["html"] and "<html" not in found["html"]


@pytest.mark.django_db
def test_the_chosen_family_links_to_who_may_be_photographed(client, photographer, world):
    client.force_login(photographer)
    body = client.get(UPLOAD, {"family": world.family.reference}).content.decode()
    assert f'<a href="{_page(world.family)}">Who may I photograph today in Demo family (Priya)' in body
    assert f">Demo family (Priya) · {world.family.reference}</option>" in body


@pytest.mark.django_db
def test_too_many_matches_ask_for_more_of_the_name(client, photographer):
    FamilyFactory.create_batch(21, display_name="Common family")
    client.force_login(photographer)
    found = client.get(UPLOAD, {"q": "common"}, HTTP_ACCEPT="application/json").json()
    assert found["count"] == "More than 20 families match: type more of the name."
    assert found["html"].count('class="family-match-name"') == 20


@pytest.mark.django_db
def test_the_find_page_lists_a_coordinators_few_families_at_once(client, coordinator, world):
    client.force_login(coordinator)
    response = client.get(FIND)
    assert response.context["matches"].families == [world.family]
    assert f'href="{_page(world.family)}"' in response.content.decode()
    found = client.get(FIND, {"q": "dan"}, HTTP_ACCEPT="application/json").json()
    assert found["count"] == "1 family matches." and _page(world.family) in found["html"]


@pytest.mark.django_db
def test_the_find_page_asks_a_photographer_to_type_when_there_are_many(client, photographer, world):
    FamilyFactory.create_batch(20)
    client.force_login(photographer)
    assert client.get(FIND).context["matches"].families == []
    assert client.get(FIND, {"q": "ava"}).context["matches"].families == [world.family]


@pytest.mark.django_db
@pytest.mark.parametrize("count", [1, 20])
def test_the_upload_pages_search_needs_one_query_however_many_families(
    client, photographer, django_assert_num_queries, count
):
    for _ in range(count):
        family = FamilyFactory(display_name="Test family")
        ChildFactory.create_batch(2, family=family)
        CarerFactory.create_batch(2, family=family)
    client.force_login(photographer)
    client.get(FIND)  # the first request creates the usersession row
    # + the families found.
    with django_assert_num_queries(STAFF_REQUEST_QUERIES + 1):
        response = client.get(UPLOAD, {"q": "test kid"}, HTTP_ACCEPT="application/json")
    assert response.json()["html"].count('class="family-match-name"') == count
    with django_assert_num_queries(STAFF_REQUEST_QUERIES + 1):
        client.get(FIND, {"q": "test kid"}, HTTP_ACCEPT="application/json")
    # The upload page itself: + the families found, the family chosen (none), the families in the list.
    with django_assert_num_queries(STAFF_REQUEST_QUERIES + 3):
        client.get(UPLOAD, {"q": "test kid"})


@pytest.mark.django_db
def test_the_upload_page_does_not_search_when_nothing_is_typed(client, photographer, world, django_assert_num_queries):
    client.force_login(photographer)
    client.get(UPLOAD)
    # + the family chosen (none), the families in the list: no search.
    with django_assert_num_queries(STAFF_REQUEST_QUERIES + 2):
        response = client.get(UPLOAD)
    assert response.context["matches"].families == []


# --- the gallery's family filter ---------------------------------------------------------------------


@pytest.fixture
def photos(world, photographer):
    return {
        "ava": bulk_photos(world.family, [world.ava], photographer, 1)[0],
        "hal": bulk_photos(world.other, list(world.other.children.all()), photographer, 1)[0],
    }


def _shown(response) -> list:
    assert response.status_code == 200
    return [card["photo"] for card in response.context["cards"]]


@pytest.mark.django_db
@pytest.mark.parametrize("text", ["priya", "Demo family", "ava okafor", "PRIYA OKAFOR"])
def test_the_gallery_finds_the_family_by_name(client, coordinator, world, photos, text):
    client.force_login(coordinator)
    response = client.get(GALLERY, {"family": text})
    assert _shown(response) == [photos["ava"]]
    # One family found is chosen: its children are offered.
    assert [value for value, _ in response.context["form"].fields["child"].choices][1:] == [
        c.pk for c in sorted(world.family.children.all(), key=lambda c: c.first_name)
    ]


@pytest.mark.django_db
def test_the_gallery_never_finds_another_coordinators_family(client, coordinator, world, photos):
    client.force_login(coordinator)
    for text in ("Hal", "Jo Marsh", "Marsh family"):
        response = client.get(GALLERY, {"family": text})
        assert _shown(response) == []
        assert "Marsh family ·" not in response.content.decode()
        assert client.get(GALLERY, {"family": text}, HTTP_ACCEPT="application/json").json()["html"].strip() == ""


@pytest.mark.django_db
def test_the_gallery_offers_a_choice_when_several_families_match(client, coordinator, world, photos, photographer):
    second = FamilyFactory(display_name="Demo family (Sam)")
    sam_kid = ChildFactory(family=second, first_name="Sid", last_name="Lund")
    give(sam_kid, CarerFactory(family=second))
    assign(coordinator, second)
    [sid_photo] = bulk_photos(second, [sam_kid], photographer, 1)
    client.force_login(coordinator)
    response = client.get(GALLERY, {"family": "demo family", "use": ""})
    assert set(_shown(response)) == {photos["ava"], sid_photo}  # the photos of both, until one is chosen
    body = response.content.decode()
    assert "2 families match." in body
    assert f'href="?family={second.reference}&amp;use="' in body
    found = client.get(GALLERY, {"family": "demo"}, HTTP_ACCEPT="application/json").json()
    assert found["count"] == "2 families match."
    assert f"?family={world.family.reference}" in found["html"] and f"?family={second.reference}" in found["html"]


@pytest.mark.django_db
def test_the_gallery_still_takes_a_reference(client, coordinator, world, photos):
    client.force_login(coordinator)
    assert _shown(client.get(GALLERY, {"family": f" {world.family.reference.lower()} "})) == [photos["ava"]]
    assert _shown(client.get(GALLERY, {"family": world.other.reference})) == []


@pytest.mark.django_db
def test_a_photographer_finds_in_the_gallery_only_families_of_their_fresh_uploads(client, photographer, world, photos):
    someone_else = FamilyFactory(display_name="Unvisited family")
    client.force_login(photographer)
    assert _shown(client.get(GALLERY, {"family": "marsh"})) == [photos["hal"]]
    found = client.get(GALLERY, {"family": "unvisited"}, HTTP_ACCEPT="application/json").json()
    assert found["count"] == "No family matches." and someone_else.reference not in found["html"]
