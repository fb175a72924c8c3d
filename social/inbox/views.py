"""Social media views: the Meta webhook, the inbox and its conversation pages (the thread, replying, notes,
attachments), takedowns and the response dashboard. The saved replies' pages are in views_saved.py."""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import urlencode

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseForbidden
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST, require_safe

from consents.selectors import families_managed_by
from fig_safety.times import LONDON, when
from fig_safety.vault import blob_response
from social import graph
from social.inbox import replies, selectors, services
from social.inbox.access import (
    INBOX_READERS,
    access_item,
    access_message,
    access_takedown,
    can_note,
    can_open_takedown,
    can_read_inbox,
    can_respond,
    messages_visible_to,
)
from social.inbox.attachments import INLINE_TYPES
from social.inbox.charts import weekly_chart
from social.inbox.forms import (
    AssignForm,
    CloseForm,
    ManualMessageForm,
    NoteForm,
    PassOnForm,
    RemovalForm,
    ReplyForm,
    RespondForm,
    TakedownForm,
)
from social.inbox.ingest import delivery_receive
from social.inbox.meta import signature_valid
from social.inbox.saved_replies import active_saved_replies
from social.models import Conversation, Message, Takedown
from staff.access import require, staff_required
from staff.roles import is_social_admin
from staff.services import audit_record


@csrf_exempt  # Meta cannot send a CSRF token; every POST is checked by its HMAC signature instead
@require_http_methods(["GET", "POST"])
def meta_webhook(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        token = settings.FIG_META_VERIFY_TOKEN
        if (
            request.GET.get("hub.mode") == "subscribe"
            and token
            and _same(request.GET.get("hub.verify_token", ""), token)
        ):
            return HttpResponse(request.GET.get("hub.challenge", ""), content_type="text/plain")
        return HttpResponseForbidden("Verification failed.")
    # Read directly rather than through request.body, which Django caps at DATA_UPLOAD_MAX_MEMORY_SIZE
    # (2.5 MB): Meta batches up to thousands of events, and a refused delivery is retried and then dropped.
    body = request.read(settings.FIG_WEBHOOK_MAX_BYTES + 1)
    if len(body) > settings.FIG_WEBHOOK_MAX_BYTES:
        return HttpResponse("Too large.", status=413, content_type="text/plain")
    if not signature_valid(body, request.headers.get("X-Hub-Signature-256"), settings.FIG_META_APP_SECRET):
        return HttpResponseForbidden("Bad signature.")
    try:
        delivery_receive(body)
    except ValueError:  # not a webhook delivery at all; a bad item inside one is skipped, not refused
        return HttpResponse(status=400)
    return HttpResponse("EVENT_RECEIVED", content_type="text/plain")


def _same(given: str, expected: str) -> bool:
    import hmac

    return hmac.compare_digest(given.encode(), expected.encode())


# --- the inbox --------------------------------------------------------------------------------

PAGE_SIZE = 25


@staff_required(*INBOX_READERS)
@require_safe
def inbox(request: HttpRequest) -> HttpResponse:
    """Tabs of messages, urgent first and then by time left; search over the text and the sender."""
    now = timezone.now()
    tab = request.GET.get("tab", "open")
    if tab not in selectors.TAB_KEYS:
        tab = "open"
    search = request.GET.get("q", "").strip()[:200]
    found = selectors.inbox_messages(tab=tab, user=request.user, now=now, search=search)
    counts = selectors.inbox_tab_counts(request.user, now)
    paginator = Paginator(found[: selectors.TAB_CAP], PAGE_SIZE)
    paginator.count = selectors.capped_count(found) if search else counts[tab]
    page = paginator.get_page(request.GET.get("page"))
    worker = is_social_admin(request.user)
    tabs = [
        (key, label, counts[key], counts[key] >= selectors.TAB_CAP)
        for key, label in selectors.TABS
        if worker or key != "mine"
    ]
    return render(
        request,
        "social/inbox/inbox.html",
        {
            "tab": tab,
            "tabs": tabs,
            "search": search,
            "page": page,
            "now": now,
            "can_work": worker,
            "capped": paginator.count >= selectors.TAB_CAP,
            "query": urlencode({k: v for k, v in (("tab", tab), ("q", search)) if v}),
        },
    )


@staff_required()
@require_safe
def for_me(request: HttpRequest) -> HttpResponse:
    """The messages passed to this member of staff, and flagged ones naming a family they coordinate."""
    visible = (
        Conversation.objects.filter(passed_to=request.user)
        if can_read_inbox(request.user)
        else messages_visible_to(request.user)
    )
    page = Paginator(selectors.messages_for_staff(request.user, visible), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "social/inbox/for_me.html", {"page": page, "now": timezone.now()})


@staff_required(*INBOX_READERS)
@require_http_methods(["GET", "POST"])
def add_message(request: HttpRequest) -> HttpResponse:
    """A message that came by X, email, phone or another way, with when it was received."""
    require(is_social_admin(request.user))
    now_here = timezone.localtime(timezone.now(), LONDON).replace(second=0, microsecond=0, tzinfo=None)
    form = ManualMessageForm(request.POST or None, initial={"received_at": now_here})
    if request.method == "POST" and form.is_valid():
        try:
            message = services.message_add_manual(**form.cleaned_data, by=request.user, request=request)
        except services.InboxError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, f"Added. A reply is due by {when(message.due_at, year=True)}.")
            return redirect("social:message", pk=message.pk)
    return render(
        request, "social/inbox/add_message.html", {"form": form, "can_work": True}, status=400 if form.errors else 200
    )


