"""Consent views: the coordinators' register and families, and the parents' form and page."""

from __future__ import annotations

import csv
import hashlib
import logging
import mimetypes
import tempfile
import zipfile
from datetime import timedelta
from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.paginator import Paginator
from django.forms.models import model_to_dict
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST, require_safe

from consents import mass_email
from consents.access import (
    OVERSIGHT_ROLES,
    access_carer,
    access_certificate_copy,
    access_child,
    access_consent_request,
    access_family,
    access_parent_carer,
    access_parent_child,
    access_record,
    can_change_family,
    is_coordinator,
    parent_required,
)
from consents.errors import ConsentError, LinkProblem
from consents.forms import (
    CarerForm,
    ChildForm,
    ErasureCancelForm,
    ErasureRequestForm,
    FamilyCloseForm,
    FamilyForm,
    FamilySearchForm,
    FormVersionForm,
    OfflineConsentForm,
    RegisterFilterForm,
    SignForm,
    StaffWithdrawForm,
    WithdrawForm,
)
from consents.formtext import missing_statements, who_sees_problems, with_who_sees
from consents.models import (
    PURPOSES,
    Carer,
    Child,
    ConsentFormVersion,
    ConsentRecord,
    ConsentRequest,
    ErasureRequest,
    Family,
    Purpose,
)
from consents.scans import ScanRefused
from consents.selectors import (
    STATE_LABELS,
    State,
    assignable_coordinators,
    carers_for_user,
    children_of_parent,
    consents_for_children,
    coordinators_of,
    families_managed_by,
    families_visible_to,
    request_from_token,
    request_from_token_any,
    review_from_token,
)
from consents.selectors_certificate import certificate_later
from consents.selectors_register import RegisterRow, consents_lapsing, register_rows
from consents.selectors_search import families_matching, matches_text
from consents.services import closure, erasure
from consents.services.evidence import evidence_from
from consents.services.families import (
    carer_save,
    child_save,
    family_assign_coordinator,
    family_create,
    family_unassign_coordinator,
    family_update,
)
from consents.services.form_versions import form_version_current, form_version_publish
from consents.services.requests import (
    consent_request_cancel,
    consent_request_send,
    consent_request_send_to_family,
)
from consents.services.signing import consent_give_signed_in, consent_record_offline, consent_sign
from consents.services.withdrawal import consent_withdraw
from fig_safety import ratelimit
from fig_safety.times import when
from fig_safety.vault import blob_response
from photos import export as exports
from photos.parents import photos_of_child_for_parent, posts_of_child_for_parent
from social.posts.selectors import online_holds_for_child
from staff.access import staff_required
from staff.roles import Role
from staff.services import audit_record

PURPOSE_LABELS = dict(Purpose.choices)
REGISTER_PAGE_SIZE = 100
EXPORT_IN_MEMORY_BYTES = 8 * 1024 * 1024  # a family's export larger than this is built on disk


# --- coordinators: the register ---------------------------------------------------------


