"""The post workflow services: four-eyes approval, the consent gate at every step, expiry,
the withdrawal cascade and parents' removal requests.

Personas: an author (staff), two social media administrators, a coordinator who
uploads the photos, the parent of the pictured child, and a parent of another family.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection
from django.utils import timezone

from consents import hooks
from consents.models import Carer, Child, Family, Purpose
from photos.models import Photo
from social.models import CheckDismissal, Post, PostChannel, Takedown
from social.posts import channels
from social.posts import services as posts
from social.posts.selectors import posts_showing_children_of
from social.posts.services import CHECKLIST, PostError
from staff.models import AuditEvent, User
from staff.notifications import deliver_outbox
from tests import factories
from tests.consents import factories as cf
from tests.photos.fixtures import ready_photo

CLEAN = "What a wonderful summer picnic! Thank you to all our volunteers."
FLAGGED = "We will pray for sunshine. Call 07700 900123 to join in."  # religious and contact findings
CHECKED = dict.fromkeys(CHECKLIST, True)
S, C = Post.Status, PostChannel.State


@dataclass
class Pictured:
    family: Family
    child: Child
    carer: Carer
    photo: Photo


@pytest.fixture
def author(db) -> User:
    return factories.staff_user("staff", "post_writer", email="author@example.org")


@pytest.fixture
def admin(db) -> User:
    return factories.staff_user("social_admin", email="admin@example.org")


@pytest.fixture
def other_admin(db) -> User:
    return factories.staff_user("social_admin", email="admin2@example.org")


def _pictured(coordinator: User, **answers: bool) -> Pictured:
    """A child whose carer answered yes to everything unless told, and a READY photo of them."""
    family, child, [carer] = cf.family_with_child(coordinator=coordinator)
    cf.give(child, carer, cf.all_answers(**answers))
    return Pictured(family, child, carer, ready_photo(family, [child], coordinator))


@pytest.fixture
def pictured(coordinator) -> Pictured:
    return _pictured(coordinator)


@pytest.fixture
def without_cascade():
    """Consent changes that the post cascade does not see, as if it had missed them."""
    saved = list(hooks._handlers)
    hooks.unregister_withdrawal_handler(posts.posts_on_consent_withdrawn)
    yield
    hooks._handlers[:] = saved


def _draft(author: User, *, text: str = CLEAN, photos=(), scheduled_for=None) -> Post:
    return posts.post_save_draft(
        author=author, text=text, channels=["facebook"], scheduled_for=scheduled_for, photos=list(photos)
    )


def _submitted(author: User, **kwargs) -> Post:
    post = _draft(author, **kwargs)
    posts.post_submit(post=post, by=author)
    return _fresh(post)


def _approved(author: User, admin: User, **kwargs) -> Post:
    post = _submitted(author, **kwargs)
    return posts.post_approve(post=post, by=admin, checklist=CHECKED, dismissals={})


def _published(author: User, admin: User, **kwargs) -> Post:
    post = _approved(author, admin, **kwargs)
    return posts.post_publish(
        post=post,
        by=admin,
        adapter_name="manual",
        url="https://www.facebook.com/fig/posts/1",
        published_at=timezone.now() - timedelta(minutes=1),
    )


def _in_state(state: str, author: User, admin: User, **kwargs) -> Post:
    if state == S.DRAFT:
        return _draft(author, **kwargs)
    if state == S.SUBMITTED:
        return _submitted(author, **kwargs)
    if state == S.CHANGES_REQUESTED:
        return posts.post_request_changes(post=_submitted(author, **kwargs), by=admin, note="Shorter, please.")
    if state == S.APPROVED:
        return _approved(author, admin, **kwargs)
    assert state == S.PUBLISHED, state
    return _published(author, admin, **kwargs)


def _fresh(post: Post) -> Post:
    return Post.objects.get(pk=post.pk)


def _events(post: Post, action: str | None = None) -> list[AuditEvent]:
    events = AuditEvent.objects.filter(target_type="social.post", target_id=str(post.pk)).order_by("id")
    return list(events.filter(action=action) if action else events)


def _clear_mail() -> None:
    """Send what earlier steps left in the outbox, then forget it, so a test sees only the next step's mail."""
    deliver_outbox()
    mail.outbox.clear()


def _mail() -> list[tuple[str, list[str]]]:
    return [(m.subject, m.to) for m in mail.outbox]


# --- the workflow --------------------------------------------------------------------------------------------


