"""The gallery: filters by family, child, date and allowed use; uses computed live (least permissive wins);
a fixed number of queries however many photos there are; pagination that keeps the filters and counts
only up to a cap."""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import datetime, timedelta
from html.parser import HTMLParser

import pytest
from django.urls import reverse
from django.utils import dateformat, timezone
from django.utils.html import escape

import photos.views
from consents.models import Carer, Child, Family, Purpose
from photos.models import Photo
from tests import factories
from tests.consents.factories import withdraw
from tests.photos.fixtures import bulk_photos, consented_child
from tests.query_counts import STAFF_REQUEST_QUERIES

GALLERY = reverse("photos:gallery")
NOW = timezone.now()
DAY = timedelta(days=1)


@dataclass
class World:
    family: Family
    ava: Child  # consented to everything
    ben: Child  # consented to everything but online (and so not face online)
    ava_carer: Carer
    second_family: Family  # also the coordinator's
    cara: Child
    solo_ava: Photo  # Ava alone, 3 days ago
    group: Photo  # Ava and Ben, 2 days ago
    solo_ben: Photo  # Ben alone, today
    cara_photo: Photo  # second family, 10 days ago
    outsiders: Photo  # a family the coordinator does not have


@pytest.fixture
def world(coordinator) -> World:
    photographer = factories.staff_user("photographer")
    family, ava, ava_carer = consented_child(coordinator=coordinator)
    _, ben, _ = consented_child(family, online=False)
    second_family, cara, _ = consented_child(coordinator=coordinator)
    outsider_family, dan, _ = consented_child(coordinator=factories.staff_user("coordinator"))
    [solo_ava] = bulk_photos(family, [ava], photographer, 1, at=NOW - 3 * DAY)
    [group] = bulk_photos(family, [ava, ben], photographer, 1, at=NOW - 2 * DAY)
    [solo_ben] = bulk_photos(family, [ben], photographer, 1, at=NOW)
    [cara_photo] = bulk_photos(second_family, [cara], photographer, 1, at=NOW - 10 * DAY)
    [outsiders] = bulk_photos(outsider_family, [dan], photographer, 1, at=NOW)
    return World(family, ava, ben, ava_carer, second_family, cara, solo_ava, group, solo_ben, cara_photo, outsiders)


def _shown(client, **filters) -> list[Photo]:
    response = client.get(GALLERY, filters)
    assert response.status_code == 200
    return [card["photo"] for card in response.context["cards"]]


@pytest.mark.django_db
def test_it_shows_the_coordinator_every_photo_of_their_families_newest_first(client, coordinator, world):
    client.force_login(coordinator)
    assert _shown(client) == [world.solo_ben, world.group, world.solo_ava, world.cara_photo]


@pytest.mark.django_db
def test_it_shows_a_photographer_only_their_own_fresh_uploads(client, coordinator, world):
    photographer = factories.staff_user("photographer")
    [mine] = bulk_photos(world.family, [world.ava], photographer, 1)
    bulk_photos(world.family, [world.ava], photographer, 1, at=NOW - 2 * DAY)  # the fix-tags window has closed
    client.force_login(photographer)
    assert _shown(client) == [mine]


@pytest.mark.django_db
@pytest.mark.parametrize("status", [Photo.Status.PROCESSING, Photo.Status.REFUSED, Photo.Status.DELETED])
def test_it_lists_only_ready_photos(client, coordinator, world, status):
    Photo.objects.filter(pk=world.solo_ben.pk).update(status=status)
    client.force_login(coordinator)
    assert world.solo_ben not in _shown(client)


@pytest.mark.django_db
def test_it_filters_by_family(client, coordinator, world):
    client.force_login(coordinator)
    assert _shown(client, family=world.second_family.reference) == [world.cara_photo]
    assert _shown(client, family=f" {world.family.reference.lower()} ") == [world.solo_ben, world.group, world.solo_ava]
    assert _shown(client, family=world.outsiders.family.reference) == []  # not theirs: nothing, not an error