@staff_required(*OVERSIGHT_ROLES)
@require_safe
def register(request: HttpRequest) -> HttpResponse:
    form = RegisterFilterForm(request.GET or None)
    filters = dict(form.cleaned_data) if form.is_valid() else {}
    # Closed families (FiG no longer works with them) only when asked for, or named.
    show_closed = filters.pop("closed", False) or bool(filters.get("family"))
    families = families_visible_to(request.user)
    open_families = families.filter(closed_at__isnull=True)
    rows = register_rows(families if show_closed else open_families, **{k: v for k, v in filters.items() if v})
    if request.GET.get("format") == "csv":
        return _register_csv(request, rows.all_rows())
    # Rows are paged for the screen only: 5,000 children on one page was a 3 MB, 3-second page. The
    # register reads just the page's children, and works out just their consent positions unless a
    # state filter needs every child's.
    page = Paginator(rows, REGISTER_PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    # Filtering by a purpose shows that purpose's column only.
    purposes = [(p, PURPOSE_LABELS[p]) for p in PURPOSES if not filters.get("purpose") or p == filters["purpose"]]
    # Each row's (state, label) cells, worked out here: looking them up in the template (600 cells)
    # took longer than the rest of the page.
    table = [(row, [(row.states[p], STATE_LABELS[row.states[p]]) for p, _ in purposes]) for row in page.object_list]
    return render(
        request,
        "consents/register.html",
        {
            "form": form,
            "rows": page.object_list,
            "table": table,
            "page": page,
            "query": query.urlencode(),
            "total": page.paginator.count,
            "purposes": purposes,
            "can_bulk": is_coordinator(request.user),
            "lapsing": consents_lapsing(open_families),
        },
    )


def _register_csv(request: HttpRequest, rows: list[RegisterRow]) -> HttpResponse:
    audit_record(action="consents.register_exported", request=request, details={"rows": len(rows)})
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="consent-register-{timezone.localdate():%Y-%m-%d}.csv"'
    writer = csv.writer(response)
    writer.writerow(["family", "child", "date_of_birth", *PURPOSES, "consent_expires", "given", "latest_request"])
    for row in rows:
        writer.writerow(
            [
                row.family_reference,
                _csv_safe(row.child_name),
                row.date_of_birth.isoformat(),
                *[row.states[p] for p in PURPOSES],
                row.expires_at.date().isoformat() if row.expires_at else "",
                row.consent_method,
                row.request_status,
            ]
        )
    return response


def _csv_safe(value: str) -> str:
    # Spreadsheets run cells starting with these as formulas.
    return "'" + value if value[:1] in {"=", "+", "-", "@", "\t", "\r"} else value


@staff_required(Role.COORDINATOR)
@require_http_methods(["GET", "POST"])
def request_bulk(request: HttpRequest) -> HttpResponse:
    """Request consent for every child without an answer, in the register as filtered: first a page saying
    who would be emailed; only the confirmation sends, and only if that list has not changed since."""
    data = request.POST if request.method == "POST" else request.GET
    form = RegisterFilterForm(data)
    # The register's filter, as the button was pressed under it (an invalid one shows everything there too).
    shown = {k: "on" if v is True else v for k, v in form.cleaned_data.items() if v} if form.is_valid() else {}
    filters = {k: v for k, v in shown.items() if k in ("family", "purpose", "state")}
    back = reverse("consents:register") + (f"?{urlencode(shown)}" if shown else "")
    families = families_managed_by(request.user)
    changed = False
    if request.method == "POST" and data.get("confirm"):
        listing, sent = mass_email.bulk_request_send(
            families=families, confirmed=data.get("fingerprint", ""), by=request.user, request=request, **filters
        )
        if sent is not None:
            _report_sent(request, sent.sent, sent.problems, "consent request")
            return redirect(back)
        changed = True
    else:
        listing = mass_email.bulk_request_list(families=families, **filters)
    return _mass_email_page(
        request,
        listing,
        changed=changed,
        title="Request consent for every child without an answer",
        action=reverse("consents:request_bulk"),
        hidden=shown,
        back=back,
    )


def _mass_email_page(
    request: HttpRequest,
    listing: mass_email.MassEmail,
    *,
    changed: bool,
    title: str,
    action: str,
    hidden: dict[str, str],
    back: str,
) -> HttpResponse:
    """Who a mass request would email, with "Send N emails" and "Cancel"; `changed`: the list is not the one
    the coordinator confirmed (nothing was sent), so it is shown again."""
    return render(
        request,
        "consents/mass_email_confirm.html",
        {
            "title": title,
            "listing": listing,
            "changed": changed,
            "action": action,
            "hidden": hidden,
            "back": back,
        },
        status=409 if changed else 200,
    )


def _report_sent(request: HttpRequest, sent: int, problems: list[str], noun: str, also: str = "") -> None:
    messages.success(request, f"{sent} {noun}{'s' if sent != 1 else ''} sent.{also}")
    for problem in problems[:10]:
        messages.warning(request, problem)


# --- coordinators: families -------------------------------------------------------------


@staff_required(*OVERSIGHT_ROLES)
@require_safe
def family_list(request: HttpRequest) -> HttpResponse:
    """The families this person may see, found as they type (static/js/family_search.js asks for the rows
    as JSON; without it the search form submits). One query, however many families."""
    from django.db.models import Count

    show_closed = request.GET.get("closed") == "on"
    search = FamilySearchForm(request.GET)
    families = families_matching(families_visible_to(request.user), search.text()).annotate(
        child_count=Count("children", distinct=True), carer_count=Count("carers", distinct=True)
    )
    if not show_closed:
        families = families.filter(closed_at__isnull=True)
    context = {
        "families": list(families),
        "search": search,
        "can_create": is_coordinator(request.user),
        "show_closed": show_closed,
    }
    context["count_text"] = matches_text(len(context["families"])) if search.text() else ""
    if request.headers.get("Accept") == "application/json":
        html = render_to_string("consents/includes_family_rows.html", context, request=request)
        return JsonResponse({"count": context["count_text"], "html": html})
    return render(request, "consents/family_list.html", context)


@staff_required(Role.COORDINATOR)
@require_http_methods(["GET", "POST"])
def family_new(request: HttpRequest) -> HttpResponse:
    form = FamilyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        family = family_create(
            by=request.user,
            notes=form.cleaned_data["notes"],
            display_name=form.cleaned_data["display_name"],
            coordinators=[request.user],
            request=request,
        )
        messages.success(request, f"Family {family.reference} is created. Add the children and carers next.")
        return redirect("consents:family_detail", reference=family.reference)
    return render(
        request, "consents/form_page.html", {"form": form, "title": "New family", "submit": "Create the family"}
    )


@staff_required(Role.COORDINATOR)
@require_http_methods(["GET", "POST"])
def family_edit(request: HttpRequest, reference: str) -> HttpResponse:
    """The family's name and notes, for its coordinators (an erased family's are gone for good)."""
    family = access_family(request.user, reference, write=True)
    if refused := _refused_when_closed(request, family, erased_only=True):
        return refused
    form = FamilyForm(request.POST or None, initial={"display_name": family.display_name, "notes": family.notes})
    if request.method == "POST" and form.is_valid():
        family_update(
            family=family,
            by=request.user,
            display_name=form.cleaned_data["display_name"],
            notes=form.cleaned_data["notes"],
            request=request,
        )
        messages.success(request, f"Family {family.reference} is saved.")
        return redirect("consents:family_detail", reference=family.reference)
    return render(
        request,
        "consents/form_page.html",
        {"form": form, "family": family, "title": f"Family {family.reference}: name and notes", "submit": "Save"},
    )


@staff_required(*OVERSIGHT_ROLES)
@require_safe
def family_detail(request: HttpRequest, reference: str) -> HttpResponse:
    family = access_family(request.user, reference)
    children = list(family.children.all())
    carers = list(family.carers.all())
    positions = consents_for_children([c.pk for c in children])
    pending = ConsentRequest.objects.filter(
        child__family=family, status=ConsentRequest.Status.PENDING, expires_at__gt=timezone.now()
    ).select_related("carer", "child")
    rows = [{"child": c, "states": [(p, positions[c.pk].states[p]) for p in PURPOSES]} for c in children]
    can_change = can_change_family(request.user, family)
    return render(
        request,
        "consents/family_detail.html",
        {
            "family": family,
            "rows": rows,
            "carers": carers,
            "pending": pending,
            "purposes": [(p, PURPOSE_LABELS[p]) for p in PURPOSES],
            "state_labels": STATE_LABELS,
            "can_change": can_change,
            "coordinators": list(coordinators_of(family)),
            "assignable": list(assignable_coordinators(family)) if can_change else [],
            **_closure_context(family),
        },
    )


@staff_required(Role.COORDINATOR)
@require_POST
def family_coordinators(request: HttpRequest, reference: str) -> HttpResponse:
    """Assign another coordinator to the family, or take one off it (never the last one)."""
    family = access_family(request.user, reference, write=True)
    user_id = request.POST.get("user", "")
    user_id = user_id if user_id.isdecimal() else "0"  # not isdigit(): "²" is a digit that int() refuses
    if request.POST.get("action") == "remove":
        coordinator = get_object_or_404(coordinators_of(family), pk=user_id)
        try:
            family_unassign_coordinator(family=family, coordinator=coordinator, by=request.user, request=request)
        except ConsentError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, f"{coordinator} no longer coordinates {family.reference}.")
    else:
        coordinator = get_object_or_404(assignable_coordinators(family), pk=user_id)
        family_assign_coordinator(family=family, coordinator=coordinator, by=request.user, request=request)
        messages.success(request, f"{coordinator} now coordinates {family.reference}.")
    return redirect("consents:family_detail", reference=family.reference)