def test_it_goes_from_draft_to_submitted_to_approved_to_published(
    author, admin, other_admin, pictured, django_capture_on_commit_callbacks
):
    _clear_mail()
    with django_capture_on_commit_callbacks(execute=True):
        post = posts.post_save_draft(
            author=author,
            text=f"  {CLEAN}  ",
            channels=["facebook", "website", "bogus"],
            scheduled_for=None,
            photos=[pictured.photo],
        )
    assert (post.status, post.text, post.channels) == (S.DRAFT, CLEAN, ["facebook", "website"])
    assert list(post.photos.all()) == [pictured.photo]
    assert _mail() == []  # nobody but the author acts on a draft

    with django_capture_on_commit_callbacks(execute=True):
        assert posts.post_submit(post=post, by=author) == []
    post = _fresh(post)
    assert post.status == S.SUBMITTED and post.submitted_at is not None
    assert sorted(_mail()) == sorted(
        [
            (f"A post by {author} is waiting for review", [admin.email]),
            (f"A post by {author} is waiting for review", [other_admin.email]),
        ]
    )  # one message each: nobody sees the other's address

    _clear_mail()
    with django_capture_on_commit_callbacks(execute=True):
        posts.post_approve(post=post, by=admin, checklist=CHECKED, dismissals={})
    post = _fresh(post)
    assert (post.status, post.reviewed_by, post.checklist) == (S.APPROVED, admin, CHECKED)
    # The author hears it is approved; the other administrator, who may publish it, that it is ready.
    assert sorted(_mail()) == sorted(
        [
            ("Your post is approved", [author.email]),
            (f"A post by {author} is approved and ready to publish", [other_admin.email]),
        ]
    )

    # Nothing is configured to send it, so each channel waits to be published by hand.
    assert [(d.channel, d.by_hand, d.state) for d in post.deliveries.all()] == [
        ("facebook", True, C.WAITING),
        ("website", True, C.WAITING),
    ]

    # Each channel's link is recorded on its own; the post is published once the last one is.
    _clear_mail()
    published_at = timezone.now() - timedelta(minutes=3)
    facebook, website = post.deliveries.all()
    with django_capture_on_commit_callbacks(execute=True):
        channels.delivery_record(
            delivery=facebook, url="https://www.facebook.com/fig/posts/42", by=admin, published_at=published_at
        )
    assert _fresh(post).status == S.PARTLY_PUBLISHED and _mail() == []
    with django_capture_on_commit_callbacks(execute=True):
        channels.delivery_record(delivery=website, url="https://www.fig.org.uk/news/picnic", by=admin)
    assert _mail() == [("Your post is published", [author.email])]
    assert "https://www.facebook.com/fig/posts/42" in mail.outbox[0].body
    post = _fresh(post)
    # The post's own link and time are those of the channel that went out first.
    assert (post.status, post.published_by, post.published_url, post.published_at) == (
        S.PUBLISHED,
        admin,
        "https://www.facebook.com/fig/posts/42",
        published_at,
    )
    assert [(d.channel, d.state, d.url, d.done_by) for d in post.deliveries.all()] == [
        ("facebook", C.RECORDED, "https://www.facebook.com/fig/posts/42", admin),
        ("website", C.RECORDED, "https://www.fig.org.uk/news/picnic", admin),
    ]

    assert [(e.action, e.actor) for e in _events(post)] == [
        ("post.drafted", author),
        ("post.submitted", author),
        ("post.approved", admin),
        ("post.channel_recorded", admin),
        ("post.channel_recorded", admin),
        ("post.published", admin),
    ]
    assert _events(post, "post.drafted")[0].details["photos"] == [pictured.photo.pk]
    assert [e.details for e in _events(post, "post.channel_recorded")] == [
        {"channel": "facebook", "url": "https://www.facebook.com/fig/posts/42"},
        {"channel": "website", "url": "https://www.fig.org.uk/news/picnic"},
    ]
    assert _events(post, "post.published")[0].details == {"channels": ["facebook", "website"]}


def test_an_author_who_is_an_administrator_is_not_asked_to_review_their_own_post(
    admin, other_admin, django_capture_on_commit_callbacks
):
    post = _draft(admin)
    _clear_mail()
    with django_capture_on_commit_callbacks(execute=True):
        posts.post_submit(post=post, by=admin)
    assert [to for _, to in _mail()] == [[other_admin.email]]


def test_approval_tells_the_author_and_every_other_administrator_who_may_publish_it(
    author, admin, other_admin, member_of_staff, django_capture_on_commit_callbacks
):
    third_admin = factories.staff_user("social_admin", email="admin3@example.org")
    post = _submitted(author)
    _clear_mail()
    with django_capture_on_commit_callbacks(execute=True):
        posts.post_approve(post=post, by=admin, checklist=CHECKED, dismissals={})
    ready = f"A post by {author} is approved and ready to publish"
    assert sorted(_mail()) == sorted(
        [
            ("Your post is approved", [author.email]),
            (ready, [other_admin.email]),  # one message each, as for submission
            (ready, [third_admin.email]),
        ]
    )  # not the approver, who knows, nor staff who cannot publish
    assert f"/social/posts/{post.pk}/" in mail.outbox[0].body


def test_an_administrator_whose_post_is_approved_hears_once_as_its_author(
    admin, other_admin, django_capture_on_commit_callbacks
):
    third_admin = factories.staff_user("social_admin", email="admin3@example.org")
    post = _submitted(admin)
    _clear_mail()
    with django_capture_on_commit_callbacks(execute=True):
        posts.post_approve(post=post, by=other_admin, checklist=CHECKED, dismissals={})
    assert sorted(_mail()) == sorted(
        [
            ("Your post is approved", [admin.email]),
            (f"A post by {admin} is approved and ready to publish", [third_admin.email]),
        ]
    )


