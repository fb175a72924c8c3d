"""Each channel of an approved post, in its own state (PostChannel): made at approval, sent at its time (or
now, when an administrator says so), recorded by hand where FiG Safety has no adapter, and taken down channel by
channel. The post's own status follows its channels (`settle`): published only when every channel is sent or
recorded.

Every outside call is made with no row locked: the send is claimed in one short transaction, the call made,
and its answer recorded in another. The platform's id is kept the moment it answers, and ids it gave part of
the way (uploaded media, an Instagram container) as they come, so a retry reuses them and a crash between
"sending" and "sent" never posts twice: a channel whose call began and never answered is not sent again
blindly but marked for a person to check.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import HttpRequest
from django.utils import timezone

from fig_safety.queueing import queue_after_commit
from fig_safety.sweeps import claim_and_stamp
from social.models import Post, PostChannel
from social.posts.adapters import ManualAdapter, PublishError, sender_for
from staff.models import User
from staff.services import audit_record

State = PostChannel.State
OUT = {State.SENT, State.RECORDED}
NOT_YET = {State.WAITING, State.SCHEDULED, State.FAILED}
DOWN_OR_NEVER = {State.TAKEN_DOWN, State.CANCELLED}

REQUEUE_AFTER = timedelta(minutes=2)
CALL_GIVEN_UP_AFTER = timedelta(minutes=15)
UNCERTAIN = (
    "The call to {channel} began but never answered, so FiG Safety cannot tell whether the post went out. "
    "Check {channel}: if it is there, record its link; if not, send it again."
)


class ChannelError(Exception):
    """The action cannot go ahead; the message is for the person doing it."""


# --- made at approval -------------------------------------------------------------------------------------


def deliveries_create(locked: Post) -> None:
    """One row per channel of a post being approved (again, after changes: channels not out yet start
    afresh). A channel with a configured adapter is sent by FiG Safety, at the post's time when it has one;
    any other waits to be published by hand. Precondition: the post row is locked."""
    kept = set(locked.deliveries.filter(state__in=OUT).values_list("channel", flat=True))
    locked.deliveries.exclude(channel__in=kept).delete()
    for channel in locked.channels:
        if channel in kept:
            continue
        by_hand = sender_for(channel) is None
        scheduled = locked.scheduled_for is not None and not by_hand
        PostChannel.objects.create(
            post=locked, channel=channel, by_hand=by_hand, state=State.SCHEDULED if scheduled else State.WAITING
        )


def deliveries_cancel(locked: Post) -> int:
    """Withdrawn or sent back: every channel not out yet is cancelled, so nothing scheduled goes out."""
    not_out = Q(state__in=NOT_YET) & ~Q(progress__contains={"uncertain": True})
    return locked.deliveries.filter(not_out | Q(state=State.SENDING, send_started_at__isnull=True)).update(
        state=State.CANCELLED, send_requested_at=None
    )


def possibly_out() -> Q:
    """Channels that are out, or may be: sent, recorded, or a call that began and never answered."""
    return Q(state__in=OUT) | Q(state=State.FAILED, progress__contains={"uncertain": True})


def may_be_online() -> Exists:
    """For filtering posts: a channel out, or that may be (a call under way or never answered). A post only
    queued is not: the send checks consent again and sends it back."""
    live = possibly_out() | Q(state=State.SENDING, send_started_at__isnull=False)
    return Exists(PostChannel.objects.filter(live, post=OuterRef("pk")))


# --- the post follows its channels --------------------------------------------------------------------------


def settle(locked: Post, *, by: User | None = None) -> str:
    """Set the post's status from its channels, and return it. Precondition: the post row is locked and the
    post is approved or further on (not a draft, not withdrawn)."""
    states = list(locked.deliveries.values_list("state", flat=True))
    before = locked.status
    if states and all(s in DOWN_OR_NEVER for s in states) and State.TAKEN_DOWN in states:
        status = Post.Status.TAKEN_DOWN
    elif states and all(s in OUT for s in states):
        status = Post.Status.PUBLISHED
    elif State.SENDING in states:
        status = Post.Status.PUBLISHING
    elif any(s in OUT | {State.TAKEN_DOWN} for s in states):
        status = Post.Status.PARTLY_PUBLISHED
    else:
        status = Post.Status.APPROVED
    if status != before:
        locked.status, locked.updated_at = status, timezone.now()
        fields = ["status", "updated_at"]
        if status == Post.Status.PUBLISHED and locked.published_at is None:
            first = locked.deliveries.order_by("sent_at").first()
            locked.published_at, locked.published_url = first.sent_at, first.url
            locked.published_by = by or first.done_by
            fields += ["published_at", "published_url", "published_by"]
        locked.save(update_fields=fields)
        if status == Post.Status.PUBLISHED:
            audit_record(action="post.published", actor=by, target=locked, details={"channels": locked.channels})
            _tell_author_published(locked, by)
    return status


def _tell_author_published(locked: Post, by: User | None) -> None:
    from social.posts.services import _link
    from staff.notifications import notify

    if by is None or locked.author_id != by.pk:
        notify(
            to=[locked.author.email],
            subject="Your post is published",
            template="social/posts/email/published.txt",
            context={"post": locked, "link": _link(locked)},
        )


# --- by hand ------------------------------------------------------------------------------------------------


def delivery_record(
    *,
    delivery: PostChannel,
    url: str,
    by: User,
    published_at: datetime | None = None,
    request: HttpRequest | None = None,
) -> PostChannel:
    """An administrator published the post on this channel by hand (or checked that an uncertain send went
    out): its link and time are recorded. Consent is checked again first."""
    from social.posts.services import PostError, _locked, _recheck

    try:
        recorded = ManualAdapter().publish(delivery.post, url=url, published_at=published_at)
    except PublishError as exc:
        raise ChannelError(str(exc)) from exc
    with transaction.atomic():
        post = _locked(delivery.post, PUBLISHABLE, "published")
        locked = PostChannel.objects.select_for_update().get(pk=delivery.pk)
        if locked.state in OUT | DOWN_OR_NEVER or (locked.state == State.SENDING and not locked.error):
            raise ChannelError(f"{locked.get_channel_display()} is already {locked.get_state_display().lower()}.")
        refused = _recheck(post)
        if not refused:
            locked.state, locked.url, locked.sent_at, locked.done_by = (
                State.RECORDED,
                recorded.url,
                recorded.published_at,
                by,
            )
            locked.error, locked.send_requested_at = "", None
            locked.save(update_fields=["state", "url", "sent_at", "done_by", "error", "send_requested_at"])
            audit_record(
                action="post.channel_recorded",
                actor=by,
                target=post,
                request=request,
                details={"channel": locked.channel, "url": recorded.url},
            )
            settle(post, by=by)
    if refused:
        raise PostError(refused)
    return locked


PUBLISHABLE = {Post.Status.APPROVED, Post.Status.PUBLISHING, Post.Status.PARTLY_PUBLISHED}


# --- sent by FiG Safety ---------------------------------------------------------------------------------------


def post_send_now(*, post: Post, by: User, request: HttpRequest | None = None, resend_uncertain: bool = False) -> int:
    """Send every channel FiG Safety can send that is not out yet, now (whatever the post's time). Consent and
    the checks are run again first. Returns how many channels were queued. A channel whose earlier call may
    have gone out is sent again only with `resend_uncertain` (someone checked the platform)."""
    from social.posts.services import PostError, _locked, _recheck

    with transaction.atomic():
        locked = _locked(post, PUBLISHABLE, "published")
        refused = _recheck(locked)
        if not refused:
            due = locked.deliveries.filter(by_hand=False, state__in=NOT_YET, external_id="")
            if not resend_uncertain:
                due = due.exclude(progress__contains={"uncertain": True})
            queued = _queue(due, by=by, now=timezone.now())
            if queued:
                audit_record(
                    action="post.send_now", actor=by, target=locked, request=request, details={"channels": queued}
                )
                settle(locked, by=by)
    if refused:
        raise PostError(refused)
    return len(queued)


def _queue(due: QuerySet[PostChannel], *, by: User | None, now: datetime) -> list[str]:
    """Precondition: inside a transaction with the post locked. Marks the channels sending and queues one
    task each after commit."""
    rows = list(due.select_for_update())
    for row in rows:
        row.state, row.send_requested_at, row.send_started_at, row.error = State.SENDING, now, None, ""
        row.done_by = by
        row.save(update_fields=["state", "send_requested_at", "send_started_at", "error", "done_by"])
        _queue_task(row.pk)
    return [row.channel for row in rows]


def _queue_task(delivery_id: int) -> None:
    from social.tasks import send_post_channel

    queue_after_commit(send_post_channel, delivery_id)


def delivery_send(*, delivery_id: int) -> PostChannel | None:
    """Send one channel of a post (the send task). Call with no transaction open. Idempotent: a channel no
    longer waiting to be sent is left alone; one whose call began before and never answered is not called
    again but marked for a person to check."""
    from social.posts.services import _recheck

    with transaction.atomic():
        row = PostChannel.objects.select_for_update().select_related("post").filter(pk=delivery_id).first()
        if row is None or row.state != State.SENDING or row.external_id:
            return row
        post = Post.objects.select_for_update().get(pk=row.post_id)
        if row.send_started_at is not None:
            _failed(row, post, UNCERTAIN.format(channel=row.get_channel_display()), uncertain=True)
            return row
        if _recheck(post):  # consent changed at the last moment: the post went back to its author
            return row
        sender = sender_for(row.channel)
        if sender is None:
            _failed(row, post, f"Publishing to {row.get_channel_display()} is not configured: publish it by hand.")
            return row
        row.send_started_at = started = timezone.now()
        row.save(update_fields=["send_started_at"])
    try:
        result = sender.send(post, dict(row.progress), lambda progress: _keep(delivery_id, progress))
    except PublishError as exc:
        with transaction.atomic():
            again = PostChannel.objects.select_for_update().get(pk=delivery_id)
            post = Post.objects.select_for_update().get(pk=again.post_id)
            if again.state == State.SENDING and again.send_started_at == started:
                _failed(again, post, str(exc), uncertain=exc.may_have_succeeded)
            return again
    return _sent(delivery_id, result)


def _keep(delivery_id: int, progress: dict) -> None:
    """What the platform gave part of the way, kept at once in its own transaction."""
    PostChannel.objects.filter(pk=delivery_id).update(progress=progress)


def _sent(delivery_id: int, result) -> PostChannel:
    from social.posts.checks import check_photos
    from social.posts.services import HELD, _gate_says, post_open_takedown

    with transaction.atomic():
        post = (
            Post.objects.select_for_update()
            .select_related("author")
            .get(pk=PostChannel.objects.values_list("post_id", flat=True).get(pk=delivery_id))
        )
        row = PostChannel.objects.select_for_update().get(pk=delivery_id)
        # It is out there, whatever happened to the rows meanwhile: record the truth first.
        row.state, row.url, row.external_id, row.sent_at = (
            State.SENT,
            result.url,
            result.external_id,
            result.published_at,
        )
        row.error = ""
        row.save(update_fields=["state", "url", "external_id", "sent_at", "error"])
        audit_record(
            action="post.channel_sent",
            actor=None,
            target=post,
            details={"channel": row.channel, "url": result.url, "id": result.external_id},
        )
        if post.status in PUBLISHABLE:
            settle(post, by=row.done_by)
        if post.takedowns.filter(status="open").exists():  # asked to come down while the call was under way
            takedown_start(post)
        gate = [f for f in check_photos(post.photos.all(), versions=post.photo_versions) if not f.dismissible]
        if gate or post.status in {Post.Status.WITHDRAWN, Post.Status.CHANGES_REQUESTED}:
            reason = (
                _gate_says(
                    gate,
                    held=HELD + " while the post was being published: {found}.",
                    consent="Consent was withdrawn while the post was being published.",
                    text="{title} while the post was being published: {found}.",
                )
                if gate
                else "The post was withdrawn or sent back while it was being published."
            )
            post_open_takedown(post=post, reason=reason, by=None)
    return row


def _failed(row: PostChannel, post: Post, error: str, *, uncertain: bool = False) -> None:
    """Precondition: both rows locked. The channel did not go out (or may have: `uncertain`), saying why; the
    administrator who sent it is told."""
    from social.posts.services import _link
    from staff.notifications import notify

    row.state, row.error = State.FAILED, error
    row.progress = {**row.progress, "uncertain": True} if uncertain else row.progress
    row.send_requested_at = None
    row.save(update_fields=["state", "error", "progress", "send_requested_at"])
    audit_record(
        action="post.channel_failed",
        target=post,
        details={"channel": row.channel, "error": error, "uncertain": uncertain},
    )
    if post.status in PUBLISHABLE:
        settle(post)
    if row.done_by is not None:
        notify(
            to=[row.done_by.email],
            subject=f"Post #{post.pk} was not published on {row.get_channel_display()}",
            template="social/posts/email/publish_failed.txt",
            context={"post": post, "error": error, "link": _link(post)},
        )


# --- the schedule ---------------------------------------------------------------------------------------------


def send_due(now: datetime | None = None) -> int:
    """The beat's part: every scheduled channel whose time has come (within FIG_PUBLISH_LATE_MINUTES) is
    sent, consent checked again at that moment; one whose time passed longer ago stays scheduled and is
    shown as overdue for an administrator to decide."""
    from social.posts.services import _recheck

    now = now or timezone.now()
    late = now - timedelta(minutes=settings.FIG_PUBLISH_LATE_MINUTES)
    post_ids = list(
        PostChannel.objects.filter(
            state=State.SCHEDULED,
            post__scheduled_for__lte=now,
            post__scheduled_for__gt=late,
            post__status__in=PUBLISHABLE,
        )
        .values_list("post_id", flat=True)
        .distinct()
    )
    sent = 0
    for post_id in post_ids:
        with transaction.atomic():
            post = Post.objects.select_for_update(skip_locked=True).filter(pk=post_id, status__in=PUBLISHABLE).first()
            if post is None or _recheck(post):
                continue
            queued = _queue(post.deliveries.filter(state=State.SCHEDULED, by_hand=False), by=None, now=now)
            if queued:
                audit_record(action="post.sent_at_its_time", target=post, details={"channels": queued})
                settle(post)
                sent += len(queued)
    return sent


def overdue(post: Post, deliveries: list[PostChannel], now: datetime) -> bool:
    """An approved post whose time passed without every channel going out."""
    return bool(
        post.scheduled_for
        and post.scheduled_for <= now - timedelta(minutes=5)
        and any(d.state in {State.SCHEDULED, State.WAITING, State.FAILED} for d in deliveries)
    )


def resume_sending(now: datetime | None = None) -> int:
    """Channels whose send task never started are queued again; those whose call began long ago and never
    answered are marked for a person to check. Part of the posts sweep; nothing is sent twice."""
    now = now or timezone.now()
    lost = PostChannel.objects.filter(
        state=State.SENDING, send_started_at__isnull=True, send_requested_at__lte=now - REQUEUE_AFTER
    )
    requeued = claim_and_stamp(
        lost,
        stamp="send_requested_at",
        now=now,
        handle=lambda rows: [_queue_task(r.pk) for r in rows],
    )
    stopped = list(
        PostChannel.objects.filter(state=State.SENDING, send_started_at__lte=now - CALL_GIVEN_UP_AFTER).values_list(
            "pk", flat=True
        )
    )
    for delivery_id in stopped:
        delivery_send(delivery_id=delivery_id)  # finds the call begun and settles it; makes no call itself
    return requeued + len(stopped)


# --- taking it down -------------------------------------------------------------------------------------------

# Where the platform lets FiG Safety delete a post it published; elsewhere (Instagram, anything published by
# hand) a person removes it and records that.
DELETABLE = {"facebook", "x"}


def takedown_start(locked: Post) -> list[str]:
    """A takedown opened for a published post: each channel FiG Safety sent where the platform allows it is
    deleted through its API after commit; the others wait for a person. Returns the channels being deleted.
    Precondition: the post row is locked."""
    due = (
        locked.deliveries.select_for_update()
        .filter(state=State.SENT, takedown_requested_at__isnull=True, channel__in=DELETABLE)
        .exclude(external_id="")
    )
    now, channels = timezone.now(), []
    for row in due:
        if sender_for(row.channel) is None:
            continue
        row.takedown_requested_at, row.takedown_started_at, row.takedown_error = now, None, ""
        row.save(update_fields=["takedown_requested_at", "takedown_started_at", "takedown_error"])
        _queue_delete(row.pk)
        channels.append(row.channel)
    return channels


def _queue_delete(delivery_id: int) -> None:
    from social.tasks import delete_post_channel

    queue_after_commit(delete_post_channel, delivery_id)


def delivery_delete(*, delivery_id: int) -> PostChannel | None:
    """Delete one channel's post through the platform's API (the delete task). Call with no transaction open;
    a call that began and never answered is not made again but left for a person to check."""
    with transaction.atomic():
        row = PostChannel.objects.select_for_update().filter(pk=delivery_id).first()
        if row is None or row.state != State.SENT or row.takedown_requested_at is None:
            return row
        if row.takedown_started_at is not None:
            row.takedown_requested_at, row.takedown_error = (
                None,
                UNCERTAIN_DELETE.format(channel=row.get_channel_display()),
            )
            row.save(update_fields=["takedown_requested_at", "takedown_error"])
            return row
        sender = sender_for(row.channel)
        if sender is None:
            row.takedown_requested_at = None
            row.takedown_error = f"{row.get_channel_display()} is not configured here: remove it by hand."
            row.save(update_fields=["takedown_requested_at", "takedown_error"])
            return row
        row.takedown_started_at = started = timezone.now()
        row.save(update_fields=["takedown_started_at"])
    try:
        sender.delete(row.external_id)
    except (PublishError, NotImplementedError) as exc:
        with transaction.atomic():
            again = PostChannel.objects.select_for_update().get(pk=delivery_id)
            if again.takedown_started_at == started and again.state == State.SENT:
                again.takedown_requested_at, again.takedown_started_at = None, None
                again.takedown_error = f"{exc} Try again, or remove it by hand and record it."
                again.save(update_fields=["takedown_requested_at", "takedown_started_at", "takedown_error"])
            return again
    with transaction.atomic():
        post = Post.objects.select_for_update().get(pk=row.post_id)
        again = PostChannel.objects.select_for_update().get(pk=delivery_id)
        _down(again, post, how="api", by=None)
    return again


UNCERTAIN_DELETE = (
    "The call to delete it from {channel} began but never answered: check {channel}, then try again or record "
    "that it is gone."
)


def resume_deletes(now: datetime | None = None) -> int:
    """Deletions whose task never started (the broker away, a worker killed) are queued again; those whose
    call began long ago and never answered are left for a person to check, as delivery_delete leaves them.
    Part of the posts sweep; no call is made twice."""
    now = now or timezone.now()
    asked = PostChannel.objects.filter(state=State.SENT, takedown_requested_at__isnull=False)
    requeued = claim_and_stamp(
        asked.filter(takedown_started_at__isnull=True, takedown_requested_at__lte=now - REQUEUE_AFTER),
        stamp="takedown_requested_at",
        now=now,
        handle=lambda rows: [_queue_delete(r.pk) for r in rows],
    )
    stopped = list(asked.filter(takedown_started_at__lte=now - CALL_GIVEN_UP_AFTER).values_list("pk", flat=True))
    for delivery_id in stopped:
        delivery_delete(delivery_id=delivery_id)  # finds the call begun and says so; makes no call itself
    return requeued + len(stopped)


def delivery_taken_down_by_hand(*, delivery: PostChannel, by: User, request: HttpRequest | None = None) -> PostChannel:
    """A person removed the post from this channel (where the platform allows no deletion from here, or it
    was published by hand)."""
    with transaction.atomic():
        post = Post.objects.select_for_update().get(pk=delivery.post_id)
        row = PostChannel.objects.select_for_update().get(pk=delivery.pk)
        if not post.deliveries.filter(possibly_out(), pk=row.pk).exists():
            raise ChannelError(f"{row.get_channel_display()} is {row.get_state_display().lower()}, not published.")
        _down(row, post, how="by_hand", by=by, request=request)
    return row


def post_taken_down_by_hand(locked: Post, *, by: User | None) -> None:
    """The takedown was recorded as done by hand: every channel still out is down. Precondition: the post row
    is locked."""
    for row in locked.deliveries.select_for_update().filter(possibly_out()):
        _down(row, locked, how="by_hand", by=by, close=False)
    if locked.status not in {Post.Status.WITHDRAWN}:
        settle(locked, by=by)


def _down(
    row: PostChannel, post: Post, *, how: str, by: User | None, request: HttpRequest | None = None, close: bool = True
) -> None:
    """Precondition: both rows locked. The channel is down; when none is left up, the post is taken down and
    its open takedown closed (the parent who asked is told)."""
    row.state, row.taken_down_at, row.taken_down_by, row.taken_down_how = State.TAKEN_DOWN, timezone.now(), by, how
    row.takedown_requested_at = row.takedown_started_at = None
    row.takedown_error = ""
    row.save(
        update_fields=[
            "state",
            "taken_down_at",
            "taken_down_by",
            "taken_down_how",
            "takedown_requested_at",
            "takedown_started_at",
            "takedown_error",
        ]
    )
    audit_record(
        action="post.channel_taken_down",
        actor=by,
        target=post,
        request=request,
        details={"channel": row.channel, "how": how},
    )
    if post.status != Post.Status.WITHDRAWN:
        settle(post, by=by)
    if close and not post.deliveries.filter(possibly_out()).exists():
        from social.inbox.services import takedowns_close_for_post

        takedowns_close_for_post(post, how=how, by=by)