class _Page(HTMLParser):
    """What a gallery page offers: the child filter's options (optgroup label, value, text, selected)
    and every link (href, accessible name: its aria-label, or else its text)."""

    def __init__(self) -> None:
        super().__init__()
        self.options: list[tuple[str, str, str, bool]] = []
        self.links: list[tuple[str, str]] = []
        self._in_child_select = False
        self._group = ""
        self._option: list | None = None
        self._link: list | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "select" and attributes.get("name") == "child":
            self._in_child_select = True
        elif tag == "optgroup" and self._in_child_select:
            self._group = attributes["label"] or ""
        elif tag == "option" and self._in_child_select:
            self._option = [self._group, attributes["value"], "", "selected" in attributes]
        elif tag == "a":
            self._link = [attributes.get("href"), "", attributes.get("aria-label")]

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._in_child_select = False
        elif tag == "optgroup":
            self._group = ""
        elif tag == "option" and self._option is not None:
            self.options.append(tuple(self._option))
            self._option = None
        elif tag == "a" and self._link is not None:
            href, text, label = self._link
            self.links.append((href, label or text.strip()))
            self._link = None

    def handle_data(self, data: str) -> None:
        if self._option is not None:
            self._option[2] += data
        if self._link is not None:
            self._link[1] += data


def _page(client, **filters) -> _Page:
    response = client.get(GALLERY, filters)
    assert response.status_code == 200
    page = _Page()
    page.feed(response.content.decode())
    return page


def _option_for(page: _Page, child: Child) -> str:
    [value] = [value for _, value, text, _ in page.options if text == str(child)]
    return value


@pytest.mark.django_db
def test_it_offers_the_children_of_the_coordinators_families_grouped_by_family(client, coordinator, world):
    client.force_login(coordinator)
    page = _page(client)
    assert page.options[0] == ("", "", "Any child", True)
    expected = sorted(
        [(world.family, world.ava), (world.family, world.ben), (world.second_family, world.cara)],
        key=lambda pair: (pair[0].reference, pair[1].first_name, pair[1].last_name),
    )
    assert page.options[1:] == [
        (f"Family {family.reference}", str(child.pk), str(child), False) for family, child in expected
    ]
    outsider = world.outsiders.children.get()
    assert str(outsider) not in {text for _, _, text, _ in page.options}  # not one of their families


@pytest.mark.django_db
def test_it_offers_only_the_chosen_familys_children(client, coordinator, world):
    client.force_login(coordinator)
    page = _page(client, family=world.second_family.reference.lower())
    assert page.options == [("", "", "Any child", True), ("", str(world.cara.pk), str(world.cara), False)]
    assert _page(client, family=world.outsiders.family.reference).options == [("", "", "Any child", True)]


@pytest.mark.django_db
def test_with_too_many_children_to_list_it_asks_for_a_family_first(client, coordinator, world, monkeypatch):
    from photos import selectors

    monkeypatch.setattr(selectors, "CHILD_FILTER_CAP", 2)  # three children across the coordinator's families
    client.force_login(coordinator)
    response = client.get(GALLERY)
    assert "Give a family reference first to choose one of its children." in response.content.decode()
    page = _page(client)
    assert page.options == [("", "", "Any child", True)]
    page = _page(client, family=world.family.reference)  # two children: listed
    assert [text for _, _, text, _ in page.options[1:]] == sorted([str(world.ava), str(world.ben)])
    # The links on children's names carry the family, so they still filter.
    assert _shown(client, family=world.family.reference, child=world.ben.pk) == [world.solo_ben, world.group]


@pytest.mark.django_db
def test_it_filters_by_the_child_chosen_in_the_list(client, coordinator, world):
    client.force_login(coordinator)
    page = _page(client)
    assert _shown(client, child=_option_for(page, world.ava)) == [world.group, world.solo_ava]
    assert _shown(client, child=_option_for(page, world.ben)) == [world.solo_ben, world.group]
    assert _shown(client, child=_option_for(page, world.cara)) == [world.cara_photo]
    chosen = _page(client, child=_option_for(page, world.ben))
    assert [text for _, _, text, selected in chosen.options if selected] == [str(world.ben)]  # it stays chosen