@pytest.mark.parametrize("state", [S.SUBMITTED, S.CHANGES_REQUESTED, S.APPROVED, S.PUBLISHED])
def test_a_reviewer_withdrawing_someone_elses_post_tells_its_author(
    author, admin, state, django_capture_on_commit_callbacks
):
    post = _in_state(state, author, admin)
    _clear_mail()
    with django_capture_on_commit_callbacks(execute=True):
        posts.post_withdraw(post=post, by=admin, reason="We posted about this event last week.")
    to_author = [m for m in mail.outbox if m.to == [author.email]]
    assert [m.subject for m in to_author] == ["Your post was withdrawn"]
    assert "We posted about this event last week." in to_author[0].body
    assert str(admin) in to_author[0].body
    if state == S.PUBLISHED:
        assert "it is being taken down" in to_author[0].body
        assert (f"Takedown needed for published post #{post.pk}", [admin.email]) in _mail()
    else:
        assert _mail() == [("Your post was withdrawn", [author.email])]


def test_publishing_tells_the_author_but_not_an_administrator_who_published_their_own_post(
    author, admin, other_admin, django_capture_on_commit_callbacks
):
    theirs, own = _approved(author, admin), _approved(admin, other_admin)
    _clear_mail()
    with django_capture_on_commit_callbacks(execute=True):
        for post in (theirs, own):
            posts.post_publish(post=post, by=admin, adapter_name="manual", url="https://www.facebook.com/fig/posts/7")
    assert _mail() == [("Your post is published", [author.email])]


def test_changes_requested_then_edited_then_submitted_again(author, admin, django_capture_on_commit_callbacks):
    post = _submitted(author)
    _clear_mail()
    with django_capture_on_commit_callbacks(execute=True):
        posts.post_request_changes(post=post, by=admin, note="  Leave out the date of the trip.  ")
    post = _fresh(post)
    assert (post.status, post.review_note, post.reviewed_by) == (
        S.CHANGES_REQUESTED,
        "Leave out the date of the trip.",
        admin,
    )
    assert _mail() == [("Your post needs changes", [author.email])]
    assert "Leave out the date of the trip." in mail.outbox[0].body
    [event] = _events(post, "post.changes_requested")
    assert event.actor == admin and event.details == {"reason": "Leave out the date of the trip."}

    posts.post_save_draft(
        post=post,
        author=author,
        text="A trip to the seaside, thank you volunteers!",
        channels=["website"],
        scheduled_for=None,
        photos=[],
    )
    post = _fresh(post)
    assert (post.status, post.text, post.channels) == (
        S.CHANGES_REQUESTED,
        "A trip to the seaside, thank you volunteers!",
        ["website"],
    )
    assert _events(post, "post.edited")[0].actor == author

    _clear_mail()
    with django_capture_on_commit_callbacks(execute=True):
        posts.post_submit(post=post, by=author)
    assert _fresh(post).status == S.SUBMITTED
    assert _mail() == [(f"A post by {author} is waiting for review", [admin.email])]
    assert [e.action for e in _events(post)] == [
        "post.drafted",
        "post.submitted",
        "post.changes_requested",
        "post.edited",
        "post.submitted",
    ]


def test_an_approved_post_can_be_sent_back_too(author, admin):
    post = _approved(author, admin)
    posts.post_request_changes(post=post, by=admin, note="The event was cancelled.")
    assert _fresh(post).status == S.CHANGES_REQUESTED


@pytest.mark.parametrize("note", ["", "   "])
def test_sending_back_needs_a_reason(author, admin, note):
    post = _submitted(author)
    with pytest.raises(PostError, match="Say what needs to change"):
        posts.post_request_changes(post=post, by=admin, note=note)
    assert _fresh(post).status == S.SUBMITTED and not _events(post, "post.changes_requested")


def test_only_a_reviewer_sends_a_post_back(author, member_of_staff):
    post = _submitted(author)
    for who in (author, member_of_staff):
        with pytest.raises(PostError, match="administrator"):
            posts.post_request_changes(post=post, by=who, note="I changed my mind.")
    assert _fresh(post).status == S.SUBMITTED


def test_a_draft_cannot_be_sent_back(author, admin):
    post = _draft(author)
    with pytest.raises(PostError, match="draft, so it cannot be sent back"):
        posts.post_request_changes(post=post, by=admin, note="Shorter.")


def test_only_the_author_edits_and_only_while_it_is_with_them(author, member_of_staff, admin):
    post = _draft(author)
    with pytest.raises(PostError, match="Only the author"):
        posts.post_save_draft(
            post=post, author=member_of_staff, text="Mine now", channels=["x"], scheduled_for=None, photos=[]
        )
    posts.post_submit(post=post, by=author)
    with pytest.raises(PostError, match="awaiting review, so it cannot be edited"):
        posts.post_save_draft(post=post, author=author, text="Quick fix", channels=["x"], scheduled_for=None, photos=[])
    post = _fresh(post)
    assert (post.text, post.channels) == (CLEAN, ["facebook"])


