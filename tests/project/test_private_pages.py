"""Sensitive pages are not cached (issue 17): every answer to a signed-in person, and every answer of the
public signing and review pages, says `Cache-Control: private, no-store`; static files keep theirs."""

from __future__ import annotations

import pytest
from django.urls import reverse

from consents.links import request_link_token, review_link_token
from tests.project.site_walk import PERSONAS, build_site, client_for, real_paths

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _links_not_limited(settings):
    settings.FIG_CONSENT_LINK_RATES = "10000/m"  # the walk opens each emailed link more often than anyone would


def _directives(response) -> set[str]:
    return {part.strip().split("=")[0] for part in response.get("Cache-Control", "").split(",") if part.strip()}


def _kept_private(response) -> bool:
    return {"private", "no-store"} <= _directives(response)


def test_every_answer_of_every_url_is_private_and_not_stored():
    """For someone not signed in, the one page whose view says just "no-store" keeps it: the single-use image
    address a platform fetches (social.posts.views.publish_image). Nothing is stored either way."""
    site = build_site()
    cached = []
    statuses = set()
    for persona in PERSONAS:
        client = client_for(persona, site)
        for path, name in real_paths(site):
            response = client.get(path)
            statuses.add(response.status_code)
            kept = "no-store" in _directives(response) if name == "publish_image" else _kept_private(response)
            if not kept:
                cached.append((persona, path, response.status_code, response.get("Cache-Control")))
    assert cached == []
    assert {200, 302, 403, 404, 405} <= statuses


def test_the_pages_the_black_box_test_found_cached_are_private_and_not_stored():
    site = build_site()
    staff, parent, anonymous = (client_for(persona, site) for persona in PERSONAS)
    family, child = site.family.reference, site.child.pk
    pages = [
        (staff, reverse("consents:register") + "?format=csv"),
        (staff, reverse("consents:certificate", args=[site.signed.pk])),
        (staff, reverse("consents:record_file", args=[site.signed.pk, "signature"])),
        (staff, reverse("consents:family_detail", args=[family])),
        (staff, reverse("consents:child_history", args=[family, child])),
        (staff, reverse("photos:access_log", args=[site.photo.public_id])),
        (staff, reverse("social:message", args=[site.conversation.pk])),
        (staff, reverse("social:inbox") + "?q=picnic"),
        (parent, reverse("consents:my_children")),
        (parent, reverse("consents:my_child", args=[child])),
        (parent, reverse("social:parent_posts")),
        (anonymous, reverse("consents:sign", args=[request_link_token(site.pending)])),
        (anonymous, reverse("consents:review", args=[review_link_token(carer=site.carer, child=site.child)])),
        (anonymous, reverse("account_login")),
        (anonymous, reverse("account_request_login_code")),
    ]
    for client, url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        assert _kept_private(response), (url, response.get("Cache-Control"))
    assert staff.get(reverse("consents:register") + "?format=csv")["Content-Type"].startswith("text/csv")


def test_static_files_keep_their_own_caching(client, coordinator):
    for signed_in in (False, True):
        if signed_in:
            client.force_login(coordinator)
        response = client.get("/static/css/fig.css")
        assert response.status_code == 200
        assert "no-store" not in _directives(response) and "private" not in _directives(response)