@pytest.mark.django_db
def test_it_sets_aside_a_child_not_in_the_list_and_says_so(client, coordinator, world):
    client.force_login(coordinator)
    response = client.get(GALLERY, {"child": world.outsiders.children.get().pk, "use": Purpose.ONLINE})
    assert response.context["form"].errors == {"child": ["Choose a child from the list."]}
    assert "Check the filters: Child: Choose a child from the list." in response.content.decode()
    shown = [card["photo"] for card in response.context["cards"]]
    assert shown == [world.solo_ava, world.cara_photo]  # the other filter still applies; no outsider's photo
    # Ava is not in the second family: that family's photos, with the child filter set aside.
    response = client.get(GALLERY, {"family": world.second_family.reference, "child": world.ava.pk})
    assert [card["photo"] for card in response.context["cards"]] == [world.cara_photo]
    assert "Choose a child from the list." in response.content.decode()


@pytest.mark.django_db
def test_it_links_each_childs_name_to_their_photos(client, coordinator, world):
    client.force_login(coordinator)
    page = _page(client, family=world.family.reference)
    to_ava = f"{GALLERY}?family={world.family.reference}&child={world.ava.pk}"
    to_ben = f"{GALLERY}?family={world.family.reference}&child={world.ben.pk}"
    named = [(href, text) for href, text in page.links if "child=" in href]
    # Newest first: Ben alone, the group (Ava and Ben), Ava alone. Links carry ids, never names.
    assert named == [
        (to_ben, f"All photos of {world.ben}"),
        (to_ava, f"All photos of {world.ava}"),
        (to_ben, f"All photos of {world.ben}"),
        (to_ava, f"All photos of {world.ava}"),
    ]
    assert _shown(client, family=world.family.reference, child=world.ava.pk) == [world.group, world.solo_ava]

    detail = _Page()
    detail.feed(client.get(reverse("photos:detail", args=[world.group.public_id])).content.decode())
    assert [(href, text) for href, text in detail.links if "child=" in href] == [
        (to_ava, f"All photos of {world.ava}"),
        (to_ben, f"All photos of {world.ben}"),
    ]


@pytest.mark.django_db
def test_it_offers_a_photographer_the_children_of_the_families_they_uploaded_for(client, coordinator, world):
    photographer = factories.staff_user("photographer")
    [mine] = bulk_photos(world.second_family, [world.cara], photographer, 1)
    bulk_photos(world.family, [world.ava], photographer, 1, at=NOW - 2 * DAY)  # the fix-tags window has closed
    client.force_login(photographer)
    page = _page(client)
    assert page.options == [
        ("", "", "Any child", True),
        (f"Family {world.second_family.reference}", str(world.cara.pk), str(world.cara), False),
    ]
    assert _shown(client, child=_option_for(page, world.cara)) == [mine]


@pytest.mark.django_db
def test_it_filters_by_date(client, coordinator, world):
    client.force_login(coordinator)
    day = lambda offset: (timezone.localdate(NOW) + timedelta(days=offset)).isoformat()  # noqa: E731
    assert _shown(client, taken_from=day(-2)) == [world.solo_ben, world.group]
    assert _shown(client, taken_to=day(-3)) == [world.solo_ava, world.cara_photo]
    assert _shown(client, taken_from=day(-3), taken_to=day(-2)) == [world.group, world.solo_ava]


@pytest.mark.django_db
def test_it_ignores_a_filter_that_is_not_a_date_and_says_so(client, coordinator, world):
    client.force_login(coordinator)
    response = client.get(GALLERY, {"taken_from": "last tuesday"})
    assert response.status_code == 200
    assert response.context["form"].errors
    assert "Check the filters" in response.content.decode()


@pytest.mark.django_db
def test_it_gives_a_group_photo_only_the_uses_every_child_allows(client, coordinator, world):
    client.force_login(coordinator)
    cards = {card["photo"]: card for card in client.get(GALLERY).context["cards"]}
    assert Purpose.ONLINE.label in cards[world.solo_ava]["uses"]
    assert Purpose.ONLINE.label not in cards[world.group]["uses"]  # Ben has no online consent: least permissive
    assert Purpose.FACE_ONLINE.label not in cards[world.group]["uses"]
    assert Purpose.PRINT.label in cards[world.group]["uses"]
    assert set(cards[world.group]["use_codes"]) == set(cards[world.solo_ben]["use_codes"])