def test_only_the_author_submits(author, member_of_staff, admin):
    post = _draft(author)
    for who in (member_of_staff, admin):
        with pytest.raises(PostError, match="Only the author"):
            posts.post_submit(post=post, by=who)
    assert _fresh(post).status == S.DRAFT and not _events(post, "post.submitted")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"text": "   "}, "Write the post"),
        ({"channels": ["myspace"]}, "Choose at least one channel"),
        ({"scheduled_for": "past"}, "must be in the future"),
    ],
)
def test_a_draft_needs_text_a_channel_and_a_future_time(author, fields, message):
    values = {"text": CLEAN, "channels": ["facebook"], "scheduled_for": None, "photos": [], **fields}
    if values["scheduled_for"] == "past":
        values["scheduled_for"] = timezone.now() - timedelta(minutes=1)
    with pytest.raises(PostError, match=message):
        posts.post_save_draft(author=author, **values)
    assert not Post.objects.exists()


@pytest.mark.parametrize("state", [S.DRAFT, S.SUBMITTED, S.CHANGES_REQUESTED, S.APPROVED, S.PUBLISHED])
def test_a_post_can_be_withdrawn_from_every_state(author, admin, state, django_capture_on_commit_callbacks):
    post = _in_state(state, author, admin)
    _clear_mail()
    with django_capture_on_commit_callbacks(execute=True):
        posts.post_withdraw(post=post, by=author, reason="The event was cancelled.")
    assert _fresh(post).status == S.WITHDRAWN
    [event] = _events(post, "post.withdrawn")
    assert event.actor == author and event.details == {"reason": "The event was cancelled."}

    if state == S.PUBLISHED:
        [takedown] = Takedown.objects.all()
        assert (takedown.post, takedown.status, takedown.reason, takedown.opened_by) == (
            post,
            Takedown.Status.OPEN,
            "The event was cancelled.",
            author,
        )
        assert takedown.due_at > timezone.now()
        assert _mail() == [(f"Takedown needed for published post #{post.pk}", [admin.email])]
    else:
        assert not Takedown.objects.exists() and _mail() == []

    with pytest.raises(PostError, match="withdrawn, so it cannot be withdrawn"):
        posts.post_withdraw(post=post, by=author, reason="again")


def test_a_reviewer_may_withdraw_a_post_but_another_member_of_staff_may_not(author, admin, member_of_staff):
    post = _submitted(author)
    with pytest.raises(PostError, match="Only the author or a social media administrator"):
        posts.post_withdraw(post=post, by=member_of_staff, reason="Not mine")
    assert _fresh(post).status == S.SUBMITTED and not _events(post, "post.withdrawn")
    posts.post_withdraw(post=post, by=admin, reason="Duplicate of another post")
    assert _fresh(post).status == S.WITHDRAWN


# --- who writes, and which photos ---------------------------------------------------------------------------


def test_only_staff_write_posts(parent, stranger, pictured):
    for who in (parent, stranger):
        with pytest.raises(PostError, match="Only FiG staff write posts"):
            _draft(who)
    assert not Post.objects.exists()


@pytest.mark.parametrize(
    "answers",
    [{"online": False, "face_online": False}, {"face_online": False}],
    ids=["no online consent", "online but not the face"],
)
def test_a_photo_of_a_child_without_online_consent_cannot_be_attached(author, coordinator, answers):
    refused = _pictured(coordinator, **answers)
    with pytest.raises(PostError, match="not allowed online"):
        _draft(author, photos=[refused.photo])
    assert not Post.objects.exists()
    assert refused.photo not in posts.postable_photos()


def test_a_group_photo_is_refused_when_one_child_lacks_online_consent(author, coordinator):
    family, ava, [carer] = cf.family_with_child(coordinator=coordinator)
    ben = cf.ChildFactory(family=family)
    cf.give(ava, carer)
    cf.give(ben, carer, cf.all_answers(online=False))
    group = ready_photo(family, [ava, ben], coordinator)
    alone = ready_photo(family, [ava], coordinator)
    assert set(posts.postable_photos()) == {alone}
    with pytest.raises(PostError, match="not allowed online"):
        _draft(author, photos=[alone, group])
    assert not Post.objects.exists()


def test_editing_cannot_slip_in_a_photo_without_online_consent(author, admin, coordinator, pictured):
    refused = _pictured(coordinator, online=False)
    post = _in_state(S.CHANGES_REQUESTED, author, admin, photos=[pictured.photo])
    with pytest.raises(PostError, match="not allowed online"):
        posts.post_save_draft(
            post=post,
            author=author,
            text=CLEAN,
            channels=["facebook"],
            scheduled_for=None,
            photos=[pictured.photo, refused.photo],
        )
    assert list(_fresh(post).photos.all()) == [pictured.photo]


def test_submitting_needs_the_consent_gate_to_pass(author, pictured, django_capture_on_commit_callbacks):
    post = _draft(author, photos=[pictured.photo])
    cf.withdraw(pictured.child, pictured.carer, [Purpose.FACE_ONLINE])  # a draft is not sent anywhere by the cascade
    assert _fresh(post).status == S.DRAFT
    _clear_mail()
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(PostError, match="photo consent check fails"):
        posts.post_submit(post=post, by=author)
    assert _fresh(post).status == S.DRAFT
    assert not _events(post, "post.submitted") and _mail() == []


def test_submitting_after_the_scheduled_time_is_refused(author):
    when = timezone.now() + timedelta(hours=1)
    post = _draft(author, scheduled_for=when)
    with cf.frozen(when + timedelta(minutes=1)), pytest.raises(PostError, match="scheduled time has passed"):
        posts.post_submit(post=post, by=author)
    assert _fresh(post).status == S.DRAFT