# --- coordinators: closing a family, erasure, and the subject access export ----------------


def _closure_context(family: Family) -> dict:
    """Where a family stands (open, closed, erasure due, erased) and what happens next. Queries only for a
    closed family: an open one has no erasure waiting (recording one closes the family)."""
    photo_days = getattr(settings, "FIG_CLOSED_FAMILY_PHOTO_DAYS", 30)
    keep_days = getattr(settings, "FIG_CLOSED_FAMILY_KEEP_DAYS", 2190)
    context = {"photo_period": _period(photo_days), "keep_period": _period(keep_days), "erasure": None}
    if family.closed_at is not None:
        context["photos_deleted_on"] = family.closed_at + timedelta(days=photo_days)
        context["records_erased_on"] = family.closed_at + timedelta(days=keep_days)
        if family.erased_at is None:
            context["erasure"] = (
                family.erasure_requests.filter(status=ErasureRequest.Status.WAITING)
                .select_related("recorded_by")
                .first()
            )
    return context


def _period(days: int) -> str:
    """2190 → "6 years", 30 → "30 days": whole years when they are, else exact days."""
    if days and days % 365 == 0:
        return f"{days // 365} year{'' if days == 365 else 's'}"
    return f"{days} day{'' if days == 1 else 's'}"


def _back_to_family(family: Family) -> HttpResponse:
    return redirect("consents:family_detail", reference=family.reference)


def _refused_when_closed(request: HttpRequest, family: Family, *, erased_only: bool = False) -> HttpResponse | None:
    """A closed family takes no new children, carers or consents (open it again first); an erased one takes
    nothing. A redirect to the family page saying so, or None when the change may go ahead."""
    if family.erased_at is not None:
        messages.error(request, f"Family {family.reference}'s data has been erased: nothing more is recorded for it.")
    elif family.closed_at is not None and not erased_only:
        messages.error(request, f"Family {family.reference} is closed: open it again first.")
    else:
        return None
    return _back_to_family(family)


@staff_required(Role.COORDINATOR)
@require_http_methods(["GET", "POST"])
def family_close(request: HttpRequest, reference: str) -> HttpResponse:
    """Close a family FiG no longer works with: a page saying what will happen, and the reason."""
    family = access_family(request.user, reference, write=True)
    if family.closed_at is not None:
        messages.info(request, "This family is already closed.")
        return _back_to_family(family)
    form = FamilyCloseForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            closure.family_close(family=family, by=request.user, reason=form.cleaned_data["reason"], request=request)
        except ConsentError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(
                request,
                f"Family {family.reference} is closed: its links no longer work and its parents are signed out.",
            )
            return _back_to_family(family)
    return render(
        request,
        "consents/family_close.html",
        {
            "form": form,
            "family": family,
            "pending": ConsentRequest.objects.filter(
                child__family=family, status=ConsentRequest.Status.PENDING, expires_at__gt=timezone.now()
            ).count(),
            **_closure_context(family),
        },
        status=400 if form.errors else 200,
    )


@staff_required(Role.COORDINATOR)
@require_POST
def family_reopen(request: HttpRequest, reference: str) -> HttpResponse:
    family = access_family(request.user, reference, write=True)
    try:
        closure.family_reopen(family=family, by=request.user, request=request)
    except ConsentError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request,
            f"Family {family.reference} is open again and its parents can sign in. "
            "Links sent before it closed stay cancelled: send new requests.",
        )
    return _back_to_family(family)


