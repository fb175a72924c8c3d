"""Writes for the consent form's words: the current version, and publishing a new one."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from consents.errors import ConsentError
from consents.formtext import DEFAULT_INTRODUCTION, closing_problem, default_closing, default_purpose_texts
from consents.models import PURPOSES, ConsentFormVersion
from staff.models import User
from staff.services import audit_record


def form_version_current() -> ConsentFormVersion:
    """The newest version; the first one is created from the default words if none exists. A version is never
    changed: when the defaults change (who sees the photos, how long they are kept), the form-versions page
    warns that the current version is out of date, and a coordinator publishes a new one."""
    version = ConsentFormVersion.objects.order_by("-number").first()
    if version is None:
        version = form_version_publish(
            introduction=DEFAULT_INTRODUCTION,
            purpose_texts={str(k): v for k, v in default_purpose_texts().items()},
            closing=default_closing(),
            requires_reconsent=False,
            by=None,
        )
    return version


def form_version_publish(
    *, introduction: str, purpose_texts: dict[str, str], closing: str, requires_reconsent: bool, by: User | None
) -> ConsentFormVersion:
    missing = [p for p in PURPOSES if not (purpose_texts.get(p) or "").strip()]
    if missing:
        raise ConsentError(f"Every purpose needs its explanation; missing: {', '.join(missing)}.")
    if problem := closing_problem(closing):
        raise ConsentError(problem)
    with transaction.atomic():
        latest = ConsentFormVersion.objects.select_for_update().order_by("-number").first()
        version = ConsentFormVersion.objects.create(
            number=(latest.number + 1) if latest else 1,
            introduction=introduction.strip(),
            purpose_texts={p: purpose_texts[p].strip() for p in PURPOSES},
            closing=closing.strip(),
            requires_reconsent=requires_reconsent,
            published_at=timezone.now(),
            published_by=by,
        )
        audit_record(
            action="consent_form.published",
            actor=by,
            target=version,
            details={"requires_reconsent": requires_reconsent},
        )
    return version