def test_text_findings_go_to_the_reviewer_rather_than_blocking_submission(author):
    post = _draft(author, text=FLAGGED)
    findings = posts.post_submit(post=post, by=author)
    assert {f.check for f in findings} == {"religious", "contact"}
    assert _fresh(post).status == S.SUBMITTED
    assert set(_events(post, "post.submitted")[0].details["findings"]) == {"religious", "contact"}


# --- four eyes ------------------------------------------------------------------------------------------------


def _assert_not_approved(post: Post) -> None:
    post = _fresh(post)
    assert post.status == S.SUBMITTED and post.reviewed_by is None
    assert not _events(post, "post.approved") and not CheckDismissal.objects.filter(post=post).exists()


def test_an_administrator_cannot_approve_their_own_post(admin):
    post = _submitted(admin)
    with pytest.raises(PostError, match="You wrote this post"):
        posts.post_approve(post=post, by=admin, checklist=CHECKED, dismissals={})
    _assert_not_approved(post)


def test_not_even_a_superuser_approves_their_own_post(other_admin):
    boss = factories.staff_user(email="boss@example.org", is_superuser=True)
    post = _submitted(boss)
    with pytest.raises(PostError, match="You wrote this post"):
        posts.post_approve(post=post, by=boss, checklist=CHECKED, dismissals={})
    _assert_not_approved(post)
    posts.post_approve(post=post, by=other_admin, checklist=CHECKED, dismissals={})
    assert _fresh(post).status == S.APPROVED


def test_only_a_social_media_administrator_approves(author, member_of_staff, coordinator, parent):
    post = _submitted(author)
    for who in (member_of_staff, coordinator, parent):
        with pytest.raises(PostError, match="Only a social media administrator"):
            posts.post_approve(post=post, by=who, checklist=CHECKED, dismissals={})
    _assert_not_approved(post)


@pytest.mark.parametrize("unchecked", list(CHECKLIST))
def test_the_approver_must_confirm_every_checklist_item(author, admin, unchecked):
    post = _submitted(author)
    with pytest.raises(PostError, match=CHECKLIST[unchecked]):
        posts.post_approve(post=post, by=admin, checklist={**CHECKED, unchecked: False}, dismissals={})
    with pytest.raises(PostError, match="Confirm every item"):
        posts.post_approve(
            post=post, by=admin, checklist={k: v for k, v in CHECKED.items() if k != unchecked}, dismissals={}
        )
    _assert_not_approved(post)


@pytest.mark.parametrize(
    "dismissals",
    [{}, {"religious": "A quote from a volunteer"}, {"religious": "A quote from a volunteer", "contact": "   "}],
)
def test_every_text_finding_needs_a_written_reason(author, admin, dismissals):
    post = _submitted(author, text=FLAGGED)
    with pytest.raises(PostError, match="Give a reason for dismissing each check: .*Contact details"):
        posts.post_approve(post=post, by=admin, checklist=CHECKED, dismissals=dismissals)
    _assert_not_approved(post)


def test_dismissal_reasons_are_kept_as_rows_and_in_the_audit_event(author, admin):
    post = _submitted(author, text=FLAGGED)
    reasons = {
        "religious": "  It is the weather, not worship. ",
        "contact": "It is FiG's own office number.",
        "names": "not found, so ignored",
    }
    posts.post_approve(post=post, by=admin, checklist=CHECKED, dismissals=reasons)
    assert _fresh(post).status == S.APPROVED
    rows = {(d.check_name, d.reason, d.dismissed_by) for d in CheckDismissal.objects.filter(post=post)}
    assert rows == {
        ("religious", "It is the weather, not worship.", admin),
        ("contact", "It is FiG's own office number.", admin),
    }
    [event] = _events(post, "post.approved")
    assert event.actor == admin
    assert event.details == {
        "dismissed": {"religious": "It is the weather, not worship.", "contact": "It is FiG's own office number."}
    }


def test_the_consent_gate_cannot_be_dismissed_at_approval(author, admin, pictured, without_cascade):
    post = _submitted(author, photos=[pictured.photo])
    cf.withdraw(pictured.child, pictured.carer, [Purpose.FACE_ONLINE])
    with pytest.raises(PostError, match="cannot be dismissed"):
        posts.post_approve(
            post=post, by=admin, checklist=CHECKED, dismissals={"consent": "The parent said yes on the phone."}
        )
    _assert_not_approved(post)


def test_a_post_can_only_be_approved_once(author, admin, other_admin):
    post = _approved(author, admin)
    with pytest.raises(PostError, match="approved, so it cannot be approved"):
        posts.post_approve(post=post, by=other_admin, checklist=CHECKED, dismissals={})
    assert _fresh(post).reviewed_by == admin and len(_events(post, "post.approved")) == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_approvers_at_once_on_postgresql_make_one_approval():
    assert connection.vendor == "postgresql"
    author = factories.staff_user("staff", "post_writer", email="author@example.org")
    first, second = (factories.staff_user("social_admin") for _ in range(2))
    post = _submitted(author)
    barrier = threading.Barrier(2)
    approved: list[int] = []
    refused: list[str] = []
    errors: list[BaseException] = []

    def approve(who: User) -> None:
        try:
            barrier.wait()
            posts.post_approve(post=Post.objects.get(pk=post.pk), by=who, checklist=CHECKED, dismissals={})
            approved.append(who.pk)
        except PostError as exc:
            refused.append(str(exc))
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=approve, args=(who,)) for who in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert not errors, errors
    assert len(approved) == 1 and refused == ["This post is approved, so it cannot be approved."]
    post = _fresh(post)
    assert post.status == S.APPROVED and post.reviewed_by_id == approved[0]
    assert AuditEvent.objects.filter(action="post.approved").count() == 1