@staff_required(Role.COORDINATOR)
@require_http_methods(["GET", "POST"])
def family_erasure(request: HttpRequest, reference: str) -> HttpResponse:
    """Record that someone asked for the family's data to be erased: who and when, with what will go, what
    stays, and when; the export is offered first."""
    family = access_family(request.user, reference, write=True)
    if family.erased_at is not None:
        messages.info(request, "This family's data has already been erased.")
        return _back_to_family(family)
    if family.erasure_requests.filter(status=ErasureRequest.Status.WAITING).exists():
        # A second press of the button, or a second tab: one request is enough.
        messages.info(request, "An erasure request for this family is already waiting: nothing new was recorded.")
        return _back_to_family(family)
    form = ErasureRequestForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            recorded = erasure.erasure_request_record(
                family=family,
                asked_by=form.cleaned_data["asked_by"],
                asked_at=form.cleaned_data["asked_at"],
                by=request.user,
                request=request,
            )
        except ConsentError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(
                request,
                f"The erasure request is recorded and family {family.reference} is closed. Its personal data will "
                f"be erased on {when(recorded.due_at, year=True)}.",
            )
            return _back_to_family(family)
    return render(
        request,
        "consents/family_erasure.html",
        {
            "form": form,
            "family": family,
            "review_days": settings.FIG_ERASURE_REVIEW_DAYS,
            "due_on": timezone.now() + timedelta(days=settings.FIG_ERASURE_REVIEW_DAYS),
        },
        status=400 if form.errors else 200,
    )


@staff_required(Role.COORDINATOR)
@require_http_methods(["GET", "POST"])
def family_erasure_cancel(request: HttpRequest, reference: str) -> HttpResponse:
    family = access_family(request.user, reference, write=True)
    waiting = family.erasure_requests.filter(status=ErasureRequest.Status.WAITING).first()
    if waiting is None:
        messages.info(request, "No erasure request is waiting for this family.")
        return _back_to_family(family)
    form = ErasureCancelForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            erasure.erasure_request_cancel(
                erasure=waiting, by=request.user, reason=form.cleaned_data["reason"], request=request
            )
        except ConsentError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(
                request,
                "The erasure is cancelled. The family stays closed: open it again if FiG works with it again.",
            )
            return _back_to_family(family)
    return render(
        request,
        "consents/family_erasure_cancel.html",
        {"form": form, "family": family, "erasure": waiting},
        status=400 if form.errors else 200,
    )


@staff_required(Role.COORDINATOR)
@require_GET
def family_export(request: HttpRequest, reference: str) -> HttpResponse:
    """Everything FiG holds about the family as a zip (what `manage.py vault_export` writes), for a subject
    access request: its coordinators only. Built in a temporary file that spills to disk past a few
    megabytes, then streamed; audited and access-logged before any photo is read."""
    family = access_family(request.user, reference, write=True)
    spool = tempfile.SpooledTemporaryFile(max_size=EXPORT_IN_MEMORY_BYTES)  # noqa: SIM115 - the response closes it
    with zipfile.ZipFile(spool, "w") as archive:
        export = exports.family_export(
            family=family, into=exports.ZipTarget(archive), by=request.user, where="download", request=request
        )
    if export.problems:
        log.warning("The export of %s is incomplete: %s", family.reference, "; ".join(export.problems))
    spool.seek(0)
    response = FileResponse(
        spool,
        as_attachment=True,
        filename=f"family-{family.reference}-export.zip",
        content_type="application/zip",
    )
    response["Cache-Control"] = "private, no-store"
    return response


@staff_required(Role.COORDINATOR)
@require_http_methods(["GET", "POST"])
def child_edit(request: HttpRequest, reference: str, child_id: int | None = None) -> HttpResponse:
    family = access_family(request.user, reference, write=True)
    if refused := _refused_when_closed(request, family):
        return refused
    child = access_child(request.user, reference, child_id, write=True) if child_id else None
    # Not instance=child: a valid ModelForm writes its values onto its instance, and the service
    # compares old and new values (what changed goes into the audit trail).
    form = ChildForm(
        request.POST or None, initial=model_to_dict(child, fields=ChildForm.Meta.fields) if child else None
    )
    if request.method == "POST" and form.is_valid():
        fields = {name: form.cleaned_data[name] for name in ChildForm.Meta.fields}
        child_save(family=family, child=child, by=request.user, request=request, **fields)
        messages.success(request, "Saved.")
        return redirect("consents:family_detail", reference=family.reference)
    title = "Change child's details" if child else f"Add a child to {family.reference}"
    return render(
        request, "consents/form_page.html", {"form": form, "title": title, "submit": "Save", "family": family}
    )


