"""Post queue pages: staff draft with the policy checks live beside the text, a social media
administrator other than the author approves, having seen what will go out on each channel, then sends
it or publishes it by hand channel by channel; parents see the posts that show their child, per channel,
and can ask for one to come down in a single step. Also the single-use address a platform fetches a
post's photo from (publish_image)."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotFound, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST, require_safe

from consents.access import parent_required
from fig_safety.times import when
from fig_safety.vault import blob_response
from photos import services as photo_services
from photos.models import Photo, PhotoAccess
from photos.selectors import ORIGINAL, UNIDENTIFIABLE, online_versions
from social.models import Post, PostChannel, Takedown
from social.posts import channels, image_links, probing, selectors, services, terms
from social.posts.access import (
    TERM_READERS,
    Allowed,
    OwnPost,
    access_own_post,
    access_parent_hold,
    access_parent_post,
    access_policy_term,
    access_post,
    access_post_channel,
    access_post_photo,
    access_post_photo_to_publish,
    access_post_to_publish,
    access_post_to_review,
    access_post_to_withdraw,
    can_see_post_photos,
    posts_visible_to,
)
from social.posts.adapters import PublishError, approved_image
from social.posts.checks import CHECK_TITLES, Finding, check_photos
from social.posts.checks.terms import CONTEXT_WINDOW
from social.posts.forms import (
    MAX_TEXT,
    ApproveForm,
    ChangesForm,
    PolicyTermForm,
    PostForm,
    RecordForm,
    ResendForm,
    WithdrawForm,
)
from social.posts.services import EDITABLE
from staff.access import require, staff_required
from staff.roles import Role, is_social_admin
from staff.services import client_ip

PAGE_SIZE = 25
OFFERED_PHOTOS = 60  # the newest photos offered on the form; ones already chosen are always shown too
CHANNEL_LABELS = selectors.CHANNEL_LABELS
# Posts whose scheduled time still matters: the list shows it.
NOT_OUT_YET = [Post.Status.DRAFT, Post.Status.SUBMITTED, Post.Status.CHANGES_REQUESTED, Post.Status.APPROVED]


def _page(request: HttpRequest, template: str, context: dict, status: int = 200) -> HttpResponse:
    """Render a post page; the sub-navigation shows the reviewer's links to reviewers only."""
    return render(request, template, {**context, "nav_can_review": is_social_admin(request.user)}, status=status)


OWN_POST = "You wrote this post, so another social media administrator must review it. Nothing was changed."


# --- the list, the form and the live checks ------------------------------------------------------


@staff_required()
@require_safe
def post_list(request: HttpRequest) -> HttpResponse:
    """Staff see their own posts; reviewers see everyone's. Optionally one status only."""
    visible = posts_visible_to(request.user)
    status = request.GET.get("status", "")
    if status not in Post.Status.values:
        status = ""
    counts = dict(visible.order_by().values_list("status").annotate(n=Count("id")))
    listed = visible.filter(status=status) if status else visible
    listed = listed.select_related("author").annotate(photo_count=Count("photos")).order_by("-updated_at", "-id")
    paginator = Paginator(listed, PAGE_SIZE)
    paginator.count = counts.get(status, 0) if status else sum(counts.values())  # counted already, by status
    page = paginator.get_page(request.GET.get("page"))
    deliveries = selectors.deliveries_by_post(p.pk for p in page.object_list)
    now = timezone.now()
    rows = [
        {
            "post": p,
            "channels": [CHANNEL_LABELS.get(c, c) for c in p.channels],
            "deliveries": deliveries.get(p.pk, []),
            "overdue": p.status in channels.PUBLISHABLE and channels.overdue(p, deliveries.get(p.pk, []), now),
        }
        for p in page.object_list
    ]
    statuses = [(value, label, counts.get(value, 0)) for value, label in Post.Status.choices]
    return _page(
        request,
        "social/posts/list.html",
        {
            "page": page,
            "rows": rows,
            "status": status,
            "statuses": statuses,
            "total": sum(counts.values()),
            "everyone": is_social_admin(request.user),
            "query": f"status={status}" if status else "",
            "not_out_yet": NOT_OUT_YET,
        },
    )