# --- expiry ---------------------------------------------------------------------------------------------------


def test_a_post_not_approved_by_its_scheduled_time_goes_back_to_its_author(
    author, admin, django_capture_on_commit_callbacks
):
    when = timezone.now() + timedelta(hours=2)
    late = _submitted(author, scheduled_for=when)
    approved = _approved(author, admin, scheduled_for=when)
    later = _submitted(author, scheduled_for=when + timedelta(days=1))
    unscheduled = _submitted(author)
    draft = _draft(author, scheduled_for=when)
    _clear_mail()

    with django_capture_on_commit_callbacks(execute=True):
        assert posts.expire_unapproved(now=when + timedelta(minutes=1)) == 1

    late = _fresh(late)
    assert late.status == S.CHANGES_REQUESTED and "scheduled time" in late.review_note
    [event] = _events(late, "post.changes_requested")
    assert event.actor is None and event.details == {"reason": late.review_note}
    assert _mail() == [("Your post needs changes", [author.email])]
    assert {p.pk: _fresh(p).status for p in (approved, later, unscheduled, draft)} == {
        approved.pk: S.APPROVED,
        later.pk: S.SUBMITTED,
        unscheduled.pk: S.SUBMITTED,
        draft.pk: S.DRAFT,
    }

    events = AuditEvent.objects.count()
    with django_capture_on_commit_callbacks(execute=True):
        assert posts.expire_unapproved(now=when + timedelta(minutes=2)) == 0
    assert AuditEvent.objects.count() == events and len(mail.outbox) == 1
    assert _fresh(late).status == S.CHANGES_REQUESTED


def test_a_post_whose_time_has_passed_is_sent_back_as_the_sweep_would_rather_than_approved(
    author, admin, django_capture_on_commit_callbacks
):
    post = _submitted(author, text=FLAGGED, scheduled_for=timezone.now() + timedelta(hours=2))
    past = timezone.now() - timedelta(minutes=2)
    Post.objects.filter(pk=post.pk).update(scheduled_for=past)  # its time came while it waited, before the sweep ran
    _clear_mail()
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(PostError) as refused:
        posts.post_approve(
            post=post, by=admin, checklist=CHECKED, dismissals={"religious": "A quote", "contact": "Our office line"}
        )
    assert isinstance(refused.value, posts.PostSentBack)
    assert "passed before it was approved, so it was not approved" in str(refused.value)
    assert timezone.localtime(past).strftime("%H:%M") in str(refused.value)  # on London's clock

    post = _fresh(post)
    assert (post.status, post.review_note, post.reviewed_by, post.checklist) == (
        S.CHANGES_REQUESTED,
        posts.EXPIRED_NOTE,
        None,
        {},
    )
    assert not _events(post, "post.approved") and not CheckDismissal.objects.filter(post=post).exists()
    [event] = _events(post, "post.changes_requested")
    assert event.actor is None and event.details == {"reason": posts.EXPIRED_NOTE}  # FiG Safety, as the sweep
    assert _mail() == [("Your post needs changes", [author.email])]
    assert posts.expire_unapproved() == 0  # nothing left for the sweep


def test_the_sweep_sends_a_post_back_with_the_same_words(author, admin):
    post = _submitted(author, scheduled_for=timezone.now() + timedelta(hours=2))
    assert posts.expire_unapproved(now=timezone.now() + timedelta(hours=3)) == 1
    assert _fresh(post).review_note == posts.EXPIRED_NOTE


# --- publication re-checks consent ----------------------------------------------------------------------------


def test_withdrawing_online_consent_after_approval_sends_the_post_back_before_it_can_be_published(
    author, admin, pictured
):
    post = _approved(author, admin, photos=[pictured.photo])
    cf.withdraw(pictured.child, pictured.carer, [Purpose.ONLINE])
    assert _fresh(post).status == S.CHANGES_REQUESTED
    with pytest.raises(PostError, match="changes requested, so it cannot be published"):
        posts.post_publish(post=post, by=admin, adapter_name="manual", url="https://www.facebook.com/fig/posts/1")
    post = _fresh(post)
    assert post.status == S.CHANGES_REQUESTED and post.published_at is None and not _events(post, "post.published")


