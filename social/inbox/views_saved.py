"""The saved replies' pages: the social media administrators add, change and retire them; the CEO reads them."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from social.inbox import saved_replies
from social.inbox.access import INBOX_READERS, access_saved_reply
from social.inbox.forms import SavedReplyForm
from social.models import SavedReply
from staff.access import require, staff_required
from staff.roles import is_social_admin


def _list_page(request: HttpRequest, *, form: SavedReplyForm | None = None, status: int = 200) -> HttpResponse:
    can_edit = is_social_admin(request.user)
    in_use, retired = saved_replies.saved_replies_listed()
    return render(
        request,
        "social/inbox/saved_replies.html",
        {
            "in_use": in_use,
            "retired": retired,
            "can_edit": can_edit,
            "can_work": can_edit,
            "form": (form or SavedReplyForm()) if can_edit else None,
        },
        status=status,
    )


@staff_required(*INBOX_READERS)
@require_safe
def saved_replies_list(request: HttpRequest) -> HttpResponse:
    return _list_page(request)


@staff_required(*INBOX_READERS)
@require_POST
def saved_reply_add(request: HttpRequest) -> HttpResponse:
    require(is_social_admin(request.user))
    form = SavedReplyForm(request.POST)
    if form.is_valid():
        try:
            saved = saved_replies.saved_reply_add(**form.cleaned_data, by=request.user, request=request)
        except saved_replies.SavedReplyError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, f"“{saved.title}” is added. Staff can insert it in a reply from now on.")
            return redirect("social:saved_replies")
    return _list_page(request, form=form, status=400)


@staff_required(*INBOX_READERS)
@require_http_methods(["GET", "HEAD", "POST"])
def saved_reply_edit(request: HttpRequest, pk: int) -> HttpResponse:
    saved = access_saved_reply(request.user, pk)
    if not saved.is_active:
        messages.info(request, f"“{saved.title}” is retired, so it cannot be changed. Add a new one instead.")
        return redirect("social:saved_replies")
    form = SavedReplyForm(request.POST or None, initial={"title": saved.title, "text": saved.text})
    if request.method == "POST" and form.is_valid():
        try:
            saved = saved_replies.saved_reply_change(saved=saved, **form.cleaned_data, by=request.user, request=request)
        except saved_replies.SavedReplyError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, f"“{saved.title}” is saved. Replies written from now on use the new words.")
            return redirect("social:saved_replies")
    return render(
        request,
        "social/inbox/saved_reply_edit.html",
        {"saved": saved, "form": form, "can_work": True},
        status=400 if form.errors else 200,
    )


@staff_required(*INBOX_READERS)
@require_POST
def saved_reply_retire(request: HttpRequest, pk: int) -> HttpResponse:
    saved: SavedReply = access_saved_reply(request.user, pk)
    try:
        saved = saved_replies.saved_reply_retire(saved=saved, by=request.user, request=request)
    except saved_replies.SavedReplyError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"“{saved.title}” is retired. It is no longer offered in the reply box.")
    return redirect("social:saved_replies")