# --- one conversation --------------------------------------------------------------------------


@dataclass(frozen=True)
class ReplyOffer:
    """The reply box: how a reply can go now (or why it cannot), the form, and the saved replies as
    (id, title, text with this person's name filled in)."""

    options: replies.ReplyOptions
    form: ReplyForm | None = None
    saved: list[tuple[int, str, str]] = field(default_factory=list)
    only_way: str = ""
    error: str = ""
    saved_error: str = ""


def _names_check(text: str, ways: list[tuple[str, str]]) -> bool:
    """Whether to offer the "it names only them" box: the checks found something, and a private way exists
    (a public reply that names anyone is refused whatever is ticked)."""
    private = any(way != Message.SendAs.PUBLIC_REPLY for way, _ in ways)
    return bool(private and text.strip() and replies.reply_findings(text))


def _reply_offer(
    conversation: Conversation, now: datetime, *, form: ReplyForm | None, text: str, error: str, saved_error: str
) -> ReplyOffer:
    options = replies.reply_options(conversation, now)
    if not options.ways:
        return ReplyOffer(options=options, error=error)
    if form is None:
        form = ReplyForm(initial={"text": text}, ways=options.ways, names_check=_names_check(text, options.ways))
    saved = [(s.pk, s.title, replies.personalise(s.text, conversation)) for s in active_saved_replies()]
    only_way = options.ways[0][1] if len(options.ways) == 1 else ""
    return ReplyOffer(options=options, form=form, saved=saved, only_way=only_way, error=error, saved_error=saved_error)


