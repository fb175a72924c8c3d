"""Writes for the staff app. Every write records an audit event in the same transaction."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from allauth.account.forms import default_token_generator
from allauth.account.models import EmailAddress
from allauth.account.utils import user_pk_to_url_str
from django.conf import settings
from django.contrib.auth.models import Group
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone

from fig_safety.times import LONDON, when
from staff.models import (
    ICO_REMINDERS,
    ApprovedPlatform,
    AuditEvent,
    BreachAction,
    BreachContact,
    BreachReport,
    PolicyAcknowledgement,
    PolicyNudge,
    PolicyVersion,
    User,
    VirtualVisit,
)
from staff.notifications import notify
from staff.roles import Role
from staff.selectors import emails_of, policy_not_acknowledged, reminded_today, staff_users

# Keys that must never reach the audit trail, whatever a caller passes.
_SECRET_KEYS = {"password", "password1", "password2", "code", "token", "key", "secret", "otp"}


def client_ip(request: HttpRequest | None) -> str | None:
    """The client's address; X-Forwarded-For is trusted only for FIG_TRUSTED_PROXY_COUNT hops."""
    if request is None:
        return None
    hops = settings.ALLAUTH_TRUSTED_PROXY_COUNT
    if hops:
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
        if len(forwarded) >= hops:
            return forwarded[-hops]
    return request.META.get("REMOTE_ADDR") or None


def _clean_details(details: dict[str, Any] | None) -> dict[str, Any]:
    return {key: value for key, value in (details or {}).items() if key.lower() not in _SECRET_KEYS}


