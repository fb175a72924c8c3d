"""Families have names people use: a display name beside the reference, set by the family's coordinators,
shown to staff, never to parents, erased with the family; and the family list finds a family by its name,
reference, or a child's or carer's name, as you type (JSON) or by submitting the form, in one query.

Personas: the family's coordinator, a coordinator of another family, the social media administrator
(oversees every family, changes none), a parent of the family, anonymous people.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.urls import reverse

from consents.demo import seed_consents
from consents.forms import FamilySearchForm
from consents.models import Carer, Child, Family
from consents.selectors_search import families_matching
from consents.services import erasure
from consents.services.families import family_update
from staff.models import AuditEvent
from tests import factories
from tests.consents.factories import CarerFactory, ChildFactory, FamilyFactory, assign, family_with_child, give
from tests.query_counts import STAFF_REQUEST_QUERIES

FAMILIES = reverse("consents:family_list")


@dataclass
class World:
    priya: Family  # "Demo family (Priya)": Ava and Ben Okafor, carer Priya Okafor
    sam: Family  # no display name: Cara Lund, carer Sam Lund
    theirs: Family  # another coordinator's: Dev Marsh, carer Jo Marsh


@pytest.fixture
def other_coordinator(db):
    return factories.staff_user("coordinator", email="other.coordinator@example.org")


@pytest.fixture
def world(coordinator, other_coordinator) -> World:
    priya = FamilyFactory(display_name="Demo family (Priya)")
    ChildFactory(family=priya, first_name="Ava", last_name="Okafor")
    ChildFactory(family=priya, first_name="Ben", last_name="Okafor")
    CarerFactory(family=priya, full_name="Priya Okafor")
    sam = FamilyFactory()
    ChildFactory(family=sam, first_name="Cara", last_name="Lund")
    CarerFactory(family=sam, full_name="Sam Lund")
    theirs = FamilyFactory(display_name="Marsh family")
    ChildFactory(family=theirs, first_name="Dev", last_name="Marsh")
    CarerFactory(family=theirs, full_name="Jo Marsh")
    assign(coordinator, priya)
    assign(coordinator, sam)
    assign(other_coordinator, theirs)
    return World(priya, sam, theirs)


def _found(client, text: str, **more: str) -> list[Family]:
    response = client.get(FAMILIES, {"q": text, **more})
    assert response.status_code == 200
    return list(response.context["families"])


# --- the display name ----------------------------------------------------------------------


@pytest.mark.django_db
def test_it_names_a_new_family_and_shows_the_name_beside_the_reference(client, coordinator):
    client.force_login(coordinator)
    response = client.post(
        reverse("consents:family_new"), {"display_name": "  Demo   family (Priya) ", "notes": "Ring first."}
    )
    family = Family.objects.get()
    assert response.status_code == 302
    assert family.display_name == "Demo family (Priya)" and family.notes == "Ring first."
    label = f"Demo family (Priya) · {family.reference}"
    assert label in client.get(FAMILIES).content.decode()
    assert (
        f"<h1>{label}</h1>" in client.get(reverse("consents:family_detail", args=[family.reference])).content.decode()
    )


@pytest.mark.django_db
def test_a_family_without_a_name_is_named_by_its_reference_as_before(client, coordinator, world):
    client.force_login(coordinator)
    body = client.get(reverse("consents:family_detail", args=[world.sam.reference])).content.decode()
    assert f"<h1>Family {world.sam.reference}</h1>" in body
    assert f">{world.sam.reference}</a>" in client.get(FAMILIES).content.decode()


@pytest.mark.django_db
def test_it_lets_the_familys_coordinator_change_the_name_and_notes(client, coordinator, world):
    url = reverse("consents:family_edit", args=[world.priya.reference])
    client.force_login(coordinator)
    page = client.get(url)
    assert page.status_code == 200 and 'value="Demo family (Priya)"' in page.content.decode()
    response = client.post(url, {"display_name": "Okafor family", "notes": "Prefers texts."})
    assert response.status_code == 302
    world.priya.refresh_from_db()
    assert (world.priya.display_name, world.priya.notes) == ("Okafor family", "Prefers texts.")
    event = AuditEvent.objects.get(action="family.updated")
    # The audit trail says what changed, never the words: a name often holds a carer's name.
    assert event.details == {"changed": ["display_name", "notes"]}
    assert "Okafor" not in str(event.details) and "Okafor" not in event.target_repr


@pytest.mark.django_db
def test_it_refuses_a_name_too_short_to_erase_safely(client, coordinator, world):
    client.force_login(coordinator)
    url = reverse("consents:family_edit", args=[world.priya.reference])
    response = client.post(url, {"display_name": "Al", "notes": ""})
    assert response.status_code == 200
    assert "at least 3 letters" in response.content.decode()
    assert client.post(url, {"display_name": "", "notes": ""}).status_code == 302  # no name is fine
    world.priya.refresh_from_db()
    assert world.priya.display_name == ""


@pytest.mark.django_db
def test_an_unchanged_family_is_not_audited_again(coordinator, world):
    family_update(family=world.priya, by=coordinator, display_name="Demo family (Priya)", notes="")
    assert not AuditEvent.objects.filter(action="family.updated").exists()


@pytest.mark.django_db
def test_only_the_familys_coordinators_change_its_name(client, world, other_coordinator):
    url = reverse("consents:family_edit", args=[world.priya.reference])
    assert client.get(url).status_code == 302  # anonymous: sign in first
    client.force_login(other_coordinator)
    assert client.get(url).status_code == 404
    assert client.post(url, {"display_name": "Taken over"}).status_code == 404
    client.force_login(factories.staff_user("social_admin"))
    assert client.get(url).status_code == 403  # oversees, changes nothing
    client.force_login(factories.staff_user("photographer"))
    assert client.get(url).status_code in {403, 404}
    world.priya.refresh_from_db()
    assert world.priya.display_name == "Demo family (Priya)"


@pytest.mark.django_db
def test_an_erased_familys_name_cannot_be_set_again(client, coordinator, world):
    erasure.family_erase(family_id=world.priya.pk, reason="Test.")
    client.force_login(coordinator)
    response = client.post(reverse("consents:family_edit", args=[world.priya.reference]), {"display_name": "Back"})
    assert response.status_code == 302
    world.priya.refresh_from_db()
    assert world.priya.display_name != "Back"


@pytest.mark.django_db
def test_the_erasure_erases_the_name_and_the_name_wherever_it_appears(world):
    # The name of the family, written in another family's notes (say, a sibling's family), goes too.
    Family.objects.filter(pk=world.sam.pk).update(notes="Cousins of Demo family (Priya), same school.")
    erasure.family_erase(family_id=world.priya.pk, reason="Test.")
    world.priya.refresh_from_db()
    world.sam.refresh_from_db()
    assert "Priya" not in world.priya.display_name and "Demo family" not in world.priya.display_name
    assert "Demo family (Priya)" not in world.sam.notes and "[erased]" in world.sam.notes


@pytest.mark.django_db
def test_a_parent_never_sees_the_familys_name(client, parent):
    family, child, [carer] = family_with_child()
    Family.objects.filter(pk=family.pk).update(display_name="Tricky family (Maya)")
    Carer.objects.filter(pk=carer.pk).update(email=parent.email)
    give(child, carer)
    client.force_login(parent)
    for url in (reverse("consents:my_children"), reverse("consents:my_child", args=[child.pk])):
        response = client.get(url)
        assert response.status_code == 200
        assert "Tricky family" not in response.content.decode()


@pytest.mark.django_db
def test_the_demo_families_have_names(coordinator):
    seed_consents(coordinator=coordinator)
    seed_consents(coordinator=coordinator)  # a second run changes nothing
    names = dict(Family.objects.filter(reference__startswith="DEMO-").values_list("reference", "display_name"))
    assert names == {
        "DEMO-1": "Demo family (Priya)",
        "DEMO-2": "Demo family (Morgan)",
        "DEMO-3": "Demo family (Alex)",
    }


# --- finding a family ------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "text",
    ["priya", "DEMO FAMILY", "(Priya)", "demo fam", "ava", "Okafor", "priya okafor", "Ben Okafor"],
)
def test_it_finds_a_family_by_its_name_or_a_childs_or_carers_name(client, coordinator, world, text):
    client.force_login(coordinator)
    assert _found(client, text) == [world.priya]


@pytest.mark.django_db
def test_it_finds_a_family_by_its_reference_in_any_case(client, coordinator, world):
    client.force_login(coordinator)
    assert _found(client, world.sam.reference.lower()) == [world.sam]
    assert _found(client, world.sam.reference[-4:]) == [world.sam]  # part of it
    assert _found(client, "Cara") == [world.sam]
    assert _found(client, "sam lund") == [world.sam]


@pytest.mark.django_db
def test_every_word_must_be_found(client, coordinator, world):
    client.force_login(coordinator)
    assert _found(client, "Ava Lund") == []  # Ava is an Okafor, Lund is another family
    body = client.get(FAMILIES, {"q": "Ava Lund"}).content.decode()
    assert "No family matches “Ava Lund” among the open families." in body


@pytest.mark.django_db
def test_a_coordinator_finds_only_their_own_families(client, coordinator, other_coordinator, world):
    client.force_login(coordinator)
    for text in ("Dev", "Jo Marsh", "Marsh family", world.theirs.reference):
        response = client.get(FAMILIES, {"q": text})
        assert list(response.context["families"]) == []
        assert world.theirs.reference not in response.content.decode() or text == world.theirs.reference
        assert "Marsh family ·" not in response.content.decode() and "Dev Marsh" not in response.content.decode()
    client.force_login(other_coordinator)
    assert _found(client, "Dev") == [world.theirs]
    assert _found(client, "Priya") == []


@pytest.mark.django_db
def test_an_overseer_finds_any_family(client, world):
    client.force_login(factories.staff_user("social_admin"))
    assert _found(client, "marsh") == [world.theirs]
    assert _found(client, "priya") == [world.priya]


@pytest.mark.django_db
def test_it_finds_closed_families_only_when_asked(client, coordinator, world):
    Family.objects.filter(pk=world.sam.pk).update(closed_at=world.sam.created_at)
    client.force_login(coordinator)
    assert _found(client, "Cara") == []
    assert _found(client, "Cara", closed="on") == [world.sam]


@pytest.mark.django_db
def test_it_answers_a_search_as_you_type_with_json(client, coordinator, world):
    client.force_login(coordinator)
    response = client.get(FAMILIES, {"q": "okafor"}, HTTP_ACCEPT="application/json")
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    found = response.json()
    assert found["count"] == "1 family matches."
    assert f"Demo family (Priya) · {world.priya.reference}" in found["html"]
    assert world.sam.reference not in found["html"]
    assert "<table" in found["html"] and "<html" not in found["html"]
    everyone = client.get(FAMILIES, {"q": ""}, HTTP_ACCEPT="application/json").json()
    assert everyone["count"] == "" and world.sam.reference in everyone["html"]
    assert client.get(FAMILIES, {"q": "nobody"}, HTTP_ACCEPT="application/json").json()["count"] == (
        "No family matches."
    )


@pytest.mark.django_db
def test_the_list_page_says_how_many_match_in_a_live_region(client, coordinator, world):
    client.force_login(coordinator)
    body = client.get(FAMILIES, {"q": "a"}).content.decode()  # Ava and Cara
    assert '<p class="result-count" id="family-count" role="status">2 families match.</p>' in body
    assert "data-family-search-input" in body and "js/family_search.js" in body
    assert '<label for="id_q">Find a family</label>' in body


@pytest.mark.django_db
def test_it_refuses_a_nul_in_the_search(client, coordinator, world):
    client.force_login(coordinator)
    assert client.get(FAMILIES, {"q": "Ava\x00"}).status_code == 400  # the address is refused first
    assert FamilySearchForm({"q": "Ava\x00"}).text() == ""  # and the field would refuse it too
    assert FamilySearchForm({"q": "x" * 101}).text() == ""
    assert FamilySearchForm({"q": "  Ava  "}).text() == "Ava"


@pytest.mark.django_db
def test_it_searches_only_the_families_it_is_given(world):
    mine = Family.objects.filter(pk__in=[world.priya.pk, world.sam.pk])
    assert list(families_matching(mine, "marsh")) == []
    assert list(families_matching(Family.objects.all(), "marsh")) == [world.theirs]
    # A family with two children of that name is listed once.
    ChildFactory(family=world.priya, first_name="Avery", last_name="Okafor")
    assert list(families_matching(Family.objects.all(), "av")) == [world.priya]


@pytest.mark.django_db
@pytest.mark.parametrize("count", [1, 20])
@pytest.mark.parametrize("text", ["", "family", "kid"])
def test_the_family_list_needs_one_query_however_many_families(
    client, coordinator, django_assert_num_queries, count, text
):
    for n in range(count):
        family = FamilyFactory(display_name=f"Test family {n}")
        ChildFactory.create_batch(2, family=family)
        CarerFactory.create_batch(2, family=family)
        assign(coordinator, family)
    client.force_login(coordinator)
    client.get(FAMILIES)  # the first request creates the usersession row
    # + the families found, with their counts of children and carers.
    with django_assert_num_queries(STAFF_REQUEST_QUERIES + 1):
        response = client.get(FAMILIES, {"q": text})
    assert len(response.context["families"]) == count
    with django_assert_num_queries(STAFF_REQUEST_QUERIES + 1):
        client.get(FAMILIES, {"q": text}, HTTP_ACCEPT="application/json")


@pytest.mark.django_db
def test_counts_of_children_and_carers_stay_right_when_a_search_matches_several(client, coordinator, world):
    Child.objects.create(family=world.priya, first_name="Avi", last_name="Okafor", date_of_birth="2019-01-01")
    client.force_login(coordinator)
    [family] = _found(client, "av okafor")
    assert (family.child_count, family.carer_count) == (3, 1)