@staff_required()
@require_http_methods(["GET", "POST"])
def post_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    """Write a new post or change a draft. Only its author changes it, and only before review."""
    post = None
    if pk is not None:
        post = access_own_post(request.user, pk)
        if post.status not in EDITABLE:
            messages.info(request, f"This post is {post.get_status_display().lower()}, so it cannot be changed now.")
            return redirect("social:post", pk=post.pk)
    attached = list(post.photos.all()) if post else []
    form = PostForm(request.POST if request.method == "POST" else None, initial=_initial(post, attached))
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            saved = services.post_save_draft(
                author=request.user,
                text=data["text"],
                channels=data["channels"],
                scheduled_for=data["scheduled_for"],
                photos=list(data["photos"]),
                post=post,
                request=request,
            )
        except services.PostError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, "Your draft is saved. Check it below, then send it for review.")
            return redirect("social:post", pk=saved.pk)
    chosen = set(request.POST.getlist("photos")) if form.is_bound else {str(p.public_id) for p in attached}
    may_attach = can_see_post_photos(request.user)
    offered = _offered_photos(chosen) if may_attach else []
    offered_ids = {str(p.public_id) for p in offered}
    text = form.data.get("text", "") if form.is_bound else (post.text if post else "")
    return _page(
        request,
        "social/posts/form.html",
        {
            "form": form,
            "post": post,
            "offered": [(p, str(p.public_id) in chosen) for p in offered],
            # Photos chosen earlier that may no longer be shown online are not offered; saving leaves them off.
            "dropped": sum(1 for p in attached if str(p.public_id) not in offered_ids),
            **_draft_findings(request, text[:MAX_TEXT]),
            "offered_limit": OFFERED_PHOTOS,
            "may_attach": may_attach,
        },
        status=400 if form.errors else 200,
    )


def _draft_findings(request: HttpRequest, text: str) -> dict:
    """The checks on the text the form shows again, through the same rate and audit as the live check
    (social/posts/probing.py): the page is another way to ask the register questions."""
    if not text.strip():
        return {"findings": []}
    try:
        return {"findings": probing.checked_text(request.user, text, where="draft_form", request=request)}
    except probing.ChecksPaused as exc:
        return {"findings": [], "checks_paused": str(exc)}


def _initial(post: Post | None, attached: list[Photo]) -> dict:
    if post is None:
        return {}
    return {
        "text": post.text,
        "channels": post.channels,
        "scheduled_for": post.scheduled_for,
        "photos": [p.public_id for p in attached],
    }


def _offered_photos(chosen: set[str]) -> list[Photo]:
    """The newest photos that may be posted, and any chosen ones further back. Two queries plus the gate's."""
    postable = selectors.postable_photos().select_related("family")
    newest = list(postable.order_by("-uploaded_at", "-id")[:OFFERED_PHOTOS])
    missing = chosen - {str(p.public_id) for p in newest}
    older = list(postable.filter(public_id__in=[i for i in missing if _is_uuid(i)])) if missing else []
    return newest + older


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


@staff_required()
@require_POST
def live_check(request: HttpRequest) -> JsonResponse:
    """The policy checks on text being drafted and the photos chosen, as JSON for post_checks.js.

    Takes a form body (text, photos) or a JSON one ({"text": ..., "photos": [...]}). Only photos
    that may be posted are looked at; any other id is ignored, so the answer says nothing about them.

    The register check would let anyone on the staff confirm which names belong to families FiG works with,
    so the check is rate-limited per person (FIG_LIVE_CHECK_RATES: 429 past it), a check that finds register
    names writes an audit row, and the names finding never echoes more than a few names (checks.people).
    """
    if request.content_type == "application/json":
        try:
            body = json.loads(request.body or b"{}")
        except ValueError:
            return JsonResponse({"error": "The request was not valid JSON."}, status=400)
        body = body if isinstance(body, dict) else {}
        text, ids = str(body.get("text") or ""), body.get("photos") or []
        ids = [str(i) for i in ids] if isinstance(ids, list) else []
    else:
        text, ids = request.POST.get("text", ""), request.POST.getlist("photos")
    text = text[:MAX_TEXT]
    photos = selectors.postable_photos().filter(public_id__in=[i for i in ids[:200] if _is_uuid(i)])
    try:
        findings = probing.checked_text(request.user, text, where="live_check", request=request) if text.strip() else []
    except probing.ChecksPaused as exc:
        response = JsonResponse({"error": str(exc)}, status=429 if str(exc) == probing.TOO_MANY else 503)
        response["Retry-After"] = "60"
        return response
    findings += check_photos(photos) if ids else []
    response = JsonResponse({"findings": [_as_json(f) for f in findings], "summary": _summary(findings)})
    response["Cache-Control"] = "private, no-store"
    return response


