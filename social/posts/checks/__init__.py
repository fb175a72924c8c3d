"""The policy checks on a social-media post: run live while drafting and again at submit,
approval and publication. Each finding says in plain words what was found and why it matters.

One module a concern: `base` (Finding), `terms` (religious and political content), `people` (children
identifiable), `contact` (contactable), `photos` (the photo consent gate and parents' holds). `check_text`
runs every text check. Text checks can be dismissed by an approver with a written reason, unless a finding
says it cannot be; the photo gate cannot.
"""

from __future__ import annotations

from social.posts.checks.base import CHECK_TITLES, Finding
from social.posts.checks.contact import contact_details, uk_phone_numbers
from social.posts.checks.people import find_register_names
from social.posts.checks.photos import check_holds, check_photos, photo_words
from social.posts.checks.terms import term_matches

__all__ = [
    "CHECK_TITLES",
    "Finding",
    "check_holds",
    "check_photos",
    "check_text",
    "contact_details",
    "photo_words",
    "term_matches",
    "uk_phone_numbers",
]


def check_text(text: str) -> list[Finding]:
    """Every text check on a post. Two queries for the terms and the register names."""
    from social.models import PolicyTerm

    findings: list[Finding] = []
    terms: dict[str, list[str]] = {"religious": [], "political": []}
    for category, term in PolicyTerm.objects.filter(is_active=True).values_list("category", "term"):
        terms[category].append(term)
    for category, explanation in (
        ("religious", "FiG's status updates must not contain religious content."),
        ("political", "FiG's status updates must not contain political content."),
    ):
        hits = term_matches(text, terms[category])
        if hits:
            findings.append(Finding(category, CHECK_TITLES[category], explanation, tuple(hits)))
    names = find_register_names(text)
    if names:
        findings.append(
            Finding(
                "names",
                CHECK_TITLES["names"],
                "These match a child or carer FiG works with. Children must not be identifiable from what FiG shares.",
                tuple(sorted({m.name for m in names})),
            )
        )
    contacts = contact_details(text)
    if contacts:
        findings.append(
            Finding(
                "contact",
                CHECK_TITLES["contact"],
                "Phone numbers, email addresses, addresses, postcodes and personal profiles could make someone contactable.",
                tuple(contacts),
            )
        )
    return findings
