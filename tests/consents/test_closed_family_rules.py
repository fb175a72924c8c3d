"""A closed family is closed everywhere: not to a parent who still speaks for another, open family, not on the
upload form, not in the mass requests or the coordinator's "running out" list, and its links say why."""

from __future__ import annotations

import pytest
from django.urls import reverse

from consents.errors import ConsentError, LinkProblem
from consents.links import request_link_token, review_link_token
from consents.models import Family
from consents.selectors import request_from_token, review_from_token
from consents.services import closure
from consents.services.requests import consent_request_bulk
from consents.services.signing import consent_give_signed_in
from photos.selectors import can_upload_for
from tests import factories
from tests.consents.factories import (
    EVIDENCE,
    PNG_DATA_URL,
    CarerFactory,
    all_answers,
    family_with_child,
    give,
    request_for,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def shared(coordinator):
    """Mum speaks for a child in an open family and, with the same address, for one in a family now closed."""
    open_family, kept, [mum] = family_with_child(coordinator)
    closed_family, gone, _ = family_with_child(coordinator)
    also = CarerFactory(family=closed_family, email=mum.email, has_parental_responsibility=True)
    request_for(kept, mum)
    request_for(gone, also)
    mum.refresh_from_db()
    also.refresh_from_db()
    assert also.user_id == mum.user_id
    give(gone, also)
    review = review_link_token(carer=also, child=gone)
    closure.family_close(family=closed_family, by=coordinator, reason="Moved away from the area.")
    return mum, kept, gone, review


def test_the_parent_still_signed_in_for_an_open_family_no_longer_sees_the_closed_ones_child(client, shared):
    mum, kept, gone, _ = shared
    mum.user.refresh_from_db()
    assert mum.user.is_active  # still needed for the open family
    client.force_login(mum.user)
    assert client.get(reverse("consents:my_child", args=[kept.pk])).status_code == 200
    assert client.get(reverse("consents:my_child", args=[gone.pk])).status_code == 404
    assert (
        reverse("consents:my_child", args=[gone.pk]) not in client.get(reverse("consents:my_children")).content.decode()
    )
    with pytest.raises(ConsentError):
        consent_give_signed_in(
            user=mum.user,
            child=gone,
            answers=all_answers(),
            typed_name="Mum",
            confirmed_pr=True,
            signature_data_url=PNG_DATA_URL,
            evidence=EVIDENCE,
        )


def test_a_closed_familys_links_say_the_family_is_closed(client, shared):
    _, _, gone, review = shared
    with pytest.raises(LinkProblem) as problem:
        review_from_token(review)
    assert problem.value.kind == "closed"
    page = client.get(reverse("consents:review", args=[review]))
    assert page.status_code == 404
    assert "FiG no longer works with your family" in page.content.decode()


def test_a_signing_link_of_a_closed_family_says_so(client, coordinator):
    family, child, [carer] = family_with_child(coordinator)
    token = request_link_token(request_for(child, carer))
    closure.family_close(family=family, by=coordinator, reason="Moved away from the area.")
    with pytest.raises(LinkProblem) as problem:
        request_from_token(token)
    assert problem.value.kind == "closed"
    assert "FiG no longer works with your family" in client.get(reverse("consents:sign", args=[token])).content.decode()


def test_closed_families_are_not_offered_for_upload_nor_asked_in_bulk(coordinator, django_capture_on_commit_callbacks):
    photographer = factories.staff_user("photographer", email="photographer@example.org")
    open_family, _, _ = family_with_child(coordinator)
    closed_family, _, _ = family_with_child(coordinator)
    closure.family_close(family=closed_family, by=coordinator, reason="Moved away from the area.")
    assert set(can_upload_for(photographer)) == {open_family}
    assert set(can_upload_for(coordinator)) == {open_family}
    sent, problems = consent_request_bulk(families=Family.objects.all(), by=coordinator)
    assert sent == 1 and problems == []
    assert not closed_family.children.get().requests.exists()