def _as_json(finding: Finding) -> dict:
    return {
        "check": finding.check,
        "title": finding.title,
        "explanation": finding.explanation,
        "matches": list(finding.matches),
        "dismissible": finding.dismissible,
    }


def _summary(findings: list[Finding]) -> str:
    if not findings:
        return "No problems found."
    count = len(findings)
    return f"{count} thing{'s' if count != 1 else ''} to check."


@staff_required()
@require_GET  # not HEAD: every request that reads the photo writes an access-log row
def photo_thumbnail(request: HttpRequest, public_id) -> HttpResponse:
    """The thumbnail (480 pixels at most, never the full size) of a photo that may be posted, as it would be
    published, decrypted here. For the people who write and approve posts only (access_post_photo: 403 for
    the rest of the staff); any other photo is 404."""
    photo = access_post_photo(request.user, public_id)
    if not photo.thumbnail_blob:
        raise Http404
    # The image a post would publish: the blurred one when only that may go, or when asked for and confirmed.
    allowed = online_versions([photo])[photo.pk]
    blurred = allowed == UNIDENTIFIABLE or (
        request.GET.get("version") == UNIDENTIFIABLE and photo.marked_unidentifiable
    )
    name, key_id = (
        (photo.unidentifiable_thumbnail_blob, photo.unidentifiable_thumbnail_key_id)
        if blurred
        else (photo.thumbnail_blob, photo.thumbnail_key_id)
    )
    if not name:
        raise Http404
    response = blob_response(
        name=name,
        key_id=key_id,
        content_type="image/jpeg",
        filename=f"fig-post-photo-{photo.public_id}.jpg",
    )
    photo_services.photo_access_record(
        photo=photo, user=request.user, action=PhotoAccess.Action.THUMBNAIL, request=request
    )
    return response


# --- one post ---------------------------------------------------------------------------------------


@staff_required()
@require_safe
def post_detail(request: HttpRequest, pk: int) -> HttpResponse:
    post = access_post(request.user, pk)
    return _page(request, "social/posts/detail.html", _detail_context(request, post))


def _detail_context(request: HttpRequest, post: Post, *, error: str = "", error_target: str = "", **forms) -> dict:
    """Everything the post page shows; bound forms with errors come in through `forms` (`record_forms` by
    channel)."""
    allowed = Allowed.for_user(request.user, post)
    findings = services.post_findings(post)
    photos = list(post.photos.select_related("family").order_by("uploaded_at", "id"))
    postable = set(selectors.postable_photos().filter(pk__in=[p.pk for p in photos]).values_list("pk", flat=True))
    deliveries = list(post.deliveries.select_related("done_by", "taken_down_by"))
    dismissals = {d.check_name: d for d in post.dismissals.select_related("dismissed_by")}
    open_takedown = post.takedowns.filter(status=Takedown.Status.OPEN).first()
    previews = selectors.channel_previews(post, photos)
    context = {
        "post": post,
        "allowed": allowed,
        "findings": findings,
        "finding_rows": [(f, dismissals.get(f.check)) for f in findings],  # with how each was dismissed, if it was
        "gate": [f for f in findings if not f.dismissible],
        # Checks dismissed at approval that find nothing now: still part of what was approved.
        "dismissed_before": [
            (CHECK_TITLES.get(d.check_name, d.check_name), d)
            for d in dismissals.values()
            if d.check_name not in {f.check for f in findings}
        ],
        "photos": [(p, p.pk in postable, post.photo_versions.get(str(p.pk), ORIGINAL)) for p in photos],
        "postable": postable,
        "channels": [CHANNEL_LABELS.get(c, c) for c in post.channels],
        "previews": previews,
        "deliveries": deliveries,
        "overdue": post.status in channels.PUBLISHABLE and channels.overdue(post, deliveries, timezone.now()),
        "history": selectors.post_history(post),
        "open_takedown": open_takedown,
        "error": error,
        "error_target": error_target,
        "takedown_hours": settings.FIG_TAKEDOWN_HOURS,
    }
    if allowed.approve:
        context["approve_form"] = forms.get("approve_form") or ApproveForm(findings=findings)
    if allowed.send_back:
        context["changes_form"] = forms.get("changes_form") or ChangesForm()
    # Nothing more goes out while a takedown is open: the post is coming down.
    if allowed.publish and open_takedown is None:
        context["publishing"] = _publishing(deliveries, previews, forms)
    if allowed.withdraw:
        context["withdraw_form"] = forms.get("withdraw_form") or WithdrawForm()
    return context