@pytest.mark.parametrize("purpose", [Purpose.ONLINE, Purpose.FACE_ONLINE])
def test_publication_checks_consent_again_even_when_the_cascade_missed_a_change(
    author, admin, pictured, purpose, without_cascade, django_capture_on_commit_callbacks
):
    post = _approved(author, admin, photos=[pictured.photo])
    cf.withdraw(pictured.child, pictured.carer, [purpose])
    assert _fresh(post).status == S.APPROVED  # nothing told the post
    _clear_mail()

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(PostError, match="Consent has changed"):
        posts.post_publish(post=post, by=admin, adapter_name="manual", url="https://www.facebook.com/fig/posts/1")

    post = _fresh(post)
    assert post.status == S.CHANGES_REQUESTED
    assert (post.published_at, post.published_url, post.published_by) == (None, "", None)
    assert pictured.child.first_name in post.review_note
    assert not _events(post, "post.published")
    assert _events(post, "post.changes_requested")[0].details == {"reason": post.review_note}
    assert _mail() == [("Your post needs changes", [author.email])]


def test_only_a_reviewer_publishes(author, admin, member_of_staff):
    post = _approved(author, admin)
    for who in (author, member_of_staff):
        with pytest.raises(PostError, match="Only a social media administrator can publish"):
            posts.post_publish(post=post, by=who, adapter_name="manual", url="https://www.facebook.com/fig/posts/1")
    assert _fresh(post).status == S.APPROVED


def test_a_post_that_is_not_approved_cannot_be_published(author, admin):
    post = _submitted(author)
    with pytest.raises(PostError, match="awaiting review, so it cannot be published"):
        posts.post_publish(post=post, by=admin, adapter_name="manual", url="https://www.facebook.com/fig/posts/1")
    assert _fresh(post).status == S.SUBMITTED


# --- the withdrawal cascade -------------------------------------------------------------------------------------


@pytest.fixture
def queue(author, admin, coordinator, pictured) -> dict[str, Post]:
    """A post in each state showing the pictured child, and posts that do not show them."""
    other = _pictured(coordinator)
    made = {
        state: _in_state(state, author, admin, photos=[pictured.photo])
        for state in (S.DRAFT, S.SUBMITTED, S.APPROVED, S.PUBLISHED)
    }
    made["other child"] = _submitted(author, photos=[other.photo])
    made["other child published"] = _published(author, admin, photos=[other.photo])
    made["text only"] = _approved(author, admin)
    _clear_mail()
    return made


def _statuses(queue: dict[str, Post]) -> dict[str, str]:
    return {name: _fresh(post).status for name, post in queue.items()}


@pytest.mark.parametrize("purpose", [Purpose.ONLINE, Purpose.FACE_ONLINE])
def test_withdrawing_online_consent_sends_queued_posts_back_and_opens_a_takedown_for_published_ones(
    queue, pictured, author, admin, purpose, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        cf.withdraw(pictured.child, pictured.carer, [purpose])

    assert _statuses(queue) == {
        S.DRAFT: S.DRAFT,
        S.SUBMITTED: S.CHANGES_REQUESTED,
        S.APPROVED: S.CHANGES_REQUESTED,
        S.PUBLISHED: S.PUBLISHED,
        "other child": S.SUBMITTED,
        "other child published": S.PUBLISHED,
        "text only": S.APPROVED,
    }
    for state in (S.SUBMITTED, S.APPROVED):
        post = _fresh(queue[state])
        assert post.review_note == "A parent or carer withdrew consent for a child in one of its photos."
        [event] = _events(post, "post.changes_requested")
        assert event.actor is None and event.details == {"reason": post.review_note}

    [takedown] = Takedown.objects.all()
    assert (takedown.post, takedown.status, takedown.opened_by) == (queue[S.PUBLISHED], Takedown.Status.OPEN, None)
    assert "Consent was withdrawn" in takedown.reason

    sent = _mail()
    assert sent.count(("Your post needs changes", [author.email])) == 2
    assert (f"Takedown needed for published post #{queue[S.PUBLISHED].pk}", [admin.email]) in sent


def test_a_second_withdrawal_does_not_open_a_second_takedown(queue, pictured):
    cf.withdraw(pictured.child, pictured.carer, [Purpose.FACE_ONLINE])
    cf.withdraw(pictured.child, pictured.carer, [Purpose.ONLINE])
    assert Takedown.objects.filter(post=queue[S.PUBLISHED]).count() == 1
    assert Takedown.objects.count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_withdrawals_at_once_on_postgresql_open_one_takedown():
    assert connection.vendor == "postgresql"
    author = factories.staff_user("staff", "post_writer", email="author@example.org")
    admin = factories.staff_user("social_admin", email="admin@example.org")
    coordinator = factories.staff_user("coordinator", email="coordinator@example.org")
    family, ava, [carer] = cf.family_with_child(coordinator=coordinator)
    ben = cf.ChildFactory(family=family)
    cf.give(ava, carer)
    cf.give(ben, carer)
    post = _published(author, admin, photos=[ready_photo(family, [ava, ben], coordinator)])
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def withdraw(child: Child) -> None:
        try:
            barrier.wait()
            cf.withdraw(child, carer, [Purpose.ONLINE])
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=withdraw, args=(child,)) for child in (ava, ben)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert not errors, errors
    assert Takedown.objects.filter(post=post, status=Takedown.Status.OPEN).count() == 1


