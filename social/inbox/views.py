"""Social media views: the Meta webhook, the inbox and its message pages, takedowns and the response dashboard."""

from __future__ import annotations

from urllib.parse import urlencode

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from consents.selectors import families_managed_by
from fig_safety.times import LONDON, when
from social import graph
from social.inbox import selectors, services
from social.inbox.access import (
    INBOX_READERS,
    access_message,
    access_takedown,
    can_open_takedown,
    can_read_inbox,
    can_respond,
    messages_visible_to,
)
from social.inbox.charts import weekly_chart
from social.inbox.forms import (
    AssignForm,
    CloseForm,
    ManualMessageForm,
    PassOnForm,
    RemovalForm,
    RespondForm,
    TakedownForm,
)
from social.inbox.ingest import delivery_receive
from social.inbox.meta import signature_valid
from social.models import Conversation, Takedown
from staff.access import require, staff_required
from staff.roles import is_social_admin


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
    body = request.body
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


# --- one message -------------------------------------------------------------------------------


def _message_page(
    request: HttpRequest, message: Conversation, *, failed: tuple[str, forms.Form] | None = None, status: int = 200
) -> HttpResponse:
    """The message, what happened to it, and the forms this person may use. `failed` is (name, form)
    for a form sent back with its errors."""
    user = request.user
    worker = is_social_admin(user)
    is_open = message.status == Conversation.Status.OPEN
    takedowns = list(message.takedowns.select_related("opened_by", "removed_by").order_by("-opened_at", "-id"))
    open_takedown = next((t for t in takedowns if t.status == Takedown.Status.OPEN), None)
    offered: dict[str, forms.Form | None] = {
        "assign_form": AssignForm(initial={"assignee": message.assignee_id}) if worker and is_open else None,
        "pass_form": PassOnForm(initial={"to": message.passed_to_id}) if worker and is_open else None,
        "respond_form": RespondForm() if is_open and can_respond(user, message) else None,
        "close_form": CloseForm() if worker and is_open else None,
        "takedown_form": TakedownForm() if open_takedown is None and can_open_takedown(user, message) else None,
    }
    if failed is not None:
        offered[failed[0]] = failed[1]
    families = message.flagged_families.all()
    if not can_read_inbox(user):
        families = families.filter(pk__in=families_managed_by(user).values("pk"))
    return render(
        request,
        "social/inbox/message.html",
        {
            "message": message,
            "now": timezone.now(),
            "can_work": worker,
            "can_read_inbox": can_read_inbox(user),
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
    return _message_page(request, access_message(request.user, pk))


def _done(request: HttpRequest, message: Conversation, text: str) -> HttpResponse:
    messages.success(request, text)
    return redirect("social:message", pk=message.pk)


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
    for takedown in selectors.open_takedowns():
        form = None
        if worker:
            form = (
                failed[1]
                if failed and failed[0] == takedown.pk
                else RemovalForm(graph_allowed=services.graph_removal_possible(takedown))
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
    form = RemovalForm(request.POST, graph_allowed=services.graph_removal_possible(takedown))
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
