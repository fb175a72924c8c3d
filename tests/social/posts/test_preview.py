"""Before approving, see what will be posted (issue 16): on the post page, a preview for each channel with the
text, its length counted the way the channel counts it against the channel's limit (X weighs a link as 23
characters and an emoji as 2), the exact image of each photo (blurred where that is what was approved), what
stops the post going there as it is; the checks with how each was dismissed at approval; and in the review
queue a thumbnail and the number of findings.
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from photos.models import Photo
from social.models import PolicyTerm, Post
from social.posts import services as posts
from social.posts import terms
from social.posts.selectors import ChannelPreview
from staff.models import User
from tests import factories
from tests.consents import factories as cf
from tests.photos.fixtures import bulk_photos, consented_child, ready_photo
from tests.photos.images import astronaut

TEXT = "Thank you to everyone who came to the family craft afternoon this week."
LINK_TEXT = "Come to our fair! https://www.example.org/events/summer-fair-2026/tickets-and-times"
FLAGGED = "We will pray for sunshine. Call 07700 900123 to join in."  # religious and contact findings
ALL_TICKED = dict.fromkeys(posts.CHECKLIST, True)
EVERY_CHANNEL = ["facebook", "instagram", "x", "linkedin", "website"]


@pytest.fixture
def author(db):
    return factories.staff_user("staff", "post_writer", email="author@example.org", full_name="Alex Author")


@pytest.fixture
def reviewer(db):
    return factories.staff_user("social_admin", email="reviewer@example.org", full_name="Rae Reviewer")


def _draft(author: User, text: str = TEXT, channels=EVERY_CHANNEL, photos=()) -> Post:
    return posts.post_save_draft(
        author=author, text=text, channels=list(channels), scheduled_for=None, photos=list(photos)
    )


def _page(client, who: User, post: Post):
    client.force_login(who)
    response = client.get(reverse("social:post", args=[post.pk]))
    assert response.status_code == 200
    return response, response.content.decode()


def _previews(response) -> dict[str, ChannelPreview]:
    return {p.channel: p for p in response.context["previews"]}


# --- the count against each channel's limit --------------------------------------------------------------


@pytest.mark.django_db
def test_x_counts_a_link_as_23_characters_and_the_others_count_every_character(client, author):
    post = _draft(author, LINK_TEXT)
    response, body = _page(client, author, post)
    previews = _previews(response)

    assert [p.channel for p in response.context["previews"]] == EVERY_CHANNEL  # the author's order
    assert len(LINK_TEXT) == 83
    assert previews["x"].length == len("Come to our fair! ") + 23 == 41
    assert {c: p.length for c, p in previews.items() if c != "x"} == dict.fromkeys(
        ["facebook", "instagram", "linkedin", "website"], 83
    )
    assert {c: p.limit for c, p in previews.items()} == {
        "facebook": 63_206,
        "instagram": 2_200,
        "x": 280,
        "linkedin": 3_000,
        "website": None,
    }
    assert "41 of 280 characters, as X counts them (a link counts as 23)" in body
    assert "83 of 63,206 characters" in body
    assert "83 of 2,200 characters" in body
    assert "83 of 3,000 characters" in body
    assert "83 characters (no limit)" in body


@pytest.mark.django_db
def test_x_counts_an_emoji_as_two_so_a_short_text_can_be_too_long_for_x_alone(client, author, reviewer):
    post = _draft(author, "🎉" * 141, channels=["x", "facebook"])
    response, body = _page(client, author, post)
    previews = _previews(response)

    assert (previews["x"].length, previews["x"].over) == (282, 2)
    assert (previews["facebook"].length, previews["facebook"].over) == (141, 0)
    # Over the limit in words, not only in colour.
    assert "282 of 280 characters, as X counts them (a link counts as 23): <strong>2 too many</strong>" in body
    assert (
        "Too long for X (Twitter): 282 characters as X counts them, 2 over its limit of 280. Shorten the text, "
        "or take X (Twitter) off the post." in body
    )
    assert previews["facebook"].problems == []
    assert body.count("preview-card-problem") == 1


@pytest.mark.django_db
def test_a_text_too_long_for_instagram_and_linkedin_says_so(client, author):
    text = "A long thank you. " * 170  # 3,060 characters
    post = _draft(author, text, channels=["instagram", "linkedin", "facebook", "website"])
    response, body = _page(client, author, post)
    previews = _previews(response)
    assert previews["instagram"].over == len(text.strip()) - 2_200
    assert previews["linkedin"].over == len(text.strip()) - 3_000 > 0
    assert previews["facebook"].over == previews["website"].over == 0
    assert f"Too long for LinkedIn: {len(text.strip()):,} characters, {len(text.strip()) - 3000} over" in body
    assert "Too long for Instagram" in body


# --- photos: the exact image, and how many each channel takes -------------------------------------------------


@pytest.mark.django_db
def test_instagram_needs_a_photo(client, author):
    response, body = _page(client, author, _draft(author, channels=["instagram", "facebook"]))
    previews = _previews(response)
    assert previews["instagram"].problems == [
        "Instagram needs a photo: this post has none. Add one, or take Instagram off the post."
    ]
    assert previews["facebook"].problems == []
    assert "Instagram needs a photo" in body


@pytest.mark.django_db
def test_x_takes_four_photos_and_instagram_ten(client, author):
    family, child, _ = consented_child()
    photos = bulk_photos(family, [child], author, 11)
    response, body = _page(client, author, _draft(author, channels=["x", "instagram", "facebook"], photos=photos))
    previews = _previews(response)
    assert previews["x"].problems == ["X takes at most 4 photos in one post; this post has 11."]
    assert previews["instagram"].problems == ["Instagram takes at most 10 photos in one post; this post has 11."]
    assert previews["facebook"].problems == []

    response, _ = _page(client, author, _draft(author, channels=["x", "instagram"], photos=photos[:4]))
    assert all(p.problems == [] for p in response.context["previews"])
    response, _ = _page(client, author, _draft(author, channels=["x"], photos=photos[:5]))
    assert _previews(response)["x"].problems == ["X takes at most 4 photos in one post; this post has 5."]


@pytest.mark.django_db
def test_each_channel_shows_the_exact_image_approved_blurred_where_that_is_what_goes(client, author, reviewer):
    photographer = factories.staff_user("photographer", email="photographer@example.org")
    family, child, carer = consented_child()
    as_taken = ready_photo(family, [child], photographer)
    unrecognisable = cf.ChildFactory(family=family)
    cf.give(unrecognisable, carer, cf.all_answers(face_online=False))
    blurred = ready_photo(family, [unrecognisable], photographer, data=astronaut())
    Photo.objects.filter(pk=blurred.pk).update(marked_unidentifiable=True)
    post = _draft(author, channels=["facebook", "instagram", "x"], photos=[as_taken, blurred])
    posts.post_submit(post=post, by=author)

    response, body = _page(client, reviewer, post)  # the reviewer, before approving
    assert "approve_form" in response.context
    for preview in response.context["previews"]:
        assert [(photo.pk, version) for photo, version in preview.photos] == [
            (as_taken.pk, "original"),
            (blurred.pk, "unidentifiable"),
        ]
    thumbnail = reverse("social:post_photo_thumbnail", args=[blurred.public_id])
    # One image in each of the three channels' previews, and one in the photos card; never the face as taken.
    assert body.count(f'src="{thumbnail}?version=unidentifiable"') == 4
    assert f'src="{thumbnail}?version=original"' not in body and f'src="{thumbnail}"' not in body
    as_taken_thumbnail = reverse("social:post_photo_thumbnail", args=[as_taken.public_id])
    assert body.count(f'src="{as_taken_thumbnail}?version=original"') == 4
    assert body.count("Blurred: every face hidden") == 3
    assert "what is approved is what goes out" in body


# --- the findings, and how each was dismissed -------------------------------------------------------------------


@pytest.mark.django_db
def test_the_page_shows_each_finding_and_after_approval_how_it_was_dismissed(client, author, reviewer):
    post = _draft(author, FLAGGED, channels=["facebook"])
    posts.post_submit(post=post, by=author)
    _, before = _page(client, reviewer, post)
    assert "Dismissed at approval" not in before

    posts.post_approve(
        post=post,
        by=reviewer,
        checklist=ALL_TICKED,
        dismissals={"religious": "It is the weather, not worship.", "contact": "It is FiG's own office number."},
    )
    response, body = _page(client, author, post)
    rows = {finding.check: dismissal for finding, dismissal in response.context["finding_rows"]}
    assert set(rows) == {"religious", "contact"}
    assert rows["religious"].reason == "It is the weather, not worship."
    assert rows["contact"].dismissed_by == reviewer
    assert "Dismissed at approval</span> by Rae Reviewer" in body
    assert "because: It is the weather, not worship." in body
    assert "because: It is FiG&#x27;s own office number." in body
    assert "Dismissed at approval, finding nothing now" not in body

    # A term switched off since: the check finds nothing now, and its dismissal is still shown.
    for term in PolicyTerm.objects.filter(term__iexact="pray", is_active=True):
        terms.policy_term_switch(term=term, on=False, by=reviewer)
    response, body = _page(client, author, post)
    assert {f.check for f, _ in response.context["finding_rows"]} == {"contact"}
    assert [title for title, _ in response.context["dismissed_before"]] == ["Religious content"]
    assert "Dismissed at approval, finding nothing now" in body
    assert "because: It is the weather, not worship." in body


@pytest.mark.django_db
def test_the_review_queue_shows_a_thumbnail_and_how_many_findings(client, author, reviewer):
    photographer = factories.staff_user("photographer", email="photographer@example.org")
    family, child, _ = consented_child()
    photo = ready_photo(family, [child], photographer)
    flagged = _draft(author, FLAGGED, channels=["facebook"], photos=[photo])
    posts.post_submit(post=flagged, by=author)
    plain = _draft(author, channels=["facebook"])
    posts.post_submit(post=plain, by=author)

    client.force_login(reviewer)
    response = client.get(reverse("social:review_queue"))
    body = response.content.decode()
    rows = {row["post"].pk: row for row in response.context["rows"]}
    assert (rows[flagged.pk]["thumbnail"], rows[flagged.pk]["findings"]) == (photo, 2)
    assert (rows[plain.pk]["thumbnail"], rows[plain.pk]["findings"]) == (None, 0)
    assert f'src="{reverse("social:post_photo_thumbnail", args=[photo.public_id])}?version=original"' in body
    assert "2 findings</span>" in body and "No findings</span>" in body