def test_withdrawing_a_consent_posts_do_not_use_changes_nothing(queue, pictured, django_capture_on_commit_callbacks):
    before = _statuses(queue)
    events = AuditEvent.objects.filter(target_type="social.post").count()
    with django_capture_on_commit_callbacks(execute=True):
        cf.withdraw(pictured.child, pictured.carer, [Purpose.TRAINING])
    assert _statuses(queue) == before
    assert not Takedown.objects.exists()
    assert AuditEvent.objects.filter(target_type="social.post").count() == events
    assert all("post" not in subject.lower() for subject, _ in _mail())


# --- parents ------------------------------------------------------------------------------------------------------


@pytest.fixture
def pictured_parent(pictured) -> User:
    """The signed-in parent of the pictured child: a carer with parental responsibility, by email."""
    return factories.parent_user(email=pictured.carer.email)


def test_a_parent_asks_in_one_step_for_a_post_showing_their_child_to_come_down(
    author, admin, pictured, pictured_parent, django_capture_on_commit_callbacks
):
    post = _published(author, admin, photos=[pictured.photo])
    _clear_mail()
    with django_capture_on_commit_callbacks(execute=True):
        takedown = posts.parent_request_removal(post=post, user=pictured_parent)
    takedown.refresh_from_db()
    assert (takedown.post, takedown.requested_by, takedown.status, takedown.opened_by) == (
        post,
        pictured_parent,
        Takedown.Status.OPEN,
        None,
    )
    assert _events(post, "post.removal_requested")[0].actor == pictured_parent
    assert _mail() == [(f"Takedown needed for published post #{post.pk}", [admin.email])]

    assert posts.parent_request_removal(post=post, user=pictured_parent) == takedown  # asking twice: one case
    assert Takedown.objects.count() == 1


def test_a_parents_request_is_recorded_on_a_takedown_the_cascade_already_opened(
    author, admin, pictured, pictured_parent
):
    post = _published(author, admin, photos=[pictured.photo])
    cf.withdraw(pictured.child, pictured.carer, [Purpose.ONLINE])
    takedown = posts.parent_request_removal(post=post, user=pictured_parent)
    assert Takedown.objects.get() == takedown and takedown.requested_by == pictured_parent


def test_a_parent_of_another_family_cannot_ask(author, admin, pictured, coordinator):
    other = _pictured(coordinator)
    other_parent = factories.parent_user(email=other.carer.email)
    post = _published(author, admin, photos=[pictured.photo])
    with pytest.raises(PostError, match="only ask about posts that show your child"):
        posts.parent_request_removal(post=post, user=other_parent)
    assert not Takedown.objects.exists() and not _events(post, "post.removal_requested")


def test_a_carer_without_parental_responsibility_cannot_ask(author, admin, pictured):
    carer = cf.CarerFactory(family=pictured.family, has_parental_responsibility=False)
    user = factories.parent_user(email=carer.email)
    post = _published(author, admin, photos=[pictured.photo])
    assert not posts_showing_children_of(user).exists()
    with pytest.raises(PostError):
        posts.parent_request_removal(post=post, user=user)
    assert not Takedown.objects.exists()


def test_a_post_that_is_not_published_cannot_be_asked_about(author, admin, pictured, pictured_parent):
    post = _approved(author, admin, photos=[pictured.photo])
    with pytest.raises(PostError):
        posts.parent_request_removal(post=post, user=pictured_parent)
    assert not Takedown.objects.exists()


def test_a_parent_sees_only_published_posts_with_their_child(
    author, admin, coordinator, pictured, pictured_parent, stranger
):
    other = _pictured(coordinator)
    sibling = cf.ChildFactory(family=pictured.family)
    cf.give(sibling, pictured.carer)
    group = ready_photo(pictured.family, [pictured.child, sibling], coordinator)
    shown = _published(author, admin, photos=[pictured.photo])
    shown_twice = _published(author, admin, photos=[pictured.photo, group])
    _published(author, admin, photos=[other.photo])
    _published(author, admin)
    _approved(author, admin, photos=[pictured.photo])
    _submitted(author, photos=[pictured.photo])

    assert list(posts_showing_children_of(pictured_parent)) == [shown_twice, shown]  # newest first, each once
    assert not posts_showing_children_of(stranger).exists()


@pytest.mark.django_db
def test_publication_checks_the_text_again_and_refuses_a_new_finding():
    """A child joins the register after approval with a name the post mentions: not published, sent back."""
    from social.models import Post as PostModel
    from social.posts import services as post_services
    from tests import factories as base
    from tests.consents import factories as consent_factories

    author, reviewer = base.staff_user("staff"), base.staff_user("social_admin")
    post = post_services.post_save_draft(
        author=author, text="Well done Zephyrine for the painting", channels=["website"], scheduled_for=None, photos=[]
    )
    post_services.post_submit(post=post, by=author)
    post_services.post_approve(
        post=post, by=reviewer, checklist=dict.fromkeys(post_services.CHECKLIST, True), dismissals={}
    )
    family, child, _carers = consent_factories.family_with_child()
    child.first_name = "Zephyrine"
    child.save()
    with pytest.raises(post_services.PostError, match="found something new"):
        post_services.post_publish(post=post, by=reviewer, adapter_name="manual", url="https://example.org/p/1")
    post.refresh_from_db()
    assert post.status == PostModel.Status.CHANGES_REQUESTED
    assert "Names from the consent register" in post.review_note
