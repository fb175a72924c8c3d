"""The policy checks on a social-media post: run live while drafting and again at submit,
approval and publication. Each finding says in plain words what was found and why it matters.

One module a concern: `base` (Finding), `terms` (religious and political content), `people` (children
identifiable), `contact` (contactable), `photos` (the photo consent gate and parents' holds). `check_text`
runs every text check. Text checks can be dismissed by an approver with a written reason, unless a finding
says it cannot be; the photo gate cannot.
"""

from __future__ import annotations

from social.posts.checks.base import CHECK_TITLES, Finding
from social.posts.checks.contact import contact_details, contact_findings, uk_phone_numbers
from social.posts.checks.people import people_findings
from social.posts.checks.photos import check_holds, check_photos, photo_words
from social.posts.checks.terms import term_findings, term_matches

__all__ = [
    "CHECK_TITLES",
    "Finding",
    "check_holds",
    "check_photos",
    "check_text",
    "contact_details",
    "photo_words",
    "term_findings",
    "term_matches",
    "uk_phone_numbers",
]


def check_text(text: str) -> list[Finding]:
    """Every text check on a post. Two queries for the terms and the register names."""
    findings: list[Finding] = [*term_findings(text)]
    findings += people_findings(text)  # names from the register, and anything else that identifies a child
    findings.extend(contact_findings(text))
    return findings