@staff_required(Role.COORDINATOR)
@require_http_methods(["GET", "POST"])
def carer_edit(request: HttpRequest, reference: str, carer_id: int | None = None) -> HttpResponse:
    family = access_family(request.user, reference, write=True)
    if refused := _refused_when_closed(request, family):
        return refused
    carer = access_carer(request.user, reference, carer_id, write=True) if carer_id else None
    # Not instance=carer (see child_edit): carer_save must see the old email to unlink the old account.
    form = CarerForm(
        request.POST or None, initial=model_to_dict(carer, fields=CarerForm.Meta.fields) if carer else None
    )
    if request.method == "POST" and form.is_valid():
        fields = {name: form.cleaned_data[name] for name in CarerForm.Meta.fields}
        waiting = carer.requests.filter(status=ConsentRequest.Status.PENDING).count() if carer else 0
        carer = carer_save(family=family, carer=carer, by=request.user, request=request, **fields)
        cancelled = waiting - carer.requests.filter(status=ConsentRequest.Status.PENDING).count()
        links = "The consent link sent" if cancelled == 1 else f"The {cancelled} consent links sent"
        works = "works" if cancelled == 1 else "work"
        messages.success(
            request,
            f"Saved. {links} before this change no longer {works}: send a new request if one is still needed."
            if cancelled
            else "Saved.",
        )
        return redirect("consents:family_detail", reference=family.reference)
    title = "Change carer's details" if carer else f"Add a carer to {family.reference}"
    return render(
        request, "consents/form_page.html", {"form": form, "title": title, "submit": "Save", "family": family}
    )


@staff_required(*OVERSIGHT_ROLES)
@require_safe
def child_history(request: HttpRequest, reference: str, child_id: int) -> HttpResponse:
    child = access_child(request.user, reference, child_id)
    records = child.consent_records.select_related("carer", "form_version", "recorded_by")
    requests_ = child.requests.select_related("carer", "form_version", "created_by")
    position = consents_for_children([child.pk])[child.pk]
    return render(
        request,
        "consents/child_history.html",
        {
            "child": child,
            "family": child.family,
            "records": records,
            "requests": requests_,
            "states": [(PURPOSE_LABELS[p], position.states[p], position.expires_at.get(p)) for p in PURPOSES],
            "state_labels": STATE_LABELS,
            "can_change": can_change_family(request.user, child.family),
            "carers": child.family.carers.filter(has_parental_responsibility=True),
        },
    )


@staff_required(Role.COORDINATOR)
@require_POST
def request_send(request: HttpRequest, reference: str, child_id: int) -> HttpResponse:
    child = access_child(request.user, reference, child_id, write=True)
    target = request.POST.get("carer", "")
    try:
        if target == "all":
            sent = consent_request_send_to_family(child=child, by=request.user, request=request)
            messages.success(request, f"Consent request sent to {len(sent)} carer{'s' if len(sent) != 1 else ''}.")
        else:
            carer = access_carer(request.user, reference, int(target) if target.isdecimal() else 0, write=True)
            consent_request_send(child=child, carer=carer, by=request.user, request=request)
            messages.success(request, f"Consent request sent to {carer.full_name}.")
    except ConsentError as exc:
        messages.error(request, str(exc))
    return redirect("consents:child_history", reference=reference, child_id=child.pk)


@staff_required(Role.COORDINATOR)
@require_POST
def request_cancel(request: HttpRequest, request_id: int) -> HttpResponse:
    consent_request = access_consent_request(request.user, request_id, write=True)
    child = consent_request.child
    try:
        consent_request_cancel(consent_request=consent_request, by=request.user, request=request)
        messages.success(request, "The request is cancelled; its link no longer works.")
    except ConsentError as exc:
        messages.error(request, str(exc))
    return redirect("consents:child_history", reference=child.family.reference, child_id=child.pk)


@staff_required(Role.COORDINATOR)
@require_http_methods(["GET", "POST"])
def record_offline(request: HttpRequest, reference: str, child_id: int) -> HttpResponse:
    child = access_child(request.user, reference, child_id, write=True)
    if refused := _refused_when_closed(request, child.family):
        return refused
    form = OfflineConsentForm(request.POST or None, request.FILES or None, child=child)
    if request.method == "POST" and form.is_valid():
        try:
            consent_record_offline(
                child=child,
                carer=form.cleaned_data["carer"],
                answers=form.purpose_answers(),
                method=form.cleaned_data["method"],
                taken_by=form.cleaned_data["taken_by"],
                by=request.user,
                scan=form.cleaned_data["scan"],
                evidence=evidence_from(request),
                note=form.cleaned_data["note"],
            )
        except ScanRefused as exc:
            form.add_error("scan", str(exc))
        except ConsentError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, "The consent is recorded.")
            return redirect("consents:child_history", reference=reference, child_id=child.pk)
    return render(request, "consents/record_offline.html", {"form": form, "child": child, "family": child.family})


@staff_required(Role.COORDINATOR)
@require_http_methods(["GET", "POST"])
def withdraw_for_carer(request: HttpRequest, reference: str, child_id: int) -> HttpResponse:
    child = access_child(request.user, reference, child_id, write=True)
    if refused := _refused_when_closed(request, child.family, erased_only=True):
        return refused
    form = StaffWithdrawForm(request.POST or None, child=child)
    if request.method == "POST" and form.is_valid():
        try:
            record = consent_withdraw(
                child=child,
                carer=form.cleaned_data["carer"],
                purposes=form.cleaned_data["purposes"],
                identified_by=ConsentRecord.IdentifiedBy.STAFF,
                evidence=evidence_from(request),
                by=request.user,
                reason=form.cleaned_data["reason"],
            )
        except ConsentError as exc:
            form.add_error(None, str(exc))
        else:
            if record is None:
                messages.info(request, ALREADY_WITHDRAWN)
            else:
                messages.success(request, "The withdrawal is recorded and has taken effect.")
            return redirect("consents:child_history", reference=reference, child_id=child.pk)
    return render(
        request,
        "consents/form_page.html",
        {
            "form": form,
            "title": f"Record a withdrawal for {child.first_name}",
            "submit": "Record the withdrawal",
            "family": child.family,
        },
    )