def _uncertain(delivery: PostChannel) -> bool:
    return bool(delivery.progress.get("uncertain")) and delivery.state == PostChannel.State.FAILED


def _sendable(delivery: PostChannel) -> bool:
    """A channel FiG Safety sends, not out yet and not being sent (channels.post_send_now's choice)."""
    return not delivery.by_hand and delivery.state in channels.NOT_YET and not delivery.external_id


def _publishing(deliveries: list[PostChannel], previews: list[selectors.ChannelPreview], forms: dict) -> dict:
    """What an administrator can do to get the post out: send the channels FiG Safety sends; send again, once
    they have looked, those whose last call may have gone out; and publish by hand the others (and any that
    failed), recording each link."""
    problems = {p.channel: p.problems for p in previews}
    record_forms = forms.get("record_forms") or {}
    by_hand = [
        (d, record_forms.get(d.channel) or RecordForm(prefix=d.channel), problems.get(d.channel, []))
        for d in deliveries
        if d.state in channels.NOT_YET and (d.by_hand or d.state == PostChannel.State.FAILED)
    ]
    uncertain = [d for d in deliveries if _sendable(d) and _uncertain(d)]
    send = [d for d in deliveries if _sendable(d) and not _uncertain(d)]
    return {
        "send": send,
        "send_names": _labels(send) if send else "",
        "uncertain": uncertain,
        "uncertain_names": _labels(uncertain) if uncertain else "",
        "resend_form": (forms.get("resend_form") or ResendForm()) if uncertain else None,
        "by_hand": by_hand,
    }


def _render_problem(
    request: HttpRequest, post: Post, message: str, *, status: int = 400, target: str = "", **forms
) -> HttpResponse:
    post.refresh_from_db()
    return _page(
        request,
        "social/posts/detail.html",
        _detail_context(request, post, error=message, error_target=target, **forms),
        status=status,
    )


@staff_required()
@require_POST
def post_submit(request: HttpRequest, pk: int) -> HttpResponse:
    post = access_own_post(request.user, pk)
    try:
        findings = services.post_submit(post=post, by=request.user, request=request)
    except services.PostError as exc:
        return _render_problem(request, post, str(exc))
    count = len(findings)
    messages.success(
        request,
        "Sent for review. A social media administrator will check it and approve it "
        "or ask for changes; you will get an email either way."
        + (f" They will weigh the {count} check{'s' if count != 1 else ''} shown below." if count else ""),
    )
    return redirect("social:post", pk=post.pk)


@staff_required(Role.SOCIAL_ADMIN)
@require_POST
def post_approve(request: HttpRequest, pk: int) -> HttpResponse:
    """Four eyes: a reviewer who is not the author, every checklist item, a reason per dismissed check."""
    try:
        post = access_post_to_review(request.user, pk)
    except OwnPost as own:
        return _render_problem(request, own.post, OWN_POST, status=403)
    # The reason boxes follow the findings as they are now, as the service's check will.
    form = ApproveForm(request.POST, findings=services.post_findings(post))
    if not form.is_valid():
        return _render_problem(
            request,
            post,
            "Confirm every item of the checklist and give a reason for each check you dismiss.",
            target="approve",
            approve_form=form,
        )
    try:
        services.post_approve(
            post=post, by=request.user, checklist=form.checklist, dismissals=form.dismissals, request=request
        )
    except services.PostSentBack as exc:
        messages.error(request, str(exc))  # the post changed: show it as it is now
        return redirect("social:post", pk=post.pk)
    except services.PostError as exc:
        return _render_problem(request, post, str(exc), target="approve", approve_form=form)
    messages.success(
        request,
        "Approved. The author has been told, and so have the other social media "
        "administrators; it can be published now.",
    )
    return redirect("social:post", pk=post.pk)


