"""The policy checks answer questions about the consent register: "is there a child called Tyler Hughes?",
"is 07700 900123 a family's number?". Wherever staff can see the checks' findings on text they type (the live
check while drafting, the draft form shown again), the checks run through `checked_text`: counted against one
rate per person (FIG_LIVE_CHECK_RATES) and audited whenever they touch the register, with which children and
families, so that probing is slow and leaves a trail. The names finding itself never echoes more than a few
names (checks.people). Saving a draft is audited by its service (post_save_draft) with the same details.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest

from consents.names import register_mentions
from fig_safety import ratelimit
from social.posts.checks import Finding, check_text, normalise
from staff.models import User
from staff.services import audit_record


class ChecksPaused(Exception):
    """The checks were not run for this person now; the message says why, for them."""


TOO_MANY = "Too many checks in a short time. Wait a minute, then carry on: the checks run again when you save."
UNAVAILABLE = "The checks cannot run just now. They run again when you save, and before anything is sent for review."


def checked_text(user: User, text: str, *, where: str, request: HttpRequest | None = None) -> list[Finding]:
    """check_text(text) for a person drafting: ChecksPaused past their rate (or with the cache away: the
    safeguard fails closed), and an audit row when the findings touch the register."""
    try:
        allowed = ratelimit.allow(f"post-checks:{user.pk}", settings.FIG_LIVE_CHECK_RATES)
    except ratelimit.Unavailable as exc:
        raise ChecksPaused(UNAVAILABLE) from exc
    if not allowed:
        raise ChecksPaused(TOO_MANY)
    findings = check_text(text)
    audit_register_findings(user, text, findings, where=where, request=request)
    return findings


def audit_register_findings(
    user: User, text: str, findings: list[Finding], *, where: str, request: HttpRequest | None = None, target=None
) -> None:
    """One audit row when `findings` touch the register (names from it, a family's contact details): which
    children the text names (ids, two more queries) and how many family contacts, so that an investigator
    can see what a person asked about. Nothing when they do not."""
    names = [f for f in findings if f.check == "names"]
    family = [f for f in findings if f.check == "contact" and not f.dismissible]
    if not names and not family:
        return
    mentions = register_mentions(normalise(text)[0], spellings=True) if names else []
    children = sorted({child for mention in mentions for child in mention.child_ids})
    audit_record(
        action="post.register_checked",
        actor=user,
        target=target,
        request=request,
        details={
            "where": where,
            "children": children,
            "family_contacts": sum(len(f.matches) for f in family),
            "text_length": len(text),
        },
    )