@staff_required(*OVERSIGHT_ROLES)
@require_safe
def certificate(request: HttpRequest, record_id: int) -> HttpResponse:
    """The signed record with its evidence, each answer beside what became of it since, and when this was produced."""
    record = access_record(request.user, record_id)
    # The sealed PDF is for the family's own coordinators (and the carer), not for overseers.
    pdf = record.kind == ConsentRecord.Kind.GIVEN and can_change_family(request.user, record.child.family)
    return render(
        request, "consents/certificate.html", {"record": record, "later": certificate_later(record), "pdf": pdf}
    )


@staff_required(*OVERSIGHT_ROLES)
@require_safe
def record_file(request: HttpRequest, record_id: int, which: str) -> HttpResponse:
    """The drawn signature or the scanned paper form, decrypted for an allowed viewer only. Always a
    download: a PDF opened in the browser's viewer could still run what a cleaner missed."""
    record = access_record(request.user, record_id)
    name, key_id, content_type = {
        "signature": (record.signature_blob, record.signature_key_id, "image/png"),
        "scan": (record.scan_blob, record.scan_key_id, record.scan_content_type),
    }.get(which, ("", "", ""))
    if not name:
        raise Http404
    extension = mimetypes.guess_extension(content_type) or ".bin"
    response = blob_response(
        name=name,
        key_id=key_id,
        content_type=content_type,
        filename=f"consent-{record.pk}-{which}{extension}",
        attachment=True,
    )
    audit_record(action=f"consent.{which}_viewed", request=request, target=record)
    return response


@staff_required(*OVERSIGHT_ROLES)
@require_safe
def form_versions(request: HttpRequest) -> HttpResponse:
    current = form_version_current()
    can_publish = is_coordinator(request.user)
    return render(
        request,
        "consents/form_versions.html",
        {
            "versions": ConsentFormVersion.objects.all(),
            "current": current,
            "can_publish": can_publish,
            # Re-consent is offered only when one of the coordinator's families has signed an older version.
            "can_reconsent": can_publish
            and ConsentRecord.objects.filter(
                child__family__in=families_managed_by(request.user).filter(closed_at__isnull=True),
                kind=ConsentRecord.Kind.GIVEN,
                form_version__number__lt=current.number,
            ).exists(),
            # The settings changed since it was published (how long photos are kept, say): it no longer says what we do.
            "out_of_date": missing_statements(current.closing),
            # It does not say exactly who sees the photos as the application now works (issue 13, point 5).
            "who_sees_out_of_date": who_sees_problems(current.purpose_texts),
        },
    )


@staff_required(Role.COORDINATOR)
@require_http_methods(["GET", "POST"])
def form_version_new(request: HttpRequest) -> HttpResponse:
    current = form_version_current()
    initial = {
        "introduction": current.introduction,
        "closing": current.closing,
        # Starting from the current words, with who sees the photos said as the code now works (formtext).
        **{
            f"text_{p}": text
            for p, text in with_who_sees({p: current.purpose_texts.get(p, "") for p in PURPOSES}).items()
        },
    }
    form = FormVersionForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            version = form_version_publish(
                introduction=form.cleaned_data["introduction"],
                purpose_texts=form.purpose_texts(),
                closing=form.cleaned_data["closing"],
                requires_reconsent=form.cleaned_data["requires_reconsent"],
                by=request.user,
            )
        except ConsentError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, f"Version {version.number} is published. You can now ask families to re-consent.")
            return redirect("consents:form_versions")
    return render(
        request,
        "consents/form_page.html",
        {"form": form, "title": "Publish a new version of the form", "submit": "Publish"},
    )


@staff_required(Role.COORDINATOR)
@require_http_methods(["GET", "POST"])
def reconsent(request: HttpRequest) -> HttpResponse:
    """Ask families who signed an older version to sign the current one: who would be emailed first, then
    the send on confirmation, if that list has not changed since."""
    families = families_managed_by(request.user).filter(closed_at__isnull=True)  # FiG no longer asks closed ones
    changed = False
    if request.method == "POST" and request.POST.get("confirm"):
        listing, result = mass_email.reconsent_send(
            families=families, confirmed=request.POST.get("fingerprint", ""), by=request.user, request=request
        )
        if result is not None:
            skipped = (
                f" {result.skipped} skipped: already sent this version and not yet answered." if result.skipped else ""
            )
            _report_sent(request, result.sent, result.problems, "re-consent request", also=skipped)
            return redirect("consents:form_versions")
        changed = True
    else:
        listing = mass_email.reconsent_list(families=families)
    return _mass_email_page(
        request,
        listing,
        changed=changed,
        title=f"Ask families to sign version {form_version_current().number}",
        action=reverse("consents:reconsent"),
        hidden={},
        back=reverse("consents:form_versions"),
    )


# --- parents: signing from the emailed link ---------------------------------------------

log = logging.getLogger(__name__)

