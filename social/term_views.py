"""The religious and political term lists, in the app: social media administrators add terms and
switch them off or on again; the CEO reads them."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST, require_safe

from social import policy_terms as terms
from social.access import require
from social.post_forms import PolicyTermForm
from social.post_views import can_review
from staff.access import staff_required


def _terms_page(request: HttpRequest, *, form: PolicyTermForm | None = None, status: int = 200) -> HttpResponse:
    can_edit = terms.can_edit_policy_terms(request.user)
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
            "nav_can_review": can_review(request.user),
        },
        status=status,
    )


def _back_to(category: str) -> HttpResponse:
    return redirect(reverse("social:policy_terms") + f"#{category}-terms")


@staff_required(*terms.TERM_READERS)
@require_safe
def policy_terms(request: HttpRequest) -> HttpResponse:
    return _terms_page(request)


@staff_required(*terms.TERM_READERS)
@require_POST
def policy_term_add(request: HttpRequest) -> HttpResponse:
    require(terms.can_edit_policy_terms(request.user))
    form = PolicyTermForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            term, switched_on = terms.policy_term_add(
                category=data["category"], term=data["term"], by=request.user, request=request
            )
        except terms.TermError as exc:
            form.add_error("term", str(exc))
        else:
            where = term.get_category_display().lower()
            if switched_on:
                messages.success(
                    request,
                    f"“{term.term}” was on the {where} list, switched off. It is switched on "
                    "again: posts are checked for it from now on.",
                )
            else:
                messages.success(
                    request, f"“{term.term}” is added to the {where} list. Posts are checked for it from now on."
                )
            return _back_to(term.category)
    return _terms_page(request, form=form, status=400)


@staff_required(*terms.TERM_READERS)
@require_POST
def policy_term_switch(request: HttpRequest, pk: int, on: bool) -> HttpResponse:
    term = terms.access_policy_term(request.user, pk)
    try:
        term = terms.policy_term_switch(term=term, on=on, by=request.user, request=request)
    except terms.TermError as exc:
        messages.error(request, str(exc))
    else:
        if on:
            messages.success(request, f"“{term.term}” is switched on again: posts are checked for it.")
        else:
            messages.success(request, f"“{term.term}” is switched off: posts are no longer checked for it.")
    return _back_to(term.category)
