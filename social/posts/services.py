"""Writes for the post queue: draft, submit, review (four eyes), publish, withdraw, and the cascade
when a consent is withdrawn. (The inbox's writes are in social/inbox/services.py.)

Every transition locks the post's row, checks its current state, records who, when and why in the
audit trail, and emails the people who act next. Publishing through a platform is two short
transactions around the outside call, which is made in a task after commit with no row locked.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone

from consents.hooks import Withdrawal
from consents.selectors import children_of_parent
from consents.uses import ONLINE_PURPOSES
from fig_safety.times import when
from photos.hooks import Effect
from photos.models import Photo, PhotoTag
from photos.selectors import online_versions
from social.inbox import services as inbox_services
from social.models import Channel, CheckDismissal, PhotoOnlineHold, Post, Takedown
from social.posts import channels
from social.posts.checks import Finding, check_photos, check_text
from social.posts.probing import audit_register_findings
from social.posts.selectors import (
    LIVE_ONLINE,
    active_holds,
    can_see_post_photos,
    held_photos,
    postable_photos,
    posts_showing_children_of,
)
from staff.models import User
from staff.notifications import notify
from staff.roles import Role, is_social_admin, is_staff_member
from staff.selectors import emails_of
from staff.services import audit_record

CHECKLIST = {
    "relevant": "Relevant to FiG's cause",
    "no_religious_or_political": "No religious or political content",
    "nothing_confidential": "Nothing confidential",
    "no_child_identifiable": "No child identifiable or contactable",
}
# Posts their author may change and send for review; posts in the review queue or waiting to go out;
# posts that can be withdrawn. A post being published cannot be withdrawn until the platform has answered.
EDITABLE = frozenset({Post.Status.DRAFT, Post.Status.CHANGES_REQUESTED})
LIVE = frozenset({Post.Status.SUBMITTED, Post.Status.APPROVED})
WITHDRAWABLE = frozenset(
    {*EDITABLE, *LIVE, Post.Status.PUBLISHING, Post.Status.PARTLY_PUBLISHED, Post.Status.PUBLISHED}
)
EXPIRED_NOTE = "It was not approved before its scheduled time. Change the time and submit it again."


class PostError(Exception):
    """The action cannot go ahead; the message is for the person doing it."""


class PostSentBack(PostError):
    """The action found the post could not go ahead and sent it back to its author; that change is committed."""


# Why the photo gate stops a post, by its first finding: a parent's removal request (check "removal"), which
# stays until the parent says otherwise, or consent. {found} names the photos (never which child, nor who asked).
HELD = "A parent or carer asked FiG not to use a photo in this post online"


def _gate_says(gate: list[Finding], *, held: str, consent: str, text: str) -> str:
    """Why a finding that cannot be dismissed stops the post, in the words for its kind: `held` for a parent's
    hold on a photo, `consent` for the photo consent gate, `text` for one in the text (a child named whose
    family has not agreed to online use, a family's contact details): "{title}", "{why}" and "{found}"."""
    first = gate[0]
    found = "; ".join(first.matches)
    if first.check == "removal":
        return held.format(found=found)
    if first.check == "consent":
        return consent.format(found=found)
    return text.format(title=first.title, why=first.explanation, found=found or "see the checks")


def post_findings(post: Post) -> list[Finding]:
    return [*check_text(post.text), *check_photos(post.photos.all(), versions=post.photo_versions)]


def _link(post: Post) -> str:
    return settings.FIG_SITE_URL + reverse("social:post", args=[post.pk])


def _admin_emails(*, exclude: Iterable[str] = ()) -> list[str]:
    """The social media administrators' addresses, but not `exclude`."""
    excluded = set(exclude)
    return [email for email in emails_of(Role.SOCIAL_ADMIN) if email not in excluded]


def _locked(post: Post | int, allowed: Iterable[str], action: str) -> Post:
    locked = Post.objects.select_for_update().get(pk=post if isinstance(post, int) else post.pk)
    if locked.status not in allowed:
        raise PostError(f"This post is {locked.get_status_display().lower()}, so it cannot be {action}.")
    return locked


def post_save_draft(
    *,
    author: User,
    text: str,
    channels: Iterable[str],
    scheduled_for: datetime | None,
    photos: Iterable[Photo],
    post: Post | None = None,
    request: HttpRequest | None = None,
) -> Post:
    """Create or change a draft. Only staff write posts; only online-consented photos can be attached."""
    if not is_staff_member(author):
        raise PostError("Only FiG staff write posts.")
    channels = [c for c in dict.fromkeys(channels) if c in Channel.values]
    if not text.strip():
        raise PostError("Write the post.")
    if not channels:
        raise PostError("Choose at least one channel.")
    if scheduled_for is not None and scheduled_for <= timezone.now():
        raise PostError("The scheduled time must be in the future.")
    photos = list(photos)
    if photos and not can_see_post_photos(author):
        raise PostError(
            "Only the staff who write FiG's posts and the social media administrators can attach photos. "
            "Save the post without photos, or ask one of them to add them."
        )
    if held_photos().filter(pk__in=[p.pk for p in photos]).exists():
        raise PostError(
            "A chosen photo cannot be used online: a parent or carer asked FiG not to use it. Choose another photo."
        )
    allowed = list(postable_photos().filter(pk__in=[p.pk for p in photos]))  # read now, not as the caller had them
    if {p.pk for p in photos} - {p.pk for p in allowed}:
        raise PostError("A chosen photo is not allowed online: every child in it needs consent to be published online.")
    versions = {str(pk): version for pk, version in online_versions(allowed).items() if version}
    with transaction.atomic():
        if post is None:
            post = Post.objects.create(
                author=author,
                text=text.strip(),
                channels=channels,
                scheduled_for=scheduled_for,
                photo_versions=versions,
            )
            action = "post.drafted"
        else:
            post = _locked(post, EDITABLE, "edited")
            if post.author_id != author.pk:
                raise PostError("Only the author can change this post.")
            post.text, post.channels, post.scheduled_for = text.strip(), channels, scheduled_for
            post.photo_versions, post.updated_at = versions, timezone.now()
            post.save(update_fields=["text", "channels", "scheduled_for", "photo_versions", "updated_at"])
            action = "post.edited"
        post.photos.set(photos)
        audit_record(
            action=action,
            actor=author,
            target=post,
            request=request,
            details={"channels": channels, "photos": [p.pk for p in photos], "versions": versions},
        )
        # The draft's page shows its findings: saving text is another way to ask the register (probing.py).
        audit_register_findings(
            author, post.text, check_text(post.text), where="draft_saved", request=request, target=post
        )
    return post


def post_submit(*, post: Post, by: User, request: HttpRequest | None = None) -> list[Finding]:
    """Send for review. The consent gate must pass; text findings go to the reviewer to judge."""
    with transaction.atomic():
        locked = _locked(post, EDITABLE, "submitted")
        if locked.author_id != by.pk:
            raise PostError("Only the author can submit this post.")
        if locked.scheduled_for is not None and locked.scheduled_for <= timezone.now():
            raise PostError("The scheduled time has passed. Choose a new time, then submit it.")
        findings = post_findings(locked)
        blocking = [f for f in findings if not f.dismissible]
        if blocking:
            raise PostError(
                _gate_says(
                    blocking,
                    held=HELD + ", so it cannot be sent for review. Take the photo off the post: {found}.",
                    consent="The photo consent check fails: {found}",
                    text="It cannot be sent for review: {title} ({found}). {why} Change the text first.",
                )
            )
        locked.status, locked.submitted_at, locked.updated_at = Post.Status.SUBMITTED, timezone.now(), timezone.now()
        locked.save(update_fields=["status", "submitted_at", "updated_at"])
        audit_record(
            action="post.submitted",
            actor=by,
            target=locked,
            request=request,
            details={"findings": [f.check for f in findings]},
        )
        notify(
            to=_admin_emails(exclude=[by.email]),
            subject=f"A post by {by} is waiting for review",
            template="social/posts/email/submitted.txt",
            context={"post": locked, "link": _link(locked)},
            separately=True,
        )
    return findings


def post_approve(
    *,
    post: Post,
    by: User,
    checklist: dict[str, bool],
    dismissals: dict[str, str],
    request: HttpRequest | None = None,
) -> Post:
    """Approve, four eyes: never the author. Every checklist item confirmed; every text finding
    dismissed with a written reason; the consent gate, checked again now, must pass."""
    if not is_social_admin(by):
        raise PostError("Only a social media administrator can approve posts.")
    with transaction.atomic():
        locked = _locked(post, {Post.Status.SUBMITTED}, "approved")
        if locked.author_id == by.pk:
            raise PostError("You wrote this post, so someone else must approve it.")
        expired = _past_its_time(locked, timezone.now())
        if expired:
            # The sweep would send it back within minutes; an approval now must not beat it to it.
            _expire(locked)
        else:
            _approve(locked, by=by, checklist=checklist, dismissals=dismissals, request=request)
    if expired:
        # Raised once the block has committed, so the send-back is kept (as in post_publish).
        raise PostSentBack(
            f"Its scheduled time, {when(locked.scheduled_for)}, passed before it was approved, so it was not "
            "approved. It has gone back to its author to choose a new time and submit it again."
        )
    return locked


def _approve(
    locked: Post, *, by: User, checklist: dict[str, bool], dismissals: dict[str, str], request: HttpRequest | None
) -> None:
    """Precondition: the row is locked, the post is submitted and `by` is not its author."""
    missing = [label for key, label in CHECKLIST.items() if not checklist.get(key)]
    if missing:
        raise PostError("Confirm every item of the checklist: " + "; ".join(missing) + ".")
    findings = post_findings(locked)
    gate = [f for f in findings if not f.dismissible]
    if gate:
        raise PostError(
            _gate_says(
                gate,
                held=HELD + ", so it cannot be approved: {found}. Send it back so the photo comes off.",
                consent="The photo consent check fails and cannot be dismissed: {found}",
                text="{title} ({found}) cannot be dismissed: {why} Send it back so the text is changed.",
            )
        )
    undismissed = [f.title for f in findings if not (dismissals.get(f.check) or "").strip()]
    if undismissed:
        raise PostError("Give a reason for dismissing each check: " + ", ".join(undismissed) + ".")
    for finding in findings:
        CheckDismissal.objects.create(
            post=locked, check_name=finding.check, reason=dismissals[finding.check].strip(), dismissed_by=by
        )
    locked.status, locked.reviewed_by, locked.reviewed_at = Post.Status.APPROVED, by, timezone.now()
    locked.checklist, locked.updated_at = dict.fromkeys(CHECKLIST, True), timezone.now()
    locked.save(update_fields=["status", "reviewed_by", "reviewed_at", "checklist", "updated_at"])
    channels.deliveries_create(locked)
    audit_record(
        action="post.approved",
        actor=by,
        target=locked,
        request=request,
        details={"dismissed": {f.check: dismissals[f.check].strip() for f in findings}},
    )
    notify(
        to=[locked.author.email],
        subject="Your post is approved",
        template="social/posts/email/approved.txt",
        context={"post": locked, "link": _link(locked)},
    )
    # The other administrators act next: any of them may publish it.
    notify(
        to=_admin_emails(exclude=[by.email, locked.author.email]),
        subject=f"A post by {locked.author} is approved and ready to publish",
        template="social/posts/email/ready.txt",
        context={"post": locked, "link": _link(locked)},
        separately=True,
    )


def post_request_changes(*, post: Post, by: User, note: str, request: HttpRequest | None = None) -> Post:
    """A reviewer sends a submitted or approved post back to its author with what to change."""
    if not is_social_admin(by):
        raise PostError("Only a social media administrator can send a post back.")
    if not note.strip():
        raise PostError("Say what needs to change.")
    with transaction.atomic():
        locked = _locked(post, LIVE, "sent back")
        return _send_back(locked, by=by, note=note.strip(), request=request)


def _send_back(locked: Post, *, by: User | None, note: str, request: HttpRequest | None = None) -> Post:
    """Precondition: the row is locked. Back to the author with the reason."""
    locked.status, locked.review_note, locked.reviewed_by = Post.Status.CHANGES_REQUESTED, note, by
    locked.reviewed_at = locked.updated_at = timezone.now()
    locked.save(update_fields=["status", "review_note", "reviewed_by", "reviewed_at", "updated_at"])
    channels.deliveries_cancel(locked)
    audit_record(action="post.changes_requested", actor=by, target=locked, request=request, details={"reason": note})
    notify(
        to=[locked.author.email],
        subject="Your post needs changes",
        template="social/posts/email/changes.txt",
        context={"post": locked, "note": note, "link": _link(locked)},
    )
    return locked


# --- publishing -----------------------------------------------------------------------------------------


def post_publish(
    *,
    post: Post,
    by: User,
    adapter_name: str,
    url: str = "",
    published_at: datetime | None = None,
    request: HttpRequest | None = None,
) -> Post:
    """Publish an approved post now: "manual" records the one channel still to publish by hand with its link
    (a post for several channels records each on its own, channels.delivery_record); any other sends every
    channel FiG Safety can send, now, whatever the post's time (channels.post_send_now). Consents and the
    checks are run again first; if anything changed, nothing goes out and the post goes back to its author
    (PostError, once that has committed)."""
    if not is_social_admin(by):
        raise PostError("Only a social media administrator can publish posts.")
    post = Post.objects.get(pk=post.pk)  # as it is now, not as the caller last read it
    if post.status not in channels.PUBLISHABLE:
        raise PostError(f"This post is {post.get_status_display().lower()}, so it cannot be published.")
    if adapter_name == "manual":
        left = list(post.deliveries.exclude(state__in=[*channels.OUT, *channels.DOWN_OR_NEVER]))
        if len(left) != 1:
            raise PostError("Record the link for each channel on its own.")
        try:
            channels.delivery_record(delivery=left[0], url=url, by=by, published_at=published_at, request=request)
        except channels.ChannelError as exc:
            raise PostError(str(exc)) from exc
    else:
        sendable = post.deliveries.filter(by_hand=False, state__in=channels.NOT_YET)
        if not sendable.exists():
            raise PostError("Nothing in this post can be sent from here: publish it by hand and record each link.")
        channels.post_send_now(post=post, by=by, request=request)
    post.refresh_from_db()
    return post


def _recheck(locked: Post) -> str:
    """Precondition: the row is locked. The consent gate and the text checks, run again at the moment of
    publication: if either finds something that was not dismissed at approval, the post goes back to its
    author and this says why ("" when it may go out)."""
    # A finding that cannot be dismissed stops it whatever was dismissed at approval: a child named in the text
    # whose family withdrew online consent since is no longer covered by the reason given then.
    text_findings = check_text(locked.text)
    photo_findings = check_photos(locked.photos.all(), versions=locked.photo_versions)
    gate = [f for f in [*photo_findings, *text_findings] if not f.dismissible]
    dismissed = set(locked.dismissals.values_list("check_name", flat=True))
    new_findings = [f for f in text_findings if f.dismissible and f.check not in dismissed]
    if gate:
        note = _gate_says(
            gate,
            held=HELD + " after it was approved. Take the photo off the post: {found}.",
            consent="Consent changed after approval: {found}",
            text="Since approval, the text has something that cannot be dismissed: {title} ({found}). {why}",
        )
        _send_back(locked, by=None, note=note)
        return _gate_says(
            gate,
            held=HELD + " ({found}), so the post was not published and went back to its author.",
            consent="Consent has changed since approval, so the post was not published and went back to its author.",
            text="{title} cannot be dismissed, so the post was not published and went back to its author.",
        )
    if new_findings:
        # The register or the term lists changed since approval (a new child with a name in the text, say).
        found = "; ".join(f"{f.title} ({', '.join(f.matches)})" for f in new_findings)
        _send_back(locked, by=None, note=f"A new check finding since approval: {found}")
        return (
            "The checks found something new since approval, so the post was not published and went back to its author."
        )
    return ""


# --- withdrawal and takedowns ------------------------------------------------------------------------------


def post_withdraw(*, post: Post, by: User, reason: str, request: HttpRequest | None = None) -> Post:
    """Take a post out of the queue (its author or a reviewer): every channel not out yet is cancelled, and
    a post out on any channel also gets a takedown case."""
    with transaction.atomic():
        locked = _locked(post, WITHDRAWABLE, "withdrawn")
        if locked.author_id != by.pk and not is_social_admin(by):
            raise PostError("Only the author or a social media administrator can withdraw this post.")
        channels.deliveries_cancel(locked)
        was_published = locked.deliveries.filter(state__in=channels.OUT).exists()
        locked.status, locked.updated_at = Post.Status.WITHDRAWN, timezone.now()
        locked.save(update_fields=["status", "updated_at"])
        audit_record(action="post.withdrawn", actor=by, target=locked, request=request, details={"reason": reason})
        if locked.author_id != by.pk:
            notify(
                to=[locked.author.email],
                subject="Your post was withdrawn",
                template="social/posts/email/withdrawn.txt",
                context={
                    "post": locked,
                    "by": by,
                    "reason": reason,
                    "was_published": was_published,
                    "link": _link(locked),
                },
            )
        if was_published:
            post_open_takedown(post=locked, reason=reason or "The post was withdrawn after publication.", by=by)
    return locked


def post_open_takedown(*, post: Post, reason: str, by: User | None, requested_by: User | None = None) -> Takedown:
    """A takedown case for a published post (the inbox's takedowns, with their own clock); at most one open,
    which a parent asking as well joins. The administrators are emailed when a new one opens."""
    takedown, opened = inbox_services.takedown_open(post=post, reason=reason, by=by, requested_by=requested_by)
    if opened:
        with transaction.atomic():
            channels.takedown_start(Post.objects.select_for_update().get(pk=post.pk))
        takedowns = settings.FIG_SITE_URL + reverse("social:takedowns") + f"#takedown-{takedown.pk}"
        notify(
            to=_admin_emails(),
            subject=f"Takedown needed for published post #{post.pk}",
            template="social/posts/email/takedown.txt",
            context={"post": post, "takedown": takedown, "link": takedowns, "post_link": _link(post)},
            separately=True,
        )
    return takedown


def parent_request_removal(*, post: Post, user: User, request: HttpRequest | None = None) -> Takedown:
    """A parent asks, in one step, for a published post showing their child to come down. The request sticks:
    each photo in it of one of their children is held back from online use for that child (PhotoOnlineHold)
    until a parent of the child allows it again. Asking again changes nothing, except to hold again a photo
    they had allowed meanwhile."""
    if not posts_showing_children_of(user).filter(pk=post.pk).exists():
        raise PostError("You can only ask about posts that show your child.")
    with transaction.atomic():
        Post.objects.select_for_update().filter(pk=post.pk).exists()  # two presses at once: one after the other
        asked_before = post.takedowns.filter(status=Takedown.Status.OPEN, requested_by=user).exists()
        takedown = post_open_takedown(
            post=post, reason="A parent or carer asked for this post to be removed.", by=None, requested_by=user
        )
        held = _hold_photos(post=post, user=user)
        # The photo may no longer be used online for that child anywhere: every other live post with it (or
        # a copy of it) comes down too, each with its own takedown.
        others = Post.objects.filter(
            channels.may_be_online(), status__in=LIVE_ONLINE, photos__in=held_photos()
        ).exclude(pk=post.pk)
        for other in others.distinct().order_by("pk"):
            post_open_takedown(
                post=other,
                reason="A parent or carer asked FiG not to use a photo in this post online (they asked for another "
                "post with it to be removed).",
                by=None,
            )
        if held or not asked_before:
            audit_record(
                action="post.removal_requested",
                actor=user,
                target=post,
                request=request,
                details={"photos_held": sorted({photo_id for photo_id, _child_id in held})},
            )
    return takedown


def _hold_photos(*, post: Post, user: User) -> list[tuple[int, int]]:
    """Hold back each photo of `post` for each of this parent's children tagged in it, unless already held;
    returns the (photo, child) pairs held now. Two holds at once for one pair (two posts with the photo, asked
    about together) make one: the database keeps one active hold per photo and child."""
    pairs = set(
        PhotoTag.objects.filter(photo__in=post.photos.values("pk"), child__in=children_of_parent(user)).values_list(
            "photo_id", "child_id"
        )
    )
    already = set(
        active_holds()
        .filter(photo_id__in={p for p, _ in pairs}, child_id__in={c for _, c in pairs})
        .values_list("photo_id", "child_id")
    )
    new = sorted(pairs - already)
    PhotoOnlineHold.objects.bulk_create(
        [PhotoOnlineHold(photo_id=p, child_id=c, post=post, requested_by=user) for p, c in new],
        ignore_conflicts=True,
    )
    return new


def photo_hold_lift(*, hold: PhotoOnlineHold, by: User, request: HttpRequest | None = None) -> bool:
    """A parent or carer with parental responsibility for the child allows FiG to use the photo online for
    them again (the photo still needs consent, and no other child's hold). True when lifted now; False when
    it already was (a double submit), which changes nothing."""
    if not children_of_parent(by).filter(pk=hold.child_id).exists():
        raise PostError("Only a parent or carer with parental responsibility for this child can allow this.")
    with transaction.atomic():
        locked = PhotoOnlineHold.objects.select_for_update().get(pk=hold.pk)
        if locked.lifted_at is not None:
            return False
        locked.lifted_at, locked.lifted_by = timezone.now(), by
        locked.save(update_fields=["lifted_at", "lifted_by"])
        audit_record(
            action="photo.online_hold_lifted",
            actor=by,
            target=locked,
            request=request,
            details={"photo": locked.photo_id, "child": locked.child_id, "post": locked.post_id},
        )
    return True


def posts_on_consent_withdrawn(withdrawal: Withdrawal) -> None:
    """Withdrawal handler: the posts showing the child stop using them (posts_on_photos_gone). Runs inside the
    withdrawal's transaction."""
    if not withdrawal.purposes & ONLINE_PURPOSES:
        return
    posts_on_photos_gone(
        PhotoTag.objects.filter(child_id=withdrawal.child_id).values("photo_id"),
        note="A parent or carer withdrew consent for a child in one of its photos.",
        reason="Consent was withdrawn for a child shown in this post.",
    )


def posts_losing_photos(photo_ids: Iterable[int] | QuerySet) -> tuple[QuerySet[Post], QuerySet[Post]]:
    """(posts to send back, posts to take down) of those using any of `photo_ids` that FiG may no longer use:
    queued and approved posts, and posts being published whose channels are queued but not yet called, go
    back to their author; posts out on any channel, or whose call is under way, need a takedown. Drafts and
    posts sent back already stay with their author (the consent gate stops them at submission)."""
    ids = set(Post.objects.filter(photos__in=photo_ids).values_list("pk", flat=True))
    affected = Post.objects.filter(pk__in=ids)
    # Channels queued but not yet called go back with the post; one whose call began is taken down when the
    # platform answers (channels._sent starts the open takedown then).
    not_sent = affected.filter(status=Post.Status.PUBLISHING).exclude(deliveries__send_started_at__isnull=False)
    return affected.filter(status__in=LIVE) | not_sent, affected.filter(status__in=LIVE_ONLINE).exclude(
        pk__in=not_sent.values("pk")
    )


def posts_on_photos_gone(
    photo_ids: Iterable[int] | QuerySet, *, note: str, reason: str
) -> tuple[list[Post], list[Post]]:
    """The posts using any of `photo_ids` stop using them (posts_losing_photos): those waiting to go out go
    back to their author with `note`; those out get a takedown case opened with `reason`. Returns (sent back,
    taken down). Precondition: inside the transaction that took the photos away (a withdrawal, a deletion)."""
    to_send_back, to_take_down = posts_losing_photos(photo_ids)
    sent_back = [
        _send_back(post, by=None, note=note)
        for post in to_send_back.select_related("author").select_for_update(of=("self",)).order_by("pk")
    ]
    taken_down = list(to_take_down.order_by("pk"))
    for post in taken_down:
        with transaction.atomic():
            locked = Post.objects.select_for_update().get(pk=post.pk)
            channels.deliveries_cancel(locked)
        post_open_takedown(post=post, reason=reason, by=None)
    return sent_back, taken_down


# Said of every deletion that reaches posts (a coordinator's "delete now", a family's erasure): the reason
# given stays in the vault's audit trail, as it may say more about a family than post authors should read.
PHOTO_DELETED_NOTE = (
    "One of its photos was deleted from the vault, so it cannot be used. Take the photo off the post, or choose "
    "another."
)
PHOTO_DELETED_REASON = "A photo in this post was deleted from the vault, so the post must come down."


def posts_on_photos_deleted(photo_ids: frozenset[int]) -> list[Effect]:
    """Photo deletion handler (photos.hooks): the posts that used the photos stop using them, as after a
    withdrawal. Runs inside the deletion's transaction."""
    sent_back, taken_down = posts_on_photos_gone(photo_ids, note=PHOTO_DELETED_NOTE, reason=PHOTO_DELETED_REASON)
    return _effects(sent_back, taken_down, status=False)


def posts_photos_deleted_preview(photo_ids: frozenset[int]) -> list[Effect]:
    """What posts_on_photos_deleted would do, for the confirmation page. Reads only."""
    to_send_back, to_take_down = posts_losing_photos(photo_ids)
    return _effects(list(to_send_back.order_by("pk")), list(to_take_down.order_by("pk")), status=True)


def _effects(sent_back: list[Post], taken_down: list[Post], *, status: bool) -> list[Effect]:
    """Each post as the coordinator is told of it: its number, its status (before it changed: `status` only
    for a preview) and its channels, never its text."""

    def name(post: Post) -> str:
        about = [post.get_status_display().lower()] if status else []
        where = " and ".join(Channel(channel).label for channel in post.channels if channel in Channel.values)
        about += [f"for {where}"] if where else []
        return f"Post #{post.pk} ({', '.join(about)})" if about else f"Post #{post.pk}"

    return [
        *(
            Effect(name(post), will="It will be sent back to its author.", done="sent back to its author")
            for post in sent_back
        ),
        *(
            Effect(
                name(post),
                will="A takedown will be opened to bring it down.",
                done="a takedown was opened to bring it down",
            )
            for post in taken_down
        ),
    ]


# --- posts past their time ---------------------------------------------------------------------------------


def _past_its_time(post: Post, now: datetime) -> bool:
    return post.scheduled_for is not None and post.scheduled_for <= now


def _expire(locked: Post) -> Post:
    """Precondition: the row is locked and the post is submitted. Its time came before an approval did:
    back to the author, by nobody (the audit trail says FiG Safety did it)."""
    return _send_back(locked, by=None, note=EXPIRED_NOTE)


def expire_unapproved(now: datetime | None = None) -> int:
    """Posts still awaiting review at their scheduled time go back to the author."""
    now = now or timezone.now()
    count = 0
    with transaction.atomic():
        for post in (
            Post.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("author")
            .filter(status=Post.Status.SUBMITTED, scheduled_for__lte=now)
        ):
            _expire(post)
            count += 1
    return count


def posts_sweep(now: datetime | None = None) -> dict[str, int]:
    """The post queue's periodic work, run by beat every minute: scheduled posts go out on time, and sends and
    deletions whose task was lost are queued again."""
    now = now or timezone.now()
    return {
        "expired": expire_unapproved(now),
        "sent_at_their_time": channels.send_due(now),
        "sending_resumed": channels.resume_sending(now),
        "deletes_resumed": channels.resume_deletes(now),
    }