def _ago(since: timedelta) -> str:
    minutes = int(since.total_seconds() // 60)
    if minutes < 1:
        return "less than a minute ago"
    return f"{minutes} minute{'' if minutes == 1 else 's'} ago"


def _message_page(
    request: HttpRequest,
    message: Conversation,
    *,
    failed: tuple[str, forms.Form] | None = None,
    status: int = 200,
    reply_form: ReplyForm | None = None,
    reply_text: str = "",
    reply_error: str = "",
    saved_error: str = "",
) -> HttpResponse:
    """The conversation, what happened to it, and the forms this person may use. `failed` is (name, form)
    for a form sent back with its errors; `reply_form` a reply form to show as it is (a saved reply inserted);
    `reply_text` text to put in the reply box, `reply_error` why it could not be sent, and `saved_error` what
    was wrong with the saved reply asked for."""
    user = request.user
    now = timezone.now()
    worker = is_social_admin(user)
    responder = can_respond(user, message)
    is_open = message.status == Conversation.Status.OPEN
    thread = selectors.conversation_thread(message, responder=responder)
    takedowns = list(message.takedowns.select_related("opened_by", "removed_by").order_by("-opened_at", "-id"))
    open_takedown = next((t for t in takedowns if t.status == Takedown.Status.OPEN), None)
    failed_reply = failed[1] if failed and failed[0] == "reply_form" else None
    reply = None
    if responder and message.status != Conversation.Status.CLOSED:
        reply = _reply_offer(
            message,
            now,
            form=failed_reply or reply_form,
            text=reply_text,
            error=reply_error,
            saved_error=saved_error,
        )
    record_initial = {"text": reply_text} if reply is not None and reply.form is None and reply_text else None
    offered: dict[str, forms.Form | None] = {
        "assign_form": AssignForm(initial={"assignee": message.assignee_id}) if worker and is_open else None,
        "pass_form": PassOnForm(initial={"to": message.passed_to_id}) if worker and is_open else None,
        "respond_form": RespondForm(initial=record_initial) if is_open and responder else None,
        "close_form": CloseForm() if worker and is_open else None,
        "takedown_form": TakedownForm() if open_takedown is None and can_open_takedown(user, message) else None,
        "note_form": NoteForm() if can_note(user, message) else None,
    }
    if failed is not None and failed_reply is None:
        offered[failed[0]] = failed[1]
    families = message.flagged_families.all()
    if not can_read_inbox(user):
        families = families.filter(pk__in=families_managed_by(user).values("pk"))
    replying = services.someone_else_replying(message, user, now) if responder else None
    return render(
        request,
        "social/inbox/message.html",
        {
            "message": message,
            "now": now,
            "can_work": worker,
            "can_read_inbox": can_read_inbox(user),
            "thread": thread,
            "permalink": selectors.meta_permalink(message.permalink),
            "due_text": when(message.due_at, year=True),
            "done_text": when(message.done_at, year=True) if message.done_at else "",
            "reply": reply,
            "replying": replying,
            "replying_since": _ago(now - message.replying_at) if replying else "",
            "pass_ons": list(message.pass_ons.select_related("to", "by")),
            "notes": list(message.notes.select_related("by")),
            "takedowns": takedowns,
            "open_takedown": open_takedown,
            "families": list(families),
            "history": selectors.message_history(message),
            "failed": failed[0] if failed else "",
            "is_mine": message.assignee_id == user.pk,
            "takedown_hours": settings.FIG_TAKEDOWN_HOURS,
            **offered,
        },
        status=status,
    )


@staff_required()
@require_safe
def message_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """The conversation. `?put_back=<reply id>` puts a reply that was not sent back in the reply box."""
    message = access_message(request.user, pk)
    text = ""
    put_back = request.GET.get("put_back", "")
    if put_back.isdecimal() and can_respond(request.user, message):
        text = selectors.unsent_reply_text(message, int(put_back))
    return _message_page(request, message, reply_text=text)


def _done(request: HttpRequest, message: Conversation, text: str) -> HttpResponse:
    messages.success(request, text)
    return redirect("social:message", pk=message.pk)


@staff_required()
@require_POST
def message_reply(request: HttpRequest, pk: int) -> HttpResponse:
    """Send a reply from here: kept and queued, sent through the Graph API after commit."""
    message = access_message(request.user, pk)
    require(can_respond(request.user, message))
    options = replies.reply_options(message, timezone.now())
    text = request.POST.get("text", "")
    if not options.ways:
        # The window closed while they wrote: say why, and keep the text for recording a reply made elsewhere.
        return _message_page(request, message, reply_text=text, reply_error=options.why_not, status=400)
    form = ReplyForm(request.POST, ways=options.ways, names_check=_names_check(text, options.ways))
    if form.is_valid():
        try:
            replies.reply_queue(
                conversation=message,
                text=form.cleaned_data["text"],
                send_as=form.cleaned_data["send_as"],
                names_checked=form.cleaned_data.get("names_checked", False),
                by=request.user,
                request=request,
            )
        except services.InboxError as exc:
            form.add_error(None, str(exc))
        else:
            return _done(request, message, "Your reply is being sent.")
    return _message_page(request, message, failed=("reply_form", form), status=400)


@staff_required()
@require_POST
def reply_insert(request: HttpRequest, pk: int) -> HttpResponse:
    """The Insert button without the script: the page again, with the saved reply (their name filled in)
    after what was typed. Opening the reply box this way counts as starting to reply."""
    message = access_message(request.user, pk)
    require(can_respond(request.user, message))
    options = replies.reply_options(message, timezone.now())
    typed = request.POST.get("text", "")
    chosen = request.POST.get("saved", "")
    saved = active_saved_replies().filter(pk=int(chosen)).first() if chosen.isdecimal() else None
    if not options.ways:
        return _message_page(request, message, reply_text=typed, reply_error=options.why_not, status=400)
    send_as = request.POST.get("send_as", "")
    initial = {"send_as": send_as} if send_as in dict(options.ways) else {}
    if saved is None:
        form = ReplyForm(initial={**initial, "text": typed}, ways=options.ways)
        return _message_page(
            request, message, reply_form=form, saved_error="Choose a saved reply to insert.", status=400
        )
    personal = replies.personalise(saved.text, message)
    text = f"{typed.rstrip()}\n\n{personal}" if typed.strip() else personal
    services.replying_start(conversation=message, by=request.user)
    form = ReplyForm(initial={**initial, "text": text}, ways=options.ways, names_check=_names_check(text, options.ways))
    return _message_page(request, message, reply_form=form)


@staff_required()
@require_POST
def reply_again(request: HttpRequest, pk: int, message_id: int) -> HttpResponse:
    """Send a reply that failed again, as it was."""
    message, reply = access_item(request.user, pk, message_id)
    require(can_respond(request.user, message))
    if reply.event != Message.Event.REPLY:
        raise Http404
    try:
        replies.reply_try_again(reply=reply, by=request.user, request=request)
    except services.InboxError as exc:
        messages.error(request, str(exc))
        return redirect("social:message", pk=message.pk)
    return _done(request, message, "Your reply is being sent again.")


@staff_required()
@require_POST
def message_replying(request: HttpRequest, pk: int) -> HttpResponse:
    """The reply box got the focus (the page's script says so): a colleague opening it now is warned."""
    message = access_message(request.user, pk)
    require(can_respond(request.user, message))
    services.replying_start(conversation=message, by=request.user)
    return HttpResponse(status=204)


@staff_required()
@require_POST
def message_note(request: HttpRequest, pk: int) -> HttpResponse:
    message = access_message(request.user, pk)
    require(can_note(request.user, message))
    form = NoteForm(request.POST)
    if form.is_valid():
        try:
            services.note_add(conversation=message, text=form.cleaned_data["text"], by=request.user, request=request)
        except services.InboxError as exc:
            form.add_error(None, str(exc))
        else:
            return _done(request, message, "Your note is added.")
    return _message_page(request, message, failed=("note_form", form), status=400)


@staff_required()
@require_GET  # not HEAD: every request that reads an attachment writes an audit row
def message_attachment(request: HttpRequest, pk: int, message_id: int, index: int) -> HttpResponse:
    """An attachment someone sent, decrypted here for the people who may see the conversation: a photo in
    the page, anything else as a download. Each view is audited."""
    message, item = access_item(request.user, pk, message_id)
    attachments = item.attachments or []
    attachment = attachments[index] if index < len(attachments) else None
    if not isinstance(attachment, dict) or not attachment.get("blob"):
        raise Http404
    content_type = attachment.get("content_type") or ""
    inline = content_type in INLINE_TYPES
    extension = _extension(content_type)
    response = blob_response(
        name=attachment["blob"],
        key_id=attachment.get("key_id") or "",
        # Anything not shown in the page is a plain download: never rendered by the browser, whatever Meta said.
        content_type=content_type if inline else "application/octet-stream",
        filename=f"fig-inbox-{item.pk}-{index + 1}{extension}",
        attachment=not inline,
    )
    audit_record(
        action="inbox.attachment_viewed",
        actor=request.user,
        target=item,
        request=request,
        details={"conversation": message.pk, "index": index, "download": not inline},
    )
    return response


def _extension(content_type: str) -> str:
    """A file name ending for a download, from its type: letters and digits only."""
    guessed = mimetypes.guess_extension(content_type.split(";")[0].strip()) or ""
    return guessed if guessed[1:].isalnum() else ""


@staff_required()
@require_POST
def message_assign(request: HttpRequest, pk: int) -> HttpResponse:
    message = access_message(request.user, pk)
    require(is_social_admin(request.user))
    form = AssignForm(request.POST)
    if request.POST.get("to_me"):
        form = AssignForm({"assignee": ""})  # "Assign to me" needs no choice; superusers are not in the list
    if form.is_valid():
        assignee = request.user if request.POST.get("to_me") else form.cleaned_data["assignee"]
        try:
            services.message_assign(message=message, assignee=assignee, by=request.user, request=request)
        except services.InboxError as exc:
            form.add_error(None, str(exc))
        else:
            if assignee == request.user:
                return _done(request, message, "The message is assigned to you.")
            return _done(request, message, f"Assigned to {assignee}." if assignee else "Nobody is assigned now.")
    return _message_page(request, message, failed=("assign_form", form), status=400)


@staff_required()
@require_POST
def message_pass_on(request: HttpRequest, pk: int) -> HttpResponse:
    message = access_message(request.user, pk)
    require(is_social_admin(request.user))
    form = PassOnForm(request.POST)
    if form.is_valid():
        try:
            services.message_pass_on(
                message=message,
                to=form.cleaned_data["to"],
                note=form.cleaned_data["note"],
                by=request.user,
                request=request,
            )
        except services.InboxError as exc:
            form.add_error(None, str(exc))
        else:
            return _done(
                request,
                message,
                f"Passed on to {form.cleaned_data['to']}. They have been emailed. "
                f"The reply is still due by {when(message.due_at, year=True)}.",
            )
    return _message_page(request, message, failed=("pass_form", form), status=400)


@staff_required()
@require_POST
def message_respond(request: HttpRequest, pk: int) -> HttpResponse:
    message = access_message(request.user, pk)
    require(can_respond(request.user, message))
    form = RespondForm(request.POST)
    if form.is_valid():
        try:
            services.message_respond(
                message=message,
                text=form.cleaned_data["text"],
                link=form.cleaned_data["link"],
                by=request.user,
                request=request,
            )
        except services.InboxError as exc:
            form.add_error(None, str(exc))
        else:
            return _done(request, message, "The response is recorded. This message is done.")
    return _message_page(request, message, failed=("respond_form", form), status=400)


@staff_required()
@require_POST
def message_close(request: HttpRequest, pk: int) -> HttpResponse:
    message = access_message(request.user, pk)
    require(is_social_admin(request.user))
    form = CloseForm(request.POST)
    if form.is_valid():
        try:
            services.message_close(
                message=message, reason=form.cleaned_data["reason"], by=request.user, request=request
            )
        except services.InboxError as exc:
            form.add_error(None, str(exc))
        else:
            return _done(request, message, "Closed as needing no reply.")
    return _message_page(request, message, failed=("close_form", form), status=400)


@staff_required()
@require_POST
def message_takedown(request: HttpRequest, pk: int) -> HttpResponse:
    message = access_message(request.user, pk)
    require(can_open_takedown(request.user, message))
    form = TakedownForm(request.POST)
    if form.is_valid():
        try:
            takedown, _ = services.takedown_open(
                message=message, reason=form.cleaned_data["reason"], by=request.user, request=request
            )
        except services.InboxError as exc:
            form.add_error(None, str(exc))
        else:
            return _done(request, message, f"Takedown opened. It must come down by {when(takedown.due_at, year=True)}.")
    return _message_page(request, message, failed=("takedown_form", form), status=400)


# --- takedowns ---------------------------------------------------------------------------------


def _takedowns_page(
    request: HttpRequest, *, failed: tuple[int, RemovalForm] | None = None, status: int = 200
) -> HttpResponse:
    worker = is_social_admin(request.user)
    rows = []
    # A post's takedown lists each channel: deleted through its API, or to remove by hand and record.
    for takedown in selectors.open_takedowns().prefetch_related("post__deliveries"):
        form = None
        if worker:
            form = (
                failed[1]
                if failed and failed[0] == takedown.pk
                else RemovalForm(graph_allowed=services.graph_removal_possible(takedown), takedown=takedown)
            )
        rows.append((takedown, form))
    removed = Paginator(selectors.removed_takedowns(), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "social/inbox/takedowns.html",
        {
            "rows": rows,
            "removed": removed,
            "now": timezone.now(),
            "can_work": worker,
            "takedown_hours": settings.FIG_TAKEDOWN_HOURS,
            "graph_configured": graph.graph_configured(),
            "failed": failed[0] if failed else None,
        },
        status=status,
    )


@staff_required(*INBOX_READERS)
@require_safe
def takedowns(request: HttpRequest) -> HttpResponse:
    return _takedowns_page(request)


REMOVING = "FiG Safety is asking Meta to remove it."


@staff_required(*INBOX_READERS)
@require_POST
def takedown_remove(request: HttpRequest, pk: int) -> HttpResponse:
    """Record that it is gone; hide or delete through the Graph API first when asked. On any error
    nothing is marked as removed and the page says why."""
    takedown = access_takedown(request.user, pk)
    form = RemovalForm(request.POST, graph_allowed=services.graph_removal_possible(takedown), takedown=takedown)
    if takedown.status != Takedown.Status.OPEN:
        messages.info(request, "That takedown was already closed.")
        return redirect("social:takedowns")
    if form.is_valid():
        try:
            services.takedown_record_removal(
                takedown=takedown,
                how=form.cleaned_data["how"],
                notes=form.cleaned_data["notes"],
                by=request.user,
                request=request,
            )
        except services.InboxError as exc:
            form.add_error(None, str(exc))
        else:
            # A Graph API removal runs after commit: done already when the worker was quick (or eager).
            takedown.refresh_from_db()
            if takedown.status == Takedown.Status.REMOVED:
                messages.success(request, "Recorded as removed.")
                return redirect("social:takedowns")
            if not takedown.removal_error:
                messages.info(request, f"{REMOVING} It is recorded as removed once Meta confirms it.")
                return redirect("social:takedowns")
            form.add_error(None, takedown.removal_error)
    return _takedowns_page(request, failed=(takedown.pk, form), status=400)


# --- the dashboard -----------------------------------------------------------------------------


@staff_required(*INBOX_READERS)
@require_safe
def dashboard(request: HttpRequest) -> HttpResponse:
    stats = selectors.cached_response_dashboard()
    return render(
        request,
        "social/inbox/dashboard.html",
        {
            "stats": stats,
            "chart": weekly_chart(stats.weeks),
            "weeks": list(reversed(stats.weeks)),
            "can_work": is_social_admin(request.user),
        },
    )