ALREADY_WITHDRAWN = "Nothing has changed: that consent was already withdrawn."
LINK_BUSY = "This link has been opened too many times in a short while. Please wait a few minutes and try again."


def link_rate_limited(view):
    """Count each use of an emailed link (per link, FIG_CONSENT_LINK_RATES) and answer 429 past the limit, so
    a link cannot be hammered. With the counter unreachable (Redis down) the page still opens: a warning
    is logged, and the services below are idempotent on their own."""

    @wraps(view)
    def limited(request: HttpRequest, token: str) -> HttpResponse:
        key = "consent-link:" + hashlib.sha256(token.encode()).hexdigest()[:32]
        try:
            allowed = ratelimit.allow(key, settings.FIG_CONSENT_LINK_RATES)
        except ratelimit.Unavailable:
            log.warning("The consent-link rate limit could not be counted (is the cache down?); let through.")
            allowed = True
        if not allowed:
            return render(request, "429.html", {"message": LINK_BUSY}, status=429)
        return view(request, token)

    return limited


@require_http_methods(["GET", "POST"])
@link_rate_limited
def sign(request: HttpRequest, token: str) -> HttpResponse:
    try:
        consent_request = request_from_token(token)
    except LinkProblem as problem:
        return _link_problem(request, token, problem.kind)
    version = consent_request.form_version
    form = SignForm(request.POST or None, version=version)
    if request.method == "POST" and form.is_valid():
        try:
            consent_sign(
                consent_request_id=consent_request.pk,
                answers=form.purpose_answers(),
                typed_name=form.cleaned_data["typed_name"],
                confirmed_pr=form.cleaned_data["confirm_parental_responsibility"],
                signature_data_url=form.cleaned_data["signature"],
                evidence=evidence_from(request),
            )
        except ConsentError as exc:
            form.add_error(None, str(exc))
        else:
            return redirect("consents:sign", token=token)
    return render(
        request,
        "consents/sign.html",
        {
            "form": form,
            "child": consent_request.child,
            "carer": consent_request.carer,
            "version": version,
            "expires_at": consent_request.expires_at,
        },
        status=400 if form.errors else 200,
    )


def _link_problem(request: HttpRequest, token: str, kind: str) -> HttpResponse:
    context = {"kind": kind}
    if kind == "used":
        # The carer who just signed comes back here (post/redirect/get): show what they answered.
        consent_request = request_from_token_any(token)
        record = consent_request.records.select_related("carer", "child").first() if consent_request else None
        if record is not None:
            context.update(
                record=record,
                child=record.child,
                answers=[(PURPOSE_LABELS[p], record.answers.get(p)) for p in PURPOSES],
                how=_how_answered(record),
                # Only a form given online is emailed as a copy (consents.services.signing); paper and phone are not.
                emailed=record.method == ConsentRecord.Method.ONLINE and bool(record.carer.email),
            )
        return render(request, "consents/sign_done.html", context)
    return render(request, "consents/link_problem.html", context, status=410 if kind == "expired" else 404)


def _how_answered(record: ConsentRecord) -> str:
    """How the request was answered, for the page its link now opens: "link" (signed through it), "paper" or
    "phone" (a coordinator recorded it), or "signed_in" (the parent filled in the form from their own page)."""
    if record.method in {ConsentRecord.Method.PAPER, ConsentRecord.Method.PHONE}:
        return record.method
    if record.identified_by == ConsentRecord.IdentifiedBy.EMAIL_LINK:
        return "link"
    return "signed_in"


# --- parents: reviewing and withdrawing from the confirmation email's link ------------------


@never_cache
@require_safe
@link_rate_limited
def review(request: HttpRequest, token: str) -> HttpResponse:
    """One child's consent, for the carer the link was emailed to: what holds now, the history, withdraw."""
    try:
        _, child = review_from_token(token)
    except LinkProblem as problem:
        return _review_link_problem(request, problem.kind)
    return render(
        request,
        "consents/review.html",
        {
            **_child_consent_context(child),
            "withdraw_url": reverse("consents:review_withdraw", args=[token]),
        },
    )


@never_cache
@require_http_methods(["GET", "POST"])
@link_rate_limited
def review_withdraw(request: HttpRequest, token: str) -> HttpResponse:
    try:
        carer, child = review_from_token(token)
    except LinkProblem as problem:
        return _review_link_problem(request, problem.kind)
    return _withdraw_page(
        request,
        child=child,
        carer=carer,
        identified_by=ConsentRecord.IdentifiedBy.EMAIL_LINK,
        back_url=reverse("consents:review", args=[token]),
    )


def _review_link_problem(request: HttpRequest, kind: str) -> HttpResponse:
    return render(
        request, "consents/link_problem.html", {"kind": kind, "review": True}, status=410 if kind == "expired" else 404
    )


def _child_consent_context(child: Child) -> dict:
    """What a parent sees about one child: each purpose's state now, and every decision made."""
    position = consents_for_children([child.pk])[child.pk]
    return {
        "child": child,
        "records": child.consent_records.select_related("carer", "form_version"),
        "state_labels": STATE_LABELS,
        "states": [(p, PURPOSE_LABELS[p], position.states[p], position.expires_at.get(p)) for p in PURPOSES],
        "answered": any(state != State.NONE for state in position.states.values()),  # else one "No answers yet"
    }


