"""The policy checks on a social-media post: run live while drafting and again at submit,
approval and publication. Each finding says in plain words what was found and why it matters.

One module a concern: `base` (Finding), `terms` (religious and political content), `people` (children
identifiable), `contact` (contactable), `photos` (the photo consent gate and parents' holds). `check_text`
runs every text check. Text checks can be dismissed by an approver with a written reason, unless a finding
says it cannot be; the photo gate cannot.
"""

from __future__ import annotations

import dataclasses
import unicodedata

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
    "normalise",
    "photo_words",
    "term_findings",
    "term_matches",
    "uk_phone_numbers",
]


# Cyrillic and Greek letters that look like Latin ones: "Tуler" with a Cyrillic у reads as "Tyler" to a person
# and must to the checks. Each becomes one Latin letter. A text in Russian or Greek comes out as nonsense, which
# the checks do not find anything in; FiG posts in English.
_LOOK_ALIKES = str.maketrans(
    "авекмнорстухѕіјԁһԛԝӏүАВЕКМНОРСТУХЅІЈԚԜӀҮαβεικνορτυχΑΒΕΖΗΙΚΜΝΟΡΤΥΧ",
    "abekmhopctyxsijdhqwlyABEKMHOPCTYXSIJQWIYabeikvoptuxABEZHIKMNOPTYX",
)


def normalise(text: str) -> tuple[str, list[tuple[int, int]]]:
    """The text as the checks read it, and where each of its characters came from in `text`.

    NFKC ("Ｔｙｌｅｒ" and "ﬁ" become "Tyler" and "fi"), Unicode format characters dropped (a zero-width space
    or a soft hyphen inside a name), and Cyrillic or Greek look-alikes made Latin. The length can change, so
    `spans[i]` is the (start, end) in `text` of the character, with its combining marks, that gave the i-th."""
    if text.isascii():
        return text, [(i, i + 1) for i in range(len(text))]
    out: list[str] = []
    spans: list[tuple[int, int]] = []
    i = 0
    while i < len(text):
        j = i + 1
        while j < len(text) and unicodedata.combining(text[j]):  # "e" and a combining acute become one "é"
            j += 1
        piece = unicodedata.normalize("NFKC", text[i:j])
        piece = "".join(ch for ch in piece if unicodedata.category(ch) != "Cf").translate(_LOOK_ALIKES)
        out.append(piece)
        spans += [(i, j)] * len(piece)
        i = j
    return "".join(out), spans


def _as_typed(finding: Finding, text: str, clean: str, spans: list[tuple[int, int]]) -> Finding:
    """The finding with each match as written in `text` (the draft page highlights pieces of what was typed):
    every place the normalised match stands, as typed there."""
    matches: list[str] = []
    explanation = finding.explanation
    for match in finding.matches:
        typed = []
        at = clean.find(match) if match else -1
        while at >= 0:
            typed.append(text[spans[at][0] : spans[at + len(match) - 1][1]])
            at = clean.find(match, at + 1)
        if not typed:  # not a piece of the normalised text (a check's own wording): as it was
            matches.append(match)
            continue
        typed = list(dict.fromkeys(typed))
        if len(typed) == 1:
            explanation = explanation.replace(f"‘{match}’", f"‘{typed[0]}’")
        matches += typed
    return dataclasses.replace(finding, matches=tuple(dict.fromkeys(matches)), explanation=explanation)


def check_text(text: str) -> list[Finding]:
    """Every text check on a post, on the text normalised once (see `normalise`), with what each finding
    matched given back as it was typed. Two queries for the terms and the register names."""
    clean, spans = normalise(text)
    findings: list[Finding] = [*term_findings(clean)]
    findings += people_findings(clean)  # names from the register, and anything else that identifies a child
    findings.extend(contact_findings(clean))
    if clean == text:
        return findings
    return [_as_typed(finding, text, clean, spans) for finding in findings]
