"""Staff views: home pages, policy acknowledgement, breach reports, virtual visits."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from consents.selectors import families_managed_by
from consents.selectors_register import consents_lapsing
from staff import services
from staff.access import access_breach_report, can_manage_breaches, can_publish_policy, staff_required
from staff.forms import BreachOutcomeForm, BreachReportForm, PolicyPublishForm, VirtualVisitForm
from staff.models import ApprovedPlatform, PolicyVersion, VirtualVisit
from staff.roles import Role, has_role, is_staff_member, user_roles
from staff.selectors import acknowledgement_register, breach_reports_for, current_policy, has_acknowledged


@require_safe
def home(request: HttpRequest) -> HttpResponse:
    """The landing page: a welcome for visitors, the right dashboard for each role."""
    user = request.user
    if not user.is_authenticated:
        return render(request, "staff/landing.html")
    if not is_staff_member(user):
        return render(request, "staff/parent_home.html")
    roles = user_roles(user)
    version = current_policy()
    context = {
        "roles": [role for role in Role if role.value in roles],
        "policy": version,
        "oversees": Role.CEO.value in roles or user.is_superuser,
        "is_ceo": can_manage_breaches(user),
        "can_publish_policy": can_publish_policy(user),
        "my_open_reports": breach_reports_for(user, is_ceo=False).exclude(status="closed").count(),
        "can_see_consents": user.is_superuser or has_role(user, Role.COORDINATOR, Role.SOCIAL_ADMIN, Role.CEO),
    }
    if context["is_ceo"]:
        context["open_reports"] = breach_reports_for(user, is_ceo=True).exclude(status="closed").count()
    if context["oversees"]:
        if version is not None:
            register = acknowledgement_register(version)
            context["ack_outstanding"] = sum(1 for row in register if row.acknowledged_at is None)
    if Role.COORDINATOR.value in roles:
        # Their own families only, and only those FiG still works with.
        context["lapsing"] = consents_lapsing(families_managed_by(user).filter(closed_at__isnull=True))
    return render(request, "staff/home.html", context)


@staff_required()
@require_http_methods(["GET", "POST"])
def policy(request: HttpRequest) -> HttpResponse:
    version = current_policy()
    if version is None:
        return render(request, "staff/policy.html", {"version": None})
    if request.method == "POST":
        if request.POST.get("version") != str(version.pk):
            # The page was opened before a newer version was published: the tick was for the old text.
            messages.error(
                request,
                f"Version {version.number} of the policy has been published since you opened "
                "the page. Please read it and tick the box again.",
            )
            return redirect("staff:policy")
        if request.POST.get("confirm") != "yes":
            messages.error(request, "Tick the box to confirm you have read this version of the policy.")
            return redirect("staff:policy")
        services.policy_acknowledge(user=request.user, version=version, request=request)
        messages.success(request, f"Thank you. You acknowledged version {version.number} of the policy.")
        return redirect("home")
    acknowledged = has_acknowledged(request.user, version)
    return render(request, "staff/policy.html", {"version": version, "acknowledged": acknowledged})


@staff_required(Role.CEO)
@require_safe
def policy_register(request: HttpRequest) -> HttpResponse:
    version = current_policy()
    rows = acknowledgement_register(version) if version else []
    versions = PolicyVersion.objects.only("number", "title", "published_at")
    return render(request, "staff/policy_register.html", {"version": version, "rows": rows, "versions": versions})


@staff_required()
@require_http_methods(["GET", "POST"])
def policy_publish(request: HttpRequest) -> HttpResponse:
    if not can_publish_policy(request.user):
        raise PermissionDenied
    latest = current_policy()
    form = PolicyPublishForm(
        request.POST or None,
        initial={"text": latest.text if latest else "", "title": latest.title if latest else "eSafety policy"},
    )
    if request.method == "POST" and form.is_valid():
        version = services.policy_publish(
            text=form.cleaned_data["text"],
            title=form.cleaned_data["title"],
            summary=form.cleaned_data["summary"],
            by=request.user,
        )
        if latest is not None and version.pk == latest.pk:
            messages.info(request, "The text is the same as the current version, so nothing new was published.")
        else:
            messages.success(request, f"Version {version.number} is published. Staff will be asked to acknowledge it.")
        return redirect("staff:policy_register")
    return render(request, "staff/policy_publish.html", {"form": form, "latest": latest})


@staff_required()
@require_http_methods(["GET", "POST"])
def breach_new(request: HttpRequest) -> HttpResponse:
    form = BreachReportForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        report = services.breach_report_create(reporter=request.user, request=request, **form.cleaned_data)
        messages.success(request, "Thank you. Your report has gone to the CEO only.")
        return redirect("staff:breach_detail", pk=report.pk)
    return render(request, "staff/breach_new.html", {"form": form})


@staff_required()
@require_safe
def breach_list(request: HttpRequest) -> HttpResponse:
    is_ceo = can_manage_breaches(request.user)
    reports = breach_reports_for(request.user, is_ceo=is_ceo)
    status = request.GET.get("status", "")
    if status in {choice for choice, _ in reports.model.Status.choices}:
        reports = reports.filter(status=status)
    page = Paginator(reports, 25).get_page(request.GET.get("page"))
    query = urlencode({"status": status}) if status else ""
    return render(request, "staff/breach_list.html", {"page": page, "is_ceo": is_ceo, "status": status, "query": query})


@staff_required()
@require_safe
def breach_detail(request: HttpRequest, pk: int) -> HttpResponse:
    report = access_breach_report(request.user, pk)
    is_ceo = can_manage_breaches(request.user)
    form = BreachOutcomeForm(initial={"status": report.status, "outcome": report.outcome}) if is_ceo else None
    return render(request, "staff/breach_detail.html", {"report": report, "form": form, "is_ceo": is_ceo})


@staff_required(Role.CEO)
@require_POST
def breach_update(request: HttpRequest, pk: int) -> HttpResponse:
    if not can_manage_breaches(request.user):  # a superuser gets past staff_required(CEO), not past this
        raise PermissionDenied
    report = access_breach_report(request.user, pk)
    form = BreachOutcomeForm(request.POST)
    if not form.is_valid():
        return render(request, "staff/breach_detail.html", {"report": report, "form": form, "is_ceo": True}, status=400)
    services.breach_report_update(
        report_id=report.pk,
        status=form.cleaned_data["status"],
        outcome=form.cleaned_data["outcome"],
        by=request.user,
        request=request,
    )
    messages.success(
        request,
        "The report is updated"
        + (" and the reporter has been told of any change of status." if report.reporter_id else "."),
    )
    return redirect("staff:breach_detail", pk=report.pk)


@staff_required()
@require_http_methods(["GET", "POST"])
def visit_new(request: HttpRequest) -> HttpResponse:
    form = VirtualVisitForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        services.virtual_visit_record(staff_member=request.user, request=request, platform=data.pop("platform"), **data)
        messages.success(request, "The visit is recorded.")
        return redirect("staff:visit_list")
    has_platforms = ApprovedPlatform.objects.filter(is_active=True).exists()
    return render(request, "staff/visit_new.html", {"form": form, "has_platforms": has_platforms})


@staff_required()
@require_safe
def visit_list(request: HttpRequest) -> HttpResponse:
    visits = VirtualVisit.objects.select_related("platform", "staff_member")
    if not (request.user.is_superuser or has_role(request.user, Role.CEO)):
        visits = visits.filter(staff_member=request.user)
    page = Paginator(visits, 25).get_page(request.GET.get("page"))
    return render(request, "staff/visit_list.html", {"page": page})


@require_safe
def visit_guidance(request: HttpRequest) -> HttpResponse:
    """Plain-words best practice for families. Public: families read it before a visit."""
    platforms = ApprovedPlatform.objects.filter(is_active=True)
    return render(request, "staff/visit_guidance.html", {"platforms": platforms})


@staff_required()
@require_safe
def policy_version(request: HttpRequest, number: int) -> HttpResponse:
    version = get_object_or_404(PolicyVersion, number=number)
    return render(request, "staff/policy_version.html", {"version": version})