@pytest.mark.django_db
def test_it_filters_by_allowed_use_as_the_consents_stand_now(client, coordinator, world):
    client.force_login(coordinator)
    assert _shown(client, use=Purpose.ONLINE) == [world.solo_ava, world.cara_photo]
    photographed = [world.solo_ben, world.group, world.solo_ava, world.cara_photo]
    assert _shown(client, use=Purpose.PHOTOGRAPHED) == photographed

    withdraw(world.ava, world.ava_carer, [Purpose.ONLINE])

    assert _shown(client, use=Purpose.ONLINE) == [world.cara_photo]  # Ava no longer appears under online
    assert _shown(client, use=Purpose.PHOTOGRAPHED) == photographed  # but is still photographed
    assert _shown(client, use=Purpose.ONLINE, family=world.family.reference) == []


@pytest.mark.django_db
def test_it_combines_filters(client, coordinator, world):
    client.force_login(coordinator)
    assert _shown(client, family=world.family.reference, child=world.ava.pk, use=Purpose.ONLINE) == [world.solo_ava]


@pytest.mark.django_db
def test_it_keeps_the_filters_when_it_turns_the_page(client, coordinator, world):
    photographer = factories.staff_user("photographer")
    bulk_photos(world.family, [world.ava], photographer, 50, at=NOW - 30 * DAY)
    bulk_photos(world.second_family, [world.cara], photographer, 60, at=NOW - 30 * DAY)
    client.force_login(coordinator)
    filters = {"family": world.family.reference, "use": Purpose.ONLINE}

    first = client.get(GALLERY, filters)
    assert first.context["page"].paginator.count == 51  # Ava's 50, and her photo alone (the group is not online)
    body = first.content.decode()
    next_link = f'href="?family={world.family.reference}&amp;use=online&amp;page=2"'
    assert next_link in body

    second = client.get(GALLERY, {**filters, "page": 2})
    shown = [card["photo"] for card in second.context["cards"]]
    assert len(shown) == 3 and {p.family for p in shown} == {world.family}
    assert f'href="?family={world.family.reference}&amp;use=online&amp;page=1"' in second.content.decode()
    assert "page=2&amp;page" not in second.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("count", [10, 1000])
@pytest.mark.parametrize("filtered", [False, True])
def test_the_gallery_needs_the_same_number_of_queries_for_10_and_1000_photos(
    client, coordinator, django_assert_num_queries, count, filtered
):
    photographer = factories.staff_user("photographer")
    family, ava, _ = consented_child(coordinator=coordinator)
    _, ben, _ = consented_child(family, online=False)
    half = count // 2
    bulk_photos(family, [ava], photographer, half)
    bulk_photos(family, [ava, ben], photographer, count - half)
    client.force_login(coordinator)
    client.get(GALLERY)  # the first request creates the usersession row
    # + the children the child filter offers, with their families; the ids of the photos up to the count
    #   cap (the count and the page in one query); the page's photos with their families; the children
    #   tagged in them; the uses: the children's consent positions (children's families, carers with
    #   parental responsibility, re-consent cutoff, records).
    expected = STAFF_REQUEST_QUERIES + 9  # + the coordinator's own families, whose children are named
    if filtered:
        # + the children tagged in the candidate photos. Their consent positions take the place of the
        #   page's (the same four queries), and give the page's uses too.
        expected += 1
    with django_assert_num_queries(expected):
        response = client.get(GALLERY, {"use": Purpose.ONLINE} if filtered else {})
    assert response.status_code == 200
    assert len(response.context["cards"]) == min(count if not filtered else half, 48)
    assert response.context["page"].paginator.count == (half if filtered else count)