def audit_record(
    *,
    action: str,
    actor: User | None = None,
    target: Any = None,
    request: HttpRequest | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one audit event. The one way any app writes to the audit trail."""
    if actor is None and request is not None and getattr(request, "user", None) is not None:
        if request.user.is_authenticated:
            actor = request.user
    target_type = target_id = target_repr = ""
    if target is not None:
        meta = target._meta
        target_type = f"{meta.app_label}.{meta.model_name}"
        target_id = str(target.pk)
        target_repr = str(target)[:200]
    return AuditEvent.objects.create(
        actor=actor,
        actor_email=getattr(actor, "email", "") or "",
        action=action,
        target_type=target_type,
        target_id=target_id,
        target_repr=target_repr,
        ip_address=client_ip(request),
        details=_clean_details(details),
    )


def password_set_url(user: User) -> str:
    path = reverse(
        "account_reset_password_from_key",
        kwargs={"uidb36": user_pk_to_url_str(user), "key": default_token_generator.make_token(user)},
    )
    return settings.FIG_SITE_URL + path


@transaction.atomic
def staff_user_create(
    *,
    email: str,
    full_name: str,
    roles: Iterable[str],
    by: User | None,
    request: HttpRequest | None = None,
    send_invitation: bool = True,
) -> User:
    """Create a staff account with no password and email them a link to choose one."""
    user = User.objects.create_user(email=email, full_name=full_name)
    EmailAddress.objects.create(user=user, email=user.email, primary=True, verified=True)
    audit_record(action="account.created", actor=by, target=user, request=request, details={"email": user.email})
    user_set_roles(user=user, roles=roles, by=by, request=request)
    if not send_invitation:
        return user
    link = password_set_url(user)
    notify(
        to=[user.email],
        subject="Your FiG Safety account",
        template="staff/email/account_created.txt",
        context={"user": user, "link": link, "days": settings.PASSWORD_RESET_TIMEOUT // 86400},
    )
    return user


@transaction.atomic
def parent_user_get_or_create(*, email: str, full_name: str = "") -> User:
    """A parent or carer account: no password, signs in by emailed code."""
    email = email.strip().lower()
    user, created = User.objects.get_or_create(email=email, defaults={"full_name": full_name})
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
        audit_record(action="account.created", target=user, details={"email": email, "kind": "parent"})
    EmailAddress.objects.get_or_create(user=user, email=email, defaults={"primary": True, "verified": True})
    return user


@transaction.atomic
def user_set_roles(*, user: User, roles: Iterable[str], by: User | None, request: HttpRequest | None = None) -> None:
    """Replace a user's FiG roles, recording what was added and removed."""
    wanted = {Role(role).value for role in roles}
    current = set(user.groups.filter(name__in=[r.value for r in Role]).values_list("name", flat=True))
    added, removed = sorted(wanted - current), sorted(current - wanted)
    if not added and not removed:
        return
    if added:
        user.groups.add(*Group.objects.filter(name__in=added))
    if removed:
        user.groups.remove(*Group.objects.filter(name__in=removed))
    user.__dict__.pop("_fig_roles", None)
    audit_record(
        action="account.roles_changed",
        actor=by,
        target=user,
        request=request,
        details={"added": added, "removed": removed},
    )


@transaction.atomic
def policy_publish(*, text: str, by: User | None, summary: str = "", title: str = "eSafety policy") -> PolicyVersion:
    """Publish a new version of the policy. Every member of staff must acknowledge it."""
    text = text.replace("\r\n", "\n").strip() + "\n"
    latest = PolicyVersion.objects.select_for_update().order_by("-number").first()
    if latest is not None and latest.sha256 == PolicyVersion.digest(text) and latest.title == title:
        return latest
    version = PolicyVersion.objects.create(
        number=(latest.number + 1) if latest else 1,
        title=title,
        text=text,
        sha256=PolicyVersion.digest(text),
        summary_of_changes=summary,
        published_by=by,
    )
    audit_record(action="policy.published", actor=by, target=version, details={"sha256": version.sha256})
    staff_emails = list(staff_users().values_list("email", flat=True))
    if staff_emails and latest is not None:
        notify(
            to=staff_emails,
            subject=f"Please read the new {title} (version {version.number})",
            template="staff/email/policy_published.txt",
            context={"version": version, "link": settings.FIG_SITE_URL + reverse("staff:policy")},
            separately=True,
        )
    return version


def policy_acknowledge(
    *, user: User, version: PolicyVersion, request: HttpRequest | None = None
) -> PolicyAcknowledgement:
    """Record that the user has read this version. A second click changes nothing."""
    with transaction.atomic():
        ack, created = PolicyAcknowledgement.objects.get_or_create(
            version=version, user=user, defaults={"ip_address": client_ip(request)}
        )
        if created:
            audit_record(action="policy.acknowledged", actor=user, target=version, request=request)
    return ack


def breach_report_create(*, reporter: User, request: HttpRequest | None = None, **fields: Any) -> BreachReport:
    with transaction.atomic():
        report = BreachReport.objects.create(reporter=reporter, **fields)
        breach_timeline_add(report=report, by=reporter, what=f"Reported by {reporter}.", at=report.created_at)
        audit_record(action="breach.reported", actor=reporter, target=report, request=request)
        ceo_emails = emails_of(Role.CEO)
        if ceo_emails:
            notify(
                to=ceo_emails,
                subject=f"Breach report #{report.pk} needs your attention",
                template="staff/email/breach_reported.txt",
                context={
                    "report": report,
                    "link": settings.FIG_SITE_URL + reverse("staff:breach_detail", args=[report.pk]),
                },
            )
    return report


class NoCEO(Exception):
    """There is no active CEO to route a breach report to."""


def breach_report_record_found(
    *, occurred_on: date, where: str, description: str, people_involved: str = "", details: dict[str, Any]
) -> BreachReport:
    """Record a possible breach that FiG Safety found by itself (a sweep), not one a person reported: it has
    no reporter (its pages say "FiG Safety, found automatically"), only the CEO sees it, and the audit event
    has no actor. Raises NoCEO when there is no active CEO to deal with it (nothing is recorded: the caller
    tries again later). Sends no email: the caller says what was found.
    Precondition: inside the caller's transaction.
    """
    if not User.objects.filter(is_active=True, groups__name=Role.CEO.value).exists():
        raise NoCEO
    report = BreachReport.objects.create(
        reporter=None,
        occurred_on=occurred_on,
        where=where,
        description=description,
        people_involved=people_involved,
    )
    breach_timeline_add(report=report, by=None, what="Found automatically by FiG Safety.", at=report.created_at)
    audit_record(action="breach.found", target=report, details=details)
    return report


def breach_report_update(
    *, report_id: int, status: str, outcome: str, by: User, request: HttpRequest | None = None
) -> BreachReport:
    """The CEO moves a report on. Runs under a row lock so two updates cannot interleave."""
    with transaction.atomic():
        report = BreachReport.objects.select_for_update().get(pk=report_id)
        before = {"status": report.status, "outcome": report.outcome}
        report.status = BreachReport.Status(status)
        report.outcome = outcome
        report.updated_at = timezone.now()
        report.save(update_fields=["status", "outcome", "updated_at"])
        if report.status != before["status"]:
            old = BreachReport.Status(before["status"]).label
            breach_timeline_add(
                report=report, by=by, what=f"Status changed from {old} to {report.get_status_display()}."
            )
        if report.outcome != before["outcome"]:
            breach_timeline_add(report=report, by=by, what=f"Outcome: {report.outcome or '(removed)'}")
        audit_record(
            action="breach.updated",
            actor=by,
            target=report,
            request=request,
            details={"from": before, "to": {"status": report.status, "outcome": report.outcome}},
        )
        if report.status != before["status"] and report.reporter is not None:
            notify(
                to=[report.reporter.email],
                subject=f"Your breach report #{report.pk} is now: {report.get_status_display().lower()}",
                template="staff/email/breach_status.txt",
                context={
                    "report": report,
                    "link": settings.FIG_SITE_URL + reverse("staff:breach_detail", args=[report.pk]),
                },
            )
    return report


def breach_timeline_add(
    *, report: BreachReport, by: User | None, what: str, at: datetime | None = None
) -> BreachAction:
    """One line on a report's timeline. Precondition: inside the caller's transaction, which audits it."""
    return BreachAction.objects.create(report=report, by=by, what=what, at=at or timezone.now())


def _yes_no_unknown(value: bool | None) -> str:
    return {True: "yes", False: "no", None: "not known yet"}[value]


def breach_report_assess(
    *,
    report_id: int,
    by: User,
    severity: str,
    child_data_involved: bool | None,
    reportable_to_ico: str,
    reportable_reason: str,
    became_aware_at: datetime,
    request: HttpRequest | None = None,
) -> BreachReport:
    """The CEO's assessment: how serious, whether a child's data is involved, whether the ICO must be told
    and why, and when FiG became aware (the ICO's 72 hours run from then). Each change is a line on the
    timeline; one audit event holds them all. A deadline moved later may be reminded of again."""
    with transaction.atomic():
        report = BreachReport.objects.select_for_update().get(pk=report_id)
        fields = {
            "severity": BreachReport.Severity(severity),
            "child_data_involved": child_data_involved,
            "reportable_to_ico": BreachReport.Reportable(reportable_to_ico),
            "reportable_reason": reportable_reason.strip(),
            "became_aware_at": became_aware_at,
        }
        changed = {name: value for name, value in fields.items() if getattr(report, name) != value}
        if not changed:
            return report
        before = {name: getattr(report, name) for name in changed}
        for name, value in changed.items():
            setattr(report, name, value)
        lines = []
        if "severity" in changed:
            lines.append(f"Severity: {report.get_severity_display().lower()}.")
        if "child_data_involved" in changed:
            lines.append(f"Personal data of a child is involved: {_yes_no_unknown(report.child_data_involved)}.")
        if "reportable_to_ico" in changed or "reportable_reason" in changed:
            decision = {
                BreachReport.Reportable.YES: "The ICO must be told",
                BreachReport.Reportable.NO: "The ICO need not be told",
                BreachReport.Reportable.UNDECIDED: "Not decided yet whether the ICO must be told",
            }[report.reportable_to_ico]
            lines.append(f"{decision}" + (f": {report.reportable_reason}" if report.reportable_reason else "."))
        if "became_aware_at" in changed:
            lines.append(f"FiG became aware on {when(report.became_aware_at, year=True)}.")
            now = timezone.now()
            # A reminder whose moment is now in the future again is due again.
            for stamp, before_deadline in ICO_REMINDERS.items():
                if report.ico_deadline - before_deadline > now:
                    setattr(report, stamp, None)
            if report.ico_deadline > now:
                report.ico_overdue_sent_at = None
        report.updated_at = timezone.now()
        report.save(update_fields=[*changed, *ICO_REMINDERS, "ico_overdue_sent_at", "updated_at"])
        for line in lines:
            breach_timeline_add(report=report, by=by, what=line)
        audit_record(
            action="breach.assessed",
            actor=by,
            target=report,
            request=request,
            details={"from": _plain(before), "to": _plain({name: getattr(report, name) for name in changed})},
        )
    return report


def _plain(values: dict[str, Any]) -> dict[str, Any]:
    return {name: value.isoformat() if isinstance(value, datetime) else value for name, value in values.items()}


def breach_report_record_ico(
    *, report_id: int, by: User, reported_at: datetime, reference: str, request: HttpRequest | None = None
) -> BreachReport:
    """Record that the ICO was told (which stops the clock). Telling them settles that they must be told."""
    with transaction.atomic():
        report = BreachReport.objects.select_for_update().get(pk=report_id)
        before = _plain({"ico_reported_at": report.ico_reported_at, "ico_reference": report.ico_reference})
        if (report.ico_reported_at, report.ico_reference) == (reported_at, reference.strip()):
            return report
        report.ico_reported_at, report.ico_reference = reported_at, reference.strip()
        if report.reportable_to_ico != BreachReport.Reportable.YES:
            report.reportable_to_ico = BreachReport.Reportable.YES
            breach_timeline_add(report=report, by=by, what="The ICO must be told.")
        report.updated_at = timezone.now()
        report.save(update_fields=["ico_reported_at", "ico_reference", "reportable_to_ico", "updated_at"])
        deadline = "in time" if reported_at <= report.ico_deadline else "after the 72-hour deadline"
        breach_timeline_add(
            report=report,
            by=by,
            what=f"The ICO was told on {when(reported_at, year=True)}, {deadline}"
            + (f" (reference {report.ico_reference})." if report.ico_reference else "."),
        )
        audit_record(
            action="breach.ico_reported",
            actor=by,
            target=report,
            request=request,
            details={"from": before, "to": _plain({"ico_reported_at": reported_at, "ico_reference": reference})},
        )
    return report


def breach_report_set_people(
    *, report_id: int, by: User, people: dict[str, date | None], request: HttpRequest | None = None
) -> BreachReport:
    """Who else must be told (`people`: each party that must be, with the day they were told, or None).
    Parties left out no longer need to be told. Each change is a line on the timeline."""
    with transaction.atomic():
        report = BreachReport.objects.select_for_update().get(pk=report_id)
        current = {contact.party: contact for contact in report.people_to_tell.all()}
        wanted = {BreachContact.Party(party): told_on for party, told_on in people.items()}
        lines = []
        for party in BreachContact.Party:
            label = party.label
            if party in current and party not in wanted:
                current[party].delete()
                lines.append(f"{label}: no longer need to be told.")
            elif party in wanted and party not in current:
                BreachContact.objects.create(report=report, party=party, told_on=wanted[party])
                lines.append(f"{label}: must be told.")
                if wanted[party]:
                    lines.append(f"{label}: told on {_day(wanted[party])}.")
            elif party in wanted and current[party].told_on != wanted[party]:
                current[party].told_on = wanted[party]
                current[party].save(update_fields=["told_on"])
                told = f"told on {_day(wanted[party])}." if wanted[party] else "not told yet."
                lines.append(f"{label}: {told}")
        if not lines:
            return report
        for line in lines:
            breach_timeline_add(report=report, by=by, what=line)
        report.updated_at = timezone.now()
        report.save(update_fields=["updated_at"])
        audit_record(
            action="breach.people_to_tell",
            actor=by,
            target=report,
            request=request,
            details={"to": {party: told_on.isoformat() if told_on else None for party, told_on in wanted.items()}},
        )
    return report


def _day(value: date) -> str:
    return f"{value.day} {value:%B %Y}"  # "8 December 2026"


def breach_action_record(
    *, report_id: int, by: User, what: str, at: datetime | None = None, request: HttpRequest | None = None
) -> BreachAction:
    """The CEO writes down something done about a report (a call, a meeting, advice taken)."""
    with transaction.atomic():
        report = BreachReport.objects.select_for_update().get(pk=report_id)
        action = breach_timeline_add(report=report, by=by, what=what.strip(), at=at)
        report.updated_at = timezone.now()
        report.save(update_fields=["updated_at"])
        audit_record(
            action="breach.action_recorded", actor=by, target=report, request=request, details={"action": action.pk}
        )
    return action


def policy_remind_now(
    *,
    version: PolicyVersion,
    user_ids: Iterable[int],
    by: User,
    request: HttpRequest | None = None,
    now: datetime | None = None,
) -> list[User]:
    """The CEO's "Remind them now": email each of `user_ids` who still has not acknowledged `version`, at
    most once a London day each (the PolicyNudge constraint holds even for two clicks at once). Returns who
    was emailed; one audit event names them."""
    now = now or timezone.now()
    today = timezone.localtime(now, LONDON).date()
    skip = reminded_today(version, now)
    candidates = [
        user for user in policy_not_acknowledged(version).filter(pk__in=list(user_ids)) if user.pk not in skip
    ]
    link = settings.FIG_SITE_URL + reverse("staff:policy")
    sent: list[User] = []
    with transaction.atomic():
        for user in candidates:
            try:
                with transaction.atomic():
                    PolicyNudge.objects.create(version=version, user=user, sent_on=today, sent_at=now, by=by)
            except IntegrityError:
                continue  # reminded today already, by another click
            notify(
                to=[user.email],
                subject=f"Reminder: please acknowledge the eSafety policy (version {version.number})",
                template="staff/email/policy_reminder_now.txt",
                context={"version": version, "user": user, "link": link},
            )
            sent.append(user)
        if sent:
            audit_record(
                action="policy.reminders_sent",
                actor=by,
                target=version,
                request=request,
                details={"count": len(sent), "to": [user.email for user in sent]},
            )
    return sent


def virtual_visit_record(
    *, staff_member: User, platform: ApprovedPlatform, request: HttpRequest | None = None, **fields: Any
) -> VirtualVisit:
    with transaction.atomic():
        visit = VirtualVisit.objects.create(staff_member=staff_member, platform=platform, **fields)
        audit_record(
            action="visit.recorded",
            actor=staff_member,
            target=visit,
            request=request,
            details={"family_reference": visit.family_reference, "platform": platform.name},
        )
    return visit