@staff_required(Role.SOCIAL_ADMIN)
@require_POST
def post_request_changes(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        post = access_post_to_review(request.user, pk)
    except OwnPost as own:
        return _render_problem(request, own.post, OWN_POST, status=403)
    form = ChangesForm(request.POST)
    if not form.is_valid():
        return _render_problem(request, post, "Say what needs to change.", target="changes", changes_form=form)
    try:
        services.post_request_changes(post=post, by=request.user, note=form.cleaned_data["note"], request=request)
    except services.PostError as exc:
        return _render_problem(request, post, str(exc), target="changes", changes_form=form)
    messages.success(request, "Sent back to the author with your note.")
    return redirect("social:post", pk=post.pk)


# --- getting it out, channel by channel -----------------------------------------------------------------


def _labels(deliveries: list[PostChannel]) -> str:
    names = [d.get_channel_display() for d in deliveries]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


@staff_required(Role.SOCIAL_ADMIN)
@require_POST
def post_publish(request: HttpRequest, pk: int) -> HttpResponse:
    """Send now: every channel FiG Safety sends that is not out yet, whatever the post's time. With
    `resend_uncertain`, also those whose last call may have gone out, once the administrator says they looked.
    Consents and the checks are run again first; if anything changed, nothing goes out."""
    post = access_post_to_publish(request.user, pk)
    resend = request.POST.get("resend_uncertain") == "1"
    if resend:
        form = ResendForm(request.POST)
        if not form.is_valid():
            return _render_problem(request, post, form.errors["checked"][0], target="resend", resend_form=form)
    else:
        waiting = [d for d in post.deliveries.all() if _sendable(d)]
        unsure = [d for d in waiting if _uncertain(d)]
        if waiting and len(unsure) == len(waiting):
            return _render_problem(
                request,
                post,
                f"Nothing was sent: it may already be on {_labels(unsure)}. Look there, then record its link, "
                "or send it again below.",
                target="resend",
            )
    try:
        if resend:
            channels.post_send_now(post=post, by=request.user, request=request, resend_uncertain=True)
        else:
            services.post_publish(post=post, by=request.user, adapter_name="send", request=request)
    except services.PostError as exc:
        return _render_problem(request, post, str(exc), target="send")
    _say_where_it_is(request, post)
    return redirect("social:post", pk=post.pk)


def _say_where_it_is(request: HttpRequest, post: Post) -> None:
    """After sending: sending runs after commit, so it is done already when the worker was quick (or eager)."""
    post.refresh_from_db()
    deliveries = list(post.deliveries.all())
    failed = [d for d in deliveries if d.state == PostChannel.State.FAILED]
    if post.status == Post.Status.PUBLISHED:
        messages.success(
            request, "Published everywhere. Parents of the children shown can now see it in their account."
        )
    elif failed:
        messages.error(request, f"It did not go out on {_labels(failed)}: the channels below say why.")
    elif any(d.state == PostChannel.State.SENDING for d in deliveries):
        messages.info(
            request,
            "Sending it now. This page shows each channel as it goes out; you will get an email if one fails.",
        )
    else:
        messages.success(request, "Sent. Publish the channels left by hand below, and record the link of each.")


@staff_required(Role.SOCIAL_ADMIN)
@require_POST
def post_channel_record(request: HttpRequest, pk: int, channel: str) -> HttpResponse:
    """One channel published by hand (or found to be out after an uncertain send): its link and time. Consent
    is checked again first."""
    delivery = access_post_channel(request.user, pk, channel)
    post = delivery.post
    form = RecordForm(request.POST, prefix=channel)
    target = f"record-{channel}"
    if not form.is_valid():
        return _render_problem(
            request,
            post,
            f"Check the link for {delivery.get_channel_display()}.",
            target=target,
            record_forms={channel: form},
        )
    try:
        channels.delivery_record(
            delivery=delivery,
            url=form.cleaned_data["url"],
            published_at=form.cleaned_data["published_at"],
            by=request.user,
            request=request,
        )
    except channels.ChannelError as exc:
        return _render_problem(request, post, str(exc), target=target, record_forms={channel: form})
    except services.PostError as exc:
        # Consent or the checks changed: nothing was recorded, and the post went back to its author.
        messages.error(request, str(exc))
        return redirect("social:post", pk=post.pk)
    post.refresh_from_db()
    label = delivery.get_channel_display()
    if post.status == Post.Status.PUBLISHED:
        messages.success(
            request,
            f"Recorded on {label}. It is out on every channel now, so it is published: parents of the children "
            "shown can see it in their account.",
        )
    else:
        messages.success(request, f"Recorded on {label}.")
    return redirect(reverse("social:post", args=[post.pk]) + "#channels")


@staff_required(Role.SOCIAL_ADMIN)
@require_POST
def post_channel_taken_down(request: HttpRequest, pk: int, channel: str) -> HttpResponse:
    """Someone removed the post from this channel by hand (from the takedowns page). When no channel is left
    up, the post is taken down and its takedown closed."""
    delivery = access_post_channel(request.user, pk, channel)
    label = delivery.get_channel_display()
    open_takedown = delivery.post.takedowns.filter(status=Takedown.Status.OPEN).first()
    try:
        channels.delivery_taken_down_by_hand(delivery=delivery, by=request.user, request=request)
    except channels.ChannelError as exc:
        messages.error(request, str(exc))
    else:
        post = Post.objects.get(pk=delivery.post_id)
        if post.status == Post.Status.TAKEN_DOWN:
            messages.success(request, f"Recorded as removed from {label}. It is down everywhere now.")
        else:
            messages.success(request, f"Recorded as removed from {label}.")
    if open_takedown is not None:
        return redirect(reverse("social:takedowns") + f"#takedown-{open_takedown.pk}")
    return redirect(reverse("social:post", args=[delivery.post_id]) + "#channels")


@staff_required(Role.SOCIAL_ADMIN)
@require_GET  # not HEAD: every request that reads the photo writes an access-log row
def post_photo_download(request: HttpRequest, pk: int, public_id) -> HttpResponse:
    """The full-size image of a photo exactly as the post was approved with it (as taken, or blurred), to
    publish it by hand. Only while the post is waiting to go out somewhere, and only while the photo may still
    be shown online as that image; every download is logged against the photo."""
    post, photo, version = access_post_photo_to_publish(request.user, pk, public_id)
    if [f for f in check_photos([photo], versions={str(photo.pk): version}) if not f.dismissible]:
        messages.error(
            request,
            "That photo may no longer be published as it was approved, so it was not downloaded. Send the post "
            "back to its author.",
        )
        return redirect(reverse("social:post", args=[post.pk]) + "#channels")
    try:
        data = approved_image(photo, version)
    except PublishError as exc:
        raise Http404 from exc
    response = HttpResponse(data, content_type="image/jpeg")
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    blurred = "-blurred" if version == UNIDENTIFIABLE else ""
    response["Content-Disposition"] = f'attachment; filename="fig-post-{post.pk}-{photo.public_id}{blurred}.jpg"'
    photo_services.photo_access_record(
        photo=photo, user=request.user, action=PhotoAccess.Action.DOWNLOAD, request=request
    )
    return response


@require_GET
def publish_image(request: HttpRequest, token: str) -> HttpResponse:
    """The image behind a single-use address made for a platform that fetches a post's photo itself
    (Instagram): no sign-in, once, before it expires (social.posts.image_links). Anything else is a bare 404
    that says nothing about the token. Nothing here reads or sets a cookie."""
    try:
        data = image_links.image_link_use(token, ip=client_ip(request))
    except PublishError:  # the vault could not be read: the platform's fetch fails, and the send with it
        data = None
    if data is None:
        response = HttpResponseNotFound("Not found.", content_type="text/plain; charset=utf-8")
    else:
        response = HttpResponse(data, content_type="image/jpeg")
    response["Cache-Control"] = "no-store"
    response["X-Robots-Tag"] = "noindex, nofollow"
    response["X-Content-Type-Options"] = "nosniff"
    response["Referrer-Policy"] = "no-referrer"
    return response


@staff_required()
@require_POST
def post_withdraw(request: HttpRequest, pk: int) -> HttpResponse:
    post = access_post_to_withdraw(request.user, pk)
    form = WithdrawForm(request.POST)
    form.is_valid()  # the reason is optional and any text is fine
    try:
        services.post_withdraw(post=post, by=request.user, reason=form.cleaned_data.get("reason", ""), request=request)
    except services.PostError as exc:
        return _render_problem(request, post, str(exc), target="withdraw", withdraw_form=form)
    # Out on any channel (published, or partly): the service opened a takedown.
    if post.takedowns.filter(status=Takedown.Status.OPEN).exists():
        messages.success(
            request,
            f"Withdrawn. A takedown is open: the post must come down within {settings.FIG_TAKEDOWN_HOURS} hours.",
        )
    else:
        messages.success(request, "Withdrawn. It will not be published.")
    return redirect("social:post", pk=post.pk)


# --- the reviewer's queue ----------------------------------------------------------------------------


@staff_required(Role.SOCIAL_ADMIN)
@require_safe
def review_queue(request: HttpRequest) -> HttpResponse:
    """Posts awaiting this reviewer (never their own), oldest first, with how long each has waited, a thumbnail
    of the first photo and how many checks found something."""
    now = timezone.now()
    waiting = selectors.awaiting_review(request.user).annotate(photo_count=Count("photos"))
    page = Paginator(waiting, 50).get_page(request.GET.get("page"))
    ids = [p.pk for p in page.object_list]
    thumbnails, findings = selectors.first_photos(ids), selectors.findings_when_submitted(ids)
    rows = [
        {
            "post": p,
            "waited": waited_words(now - (p.submitted_at or p.updated_at)),
            "channels": [CHANNEL_LABELS.get(c, c) for c in p.channels],
            "late": p.scheduled_for is not None and p.scheduled_for - now < timedelta(hours=24),
            "thumbnail": thumbnails.get(p.pk),
            "version": p.photo_versions.get(str(thumbnails[p.pk].pk), ORIGINAL) if p.pk in thumbnails else "",
            "findings": findings.get(p.pk, 0),
        }
        for p in page.object_list
    ]
    return _page(request, "social/posts/review_queue.html", {"page": page, "rows": rows, "now": now})


def waited_words(delta: timedelta) -> str:
    """'Waiting 3 days', 'Waiting 5 hours', 'Waiting 20 minutes', 'Just sent': how long, in plain words."""

    def plural(n: int, word: str) -> str:
        return f"{n} {word}{'' if n == 1 else 's'}"

    if delta >= timedelta(days=1):
        days, rest = divmod(delta, timedelta(days=1))
        hours = rest // timedelta(hours=1)
        return f"Waiting {plural(days, 'day')}" + (f" {plural(hours, 'hour')}" if hours and days < 3 else "")
    if delta >= timedelta(hours=1):
        return f"Waiting {plural(delta // timedelta(hours=1), 'hour')}"
    if delta >= timedelta(minutes=1):
        return f"Waiting {plural(delta // timedelta(minutes=1), 'minute')}"
    return "Just sent"


# --- parents --------------------------------------------------------------------------------------------


@parent_required
@require_safe
def parent_posts(request: HttpRequest) -> HttpResponse:
    """The published posts with a photo of one of this parent's children. The photos are described,
    never served: their bytes stay in the vault."""
    return _page(
        request,
        "social/posts/parent_posts.html",
        {
            "cards": selectors.parent_post_cards(request.user),
            "takedown_hours": settings.FIG_TAKEDOWN_HOURS,
        },
    )


@parent_required
@require_POST
def parent_request_removal(request: HttpRequest, pk: int) -> HttpResponse:
    """One step: the parent asks, FiG opens a takedown with its own clock and stops using the photos of their
    child in it online. Asking twice changes nothing (the service holds again only a photo allowed meanwhile)."""
    post = access_parent_post(request.user, pk)
    existing = post.takedowns.filter(status=Takedown.Status.OPEN).first()
    try:
        takedown = services.parent_request_removal(post=post, user=request.user, request=request)
    except services.PostError as exc:
        raise Http404 from exc
    if existing is not None and existing.requested_by_id == request.user.pk:
        messages.info(
            request,
            f"You have already asked FiG to remove this post. It will be taken down by {when(existing.due_at)}.",
        )
    elif existing is not None:
        messages.success(
            request,
            f"FiG is already taking this post down, and your request has been added. "
            f"It will be removed by {when(takedown.due_at)}.",
        )
    else:
        messages.success(
            request,
            f"Thank you. FiG has been asked to remove this post and will take it down by "
            f"{when(takedown.due_at)}. You do not need to do anything else.",
        )
    return redirect(reverse("social:parent_posts") + f"#post-{post.pk}")


@parent_required
@require_POST
def parent_hold_lift(request: HttpRequest, pk: int) -> HttpResponse:
    """A parent allows FiG to use a photo of their child online again, from the child's consent page.
    A second press changes nothing."""
    hold = access_parent_hold(request.user, pk)
    try:
        lifted = services.photo_hold_lift(hold=hold, by=request.user, request=request)
    except services.PostError as exc:
        raise Http404 from exc
    name = hold.child.first_name
    if lifted:
        messages.success(
            request,
            f"Done. FiG may use this photo of {name} online again, if your photo consent allows it.",
        )
    else:
        messages.info(request, f"You have already allowed FiG to use this photo of {name} online again.")
    return redirect(reverse("consents:my_child", args=[hold.child_id]))


# --- the religious and political term lists ----------------------------------------------------------


def _terms_page(request: HttpRequest, *, form: PolicyTermForm | None = None, status: int = 200) -> HttpResponse:
    can_edit = is_social_admin(request.user)
    lists = [
        (value, label, listed, sum(1 for t in listed if t.is_active))
        for value, label, listed in terms.policy_terms_by_category()
    ]
    return render(
        request,
        "social/posts/policy_terms.html",
        {
            "lists": lists,
            "can_edit": can_edit,
            "form": (form or PolicyTermForm()) if can_edit else None,
            "context_window": CONTEXT_WINDOW,
            "nav_can_review": is_social_admin(request.user),
        },
        status=status,
    )


def _back_to(category: str) -> HttpResponse:
    return redirect(reverse("social:policy_terms") + f"#{category}-terms")


@staff_required(*TERM_READERS)
@require_safe
def policy_terms(request: HttpRequest) -> HttpResponse:
    return _terms_page(request)


@staff_required(*TERM_READERS)
@require_POST
def policy_term_add(request: HttpRequest) -> HttpResponse:
    require(is_social_admin(request.user))
    form = PolicyTermForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            term, switched_on = terms.policy_term_add(
                category=data["category"], term=data["term"], kind=data["kind"], by=request.user, request=request
            )
        except terms.TermError as exc:
            form.add_error("term", str(exc))
        else:
            where = term.get_category_display().lower()
            if switched_on:
                messages.success(
                    request,
                    f"“{term.term}” was on the {where} list, switched off. It is switched on "
                    f"again{terms.KIND_SWITCHED_ON[term.kind]} from now on.",
                )
            else:
                messages.success(request, f"“{term.term}” is added to the {where} list{terms.KIND_EFFECTS[term.kind]}")
            return _back_to(term.category)
    return _terms_page(request, form=form, status=400)


@staff_required(*TERM_READERS)
@require_POST
def policy_term_switch(request: HttpRequest, pk: int, on: bool) -> HttpResponse:
    term = access_policy_term(request.user, pk)
    try:
        term = terms.policy_term_switch(term=term, on=on, by=request.user, request=request)
    except terms.TermError as exc:
        messages.error(request, str(exc))
    else:
        if on:
            messages.success(request, f"“{term.term}” is switched on again{terms.KIND_SWITCHED_ON[term.kind]}.")
        else:
            messages.success(request, f"“{term.term}” is switched off{terms.KIND_SWITCHED_OFF[term.kind]}")
    return _back_to(term.category)