@pytest.mark.django_db
def test_it_counts_only_up_to_the_cap_and_still_turns_the_pages_past_it(
    client, coordinator, world, monkeypatch, django_assert_num_queries
):
    monkeypatch.setattr(photos.views, "GALLERY_COUNT_CAP", 60)
    photographer = factories.staff_user("photographer")
    older = bulk_photos(world.second_family, [world.cara], photographer, 146, at=NOW - 30 * DAY)  # 150 in all
    client.force_login(coordinator)

    first = client.get(GALLERY)
    assert not first.context["page"].paginator.exact
    body = first.content.decode()
    assert "More than 60 photos, page 1</p>" in body and "<span>Page 1</span>" in body
    assert 'href="?page=2"' in body

    with django_assert_num_queries(STAFF_REQUEST_QUERIES + 9):  # as many past the cap as within it
        third = client.get(GALLERY, {"page": 3})
    assert [card["photo"] for card in third.context["cards"]] == older[92:140]  # after the 4 of the world
    assert "More than 60 photos, page 3</p>" in third.content.decode()
    assert 'href="?page=4"' in third.content.decode()

    last = client.get(GALLERY, {"page": 4})  # counted to its end: the total is known again
    assert last.context["page"].paginator.exact
    assert [card["photo"] for card in last.context["cards"]] == older[140:]
    assert "150 photos, page 4 of 4</p>" in last.content.decode()
    assert "Next page" not in last.content.decode()

    assert client.get(GALLERY, {"page": 99}).context["page"].number == 4  # past the end: the last page
    assert client.get(GALLERY, {"page": "two"}).context["page"].number == 1


@pytest.mark.django_db
def test_it_gives_the_exact_count_within_the_cap(client, coordinator, world):
    client.force_login(coordinator)
    response = client.get(GALLERY)
    assert response.context["page"].paginator.exact
    assert "4 photos</p>" in response.content.decode()
    assert "No photos match these filters." in client.get(GALLERY, {"family": "NOT-A-FAMILY"}).content.decode()


@pytest.mark.django_db
def test_it_filters_by_the_day_in_local_time(client, coordinator, world):
    photographer = factories.staff_user("photographer")
    london = zoneinfo.ZoneInfo("Europe/London")  # settings.TIME_ZONE; summer time is an hour ahead of UTC
    [late] = bulk_photos(world.family, [world.ava], photographer, 1, at=datetime(2025, 6, 1, 23, 30, tzinfo=london))
    [early] = bulk_photos(world.family, [world.ava], photographer, 1, at=datetime(2025, 6, 2, 0, 30, tzinfo=london))
    client.force_login(coordinator)
    assert _shown(client, taken_from="2025-06-01", taken_to="2025-06-01") == [late]
    assert _shown(client, taken_from="2025-06-02", taken_to="2025-06-02") == [early]
    assert _shown(client, taken_to="9999-12-31")[-2:] == [early, late]  # the last day there is: no error


@pytest.mark.django_db
def test_it_describes_each_photo_links_it_and_labels_its_uses(client, coordinator, world):
    photographer = factories.staff_user("photographer")
    [nobody] = bulk_photos(world.family, [], photographer, 1, at=NOW - 4 * DAY)
    client.force_login(coordinator)
    body = client.get(GALLERY).content.decode()

    day = lambda photo, style: dateformat.format(timezone.localtime(photo.uploaded_at), style)  # noqa: E731
    first, second = sorted([world.ava, world.ben], key=lambda child: (child.first_name, child.last_name))
    group = world.group
    described = escape(f"Photo of {first} and {second}, {day(group, 'j F Y')}")
    detail_url = reverse("photos:detail", args=[group.public_id])
    thumbnail_url = reverse("photos:image", args=[group.public_id, "thumbnail"])
    assert f'<a class="photo-card-image" href="{detail_url}"><img src="{thumbnail_url}" alt="{described}"' in body
    assert f"<span>{world.family.reference}</span> <span>{day(group, 'j M Y')}</span>" in body
    assert f'alt="Photo in which no child can be identified, {day(nobody, "j F Y")}"' in body
    badges = '<li class="badge use-badge">Photographed</li><li class="badge use-badge">Kept in the vault</li>'
    assert badges + '<li class="badge use-badge">Training</li>' in body
    assert "<dt>Face online</dt><dd>Face may be recognisable in what is published online</dd>" in body

    detail = client.get(detail_url).content.decode()
    assert f'<h1 class="photo-title">{described}</h1>' in detail