def _withdraw_page(
    request: HttpRequest, *, child: Child, carer: Carer, identified_by: str, back_url: str
) -> HttpResponse:
    """The withdrawal form (one purpose when asked for, or everything) and its POST."""
    initial = [p for p in request.GET.getlist("purpose") if p in PURPOSES] or list(PURPOSES)
    form = WithdrawForm(request.POST or None, initial={"purposes": initial})
    if request.method == "POST" and form.is_valid():
        record = consent_withdraw(
            child=child,
            carer=carer,
            purposes=form.cleaned_data["purposes"],
            identified_by=identified_by,
            evidence=evidence_from(request),
            reason=form.cleaned_data["reason"],
        )
        if record is None:
            messages.info(request, ALREADY_WITHDRAWN)
        else:
            messages.success(request, "Your withdrawal has taken effect. We have emailed you a confirmation.")
        return redirect(back_url)
    return render(request, "consents/withdraw.html", {"form": form, "child": child, "back_url": back_url})


# --- parents: their own page ------------------------------------------------------------


@parent_required
@require_safe
def my_children(request: HttpRequest) -> HttpResponse:
    children = list(children_of_parent(request.user).select_related("family"))
    positions = consents_for_children([c.pk for c in children])
    asked = _asked_about(request.user, [c.pk for c in children])
    cards = [
        {
            "child": c,
            "states": [(p, PURPOSE_LABELS[p], positions[c.pk].states[p]) for p in PURPOSES],
            "answered": any(state != State.NONE for state in positions[c.pk].states.values()),
            "asked": c.pk in asked,
        }
        for c in children
    ]
    return render(request, "consents/my_children.html", {"cards": cards, "state_labels": STATE_LABELS})


def _asked_about(user, child_ids: list[int]) -> set[int]:
    """The children FiG has asked this parent about and is waiting to hear on (an open request to them)."""
    return set(
        ConsentRequest.objects.filter(
            child_id__in=child_ids,
            carer__in=carers_for_user(user),
            status=ConsentRequest.Status.PENDING,
            expires_at__gt=timezone.now(),
        ).values_list("child_id", flat=True)
    )


@parent_required
@require_safe
def my_child(request: HttpRequest, child_id: int) -> HttpResponse:
    child = access_parent_child(request.user, child_id)
    return render(
        request,
        "consents/my_child.html",
        {
            **_child_consent_context(child),
            "withdraw_url": reverse("consents:my_child_withdraw", args=[child.pk]),
            "asked": bool(_asked_about(request.user, [child.pk])),
            "online_holds": online_holds_for_child(child),
            "signed_copies": _signed_copies(request.user, child),
            "child_photos": photos_of_child_for_parent(request.user, child),
            "child_posts": posts_of_child_for_parent(request.user, child),
        },
    )


@parent_required
@require_http_methods(["GET", "POST"])
def my_child_form(request: HttpRequest, child_id: int) -> HttpResponse:
    child = access_parent_child(request.user, child_id)
    version = form_version_current()
    form = SignForm(request.POST or None, version=version)
    if request.method == "POST" and form.is_valid():
        try:
            consent_give_signed_in(
                user=request.user,
                child=child,
                answers=form.purpose_answers(),
                typed_name=form.cleaned_data["typed_name"],
                confirmed_pr=form.cleaned_data["confirm_parental_responsibility"],
                signature_data_url=form.cleaned_data["signature"],
                evidence=evidence_from(request),
            )
        except ConsentError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, f"Your answers for {child.first_name} are saved. We have emailed you a copy.")
            return redirect("consents:my_child", child_id=child.pk)
    return render(
        request,
        "consents/sign.html",
        {"form": form, "child": child, "version": version, "signed_in": True},
        status=400 if form.errors else 200,
    )


@parent_required
@require_http_methods(["GET", "POST"])
def my_child_withdraw(request: HttpRequest, child_id: int) -> HttpResponse:
    child = access_parent_child(request.user, child_id)
    carer = access_parent_carer(request.user, child)
    return _withdraw_page(
        request,
        child=child,
        carer=carer,
        identified_by=ConsentRecord.IdentifiedBy.CODE_SIGN_IN,
        back_url=reverse("consents:my_child", args=[child.pk]),
    )


# --- the sealed PDF certificate ---------------------------------------------------------


def _signed_copies(user, child: Child) -> list[ConsentRecord]:
    """The forms this parent signed for `child`, newest first: each has a sealed PDF to download."""
    return list(
        child.consent_records.filter(kind=ConsentRecord.Kind.GIVEN, carer__in=carers_for_user(user)).order_by(
            "-signed_at", "-id"
        )
    )


@require_safe
def certificate_pdf(request: HttpRequest, record_id: int) -> HttpResponse:
    """A signed form's sealed certificate as a download: the carer's own copy, and evidence for the family's
    coordinators (everyone else 404). Built afresh each time, so its audit page is up to date; audited."""
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    record = access_certificate_copy(request.user, record_id)
    # Imported here: pyHanko and ReportLab take a third of a second to import, and only this needs them.
    from consents.certificate_pdf import certificate_filename
    from consents.certificate_pdf import certificate_pdf as sealed_pdf

    response = HttpResponse(sealed_pdf(record), content_type="application/pdf")
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Disposition"] = f'attachment; filename="{certificate_filename(record)}"'
    audit_record(action="consent.certificate_downloaded", request=request, target=record)
    return response
