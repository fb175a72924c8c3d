"""Some findings cannot be dismissed (issue 14, point 5): the name of a child whose family has not consented to
online use, and a family's contact details, block the post; the approver cannot type "ok" past them, in the
view or in the service, and a consent withdrawn after approval stops the publication too."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from consents.models import Purpose
from social.models import CheckDismissal, Post
from social.posts import services as posts
from social.posts.services import CHECKLIST, PostError
from tests import factories
from tests.consents import factories as cf

CHECKED = dict.fromkeys(CHECKLIST, True)
TEXT = "Well done to Tyler Hughes for a brilliant week at the art club!"
# A full name is a register name and, on its own, a child who could be identified: two findings to answer.
REASONS = {"names": "Tyler's mum asked us to name him.", "identifying": "His mum agreed to his full name."}


@pytest.fixture
def author(db):
    return factories.staff_user("staff", email="writer@example.org")


@pytest.fixture
def admin(db):
    return factories.staff_user("social_admin", email="admin@example.org")


@pytest.fixture
def tyler(db):
    """Tyler Hughes, whose carer said yes to everything (for now)."""
    family, child, [carer] = cf.family_with_child()
    child.first_name, child.last_name = "Tyler", "Hughes"
    child.save()
    cf.give(child, carer, cf.all_answers())
    return child, carer


def _submitted(author, text: str = TEXT) -> Post:
    post = posts.post_save_draft(author=author, text=text, channels=["website"], scheduled_for=None, photos=[])
    posts.post_submit(post=post, by=author)
    return Post.objects.get(pk=post.pk)


def _names(post: Post):
    return [f for f in posts.post_findings(post) if f.check == "names"]


def test_a_child_named_with_online_consent_is_a_finding_an_approver_may_dismiss(author, admin, tyler):
    post = _submitted(author)
    [finding] = _names(post)
    assert finding.dismissible
    posts.post_approve(post=post, by=admin, checklist=CHECKED, dismissals=REASONS)
    assert Post.objects.get(pk=post.pk).status == Post.Status.APPROVED


def test_a_child_named_whose_family_refused_online_use_cannot_even_be_sent_for_review(author, tyler):
    child, carer = tyler
    cf.withdraw(child, carer, [Purpose.ONLINE])
    post = posts.post_save_draft(author=author, text=TEXT, channels=["website"], scheduled_for=None, photos=[])
    with pytest.raises(PostError, match="cannot be sent for review"):
        posts.post_submit(post=post, by=author)
    assert Post.objects.get(pk=post.pk).status == Post.Status.DRAFT


def test_the_service_will_not_approve_it_with_ok(author, admin, tyler):
    child, carer = tyler
    post = _submitted(author)
    cf.withdraw(child, carer, [Purpose.ONLINE])  # after it was sent for review
    [finding] = _names(post)
    assert not finding.dismissible
    with pytest.raises(PostError, match="cannot be dismissed"):
        posts.post_approve(post=post, by=admin, checklist=CHECKED, dismissals={"names": "ok", "identifying": "ok"})
    assert Post.objects.get(pk=post.pk).status == Post.Status.SUBMITTED
    assert not CheckDismissal.objects.exists()


def test_the_view_will_not_approve_it_with_ok(client, author, admin, tyler):
    child, carer = tyler
    post = _submitted(author)
    cf.withdraw(child, carer, [Purpose.ONLINE])
    client.force_login(admin)
    page = client.get(reverse("social:post", args=[post.pk])).content.decode()
    assert "Cannot be dismissed" in page
    response = client.post(
        reverse("social:post_approve", args=[post.pk]),
        {**{f"check_{key}": "on" for key in CHECKLIST}, "reason_names": "ok", "reason_identifying": "ok"},
    )
    assert response.status_code == 400
    assert "cannot be dismissed" in response.content.decode()
    assert Post.objects.get(pk=post.pk).status == Post.Status.SUBMITTED
    assert not CheckDismissal.objects.exists()


def test_a_dismissal_given_before_consent_was_withdrawn_does_not_carry_it_to_publication(author, admin, tyler):
    child, carer = tyler
    post = _submitted(author)
    posts.post_approve(post=post, by=admin, checklist=CHECKED, dismissals=REASONS)
    cf.withdraw(child, carer, [Purpose.ONLINE])
    with pytest.raises(PostError):
        posts.post_publish(
            post=Post.objects.get(pk=post.pk),
            by=admin,
            adapter_name="manual",
            url="https://fig.example.org/news/1",
            published_at=timezone.now() - timedelta(minutes=1),
        )
    post.refresh_from_db()
    assert post.status == Post.Status.CHANGES_REQUESTED and "cannot be dismissed" in post.review_note.lower()


def test_a_familys_phone_number_cannot_be_waved_through(author, admin, tyler):
    _child, carer = tyler
    carer.phone = "07700 900123"
    carer.save()
    post = posts.post_save_draft(
        author=author,
        text="Call Tyler's mum on +44 7700 900 123 about the trip",
        channels=["website"],
        scheduled_for=None,
        photos=[],
    )
    contact = [f for f in posts.post_findings(post) if f.check == "contact"]
    assert contact and not any(f.dismissible for f in contact)
    with pytest.raises(PostError, match="cannot be sent for review"):
        posts.post_submit(post=post, by=author)
