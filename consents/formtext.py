"""The default words of the Photo Consent Form, and the one way its text is rendered.

The rendered text is what the carer is shown and what the signed record keeps
(with its SHA-256), so the web form and the evidence cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from django.conf import settings

from consents.models import PURPOSES, Child, ConsentFormVersion, Purpose

DEFAULT_INTRODUCTION = (
    "FiG sometimes takes photos at groups and home visits, to remember good times, to train our staff "
    "and to show others what we do. We only do this if a parent or carer with parental responsibility "
    "says yes. Please answer each question separately. You can say yes to some and no to others, "
    "and saying no will never change the help your family gets from FiG."
)
_PURPOSE_TEXTS = {
    Purpose.PHOTOGRAPHED: "FiG staff may take photos of your child at FiG groups and during home visits.",
    Purpose.STORED: "FiG may keep the photos in its secure, encrypted photo store.",
    Purpose.TRAINING: "FiG may use the photos when training its own staff and volunteers. They are not shared outside FiG.",
    Purpose.PRINT: "FiG may use the photos in printed leaflets, posters and reports about FiG's work.",
    Purpose.ONLINE: "FiG may publish the photos on FiG's website and FiG's social media pages (for example Facebook and Instagram).",
    Purpose.FACE_ONLINE: (
        "In photos published online, your child's face may be recognisable. If you say no, we will only "
        "publish photos where your child cannot be identified, for example from behind or blurred."
    ),
}


# Who sees the photos, word for word what the code does (issue 13, point 5; docs/security.md): the vault
# (photos.selectors.photos_visible_to, photos.access.access_photo_image) and the small copies offered for
# posts (social.posts.access.access_post_photo). A current version that does not say this gets a warning on
# the form-versions page (who_sees_problems). The fix-tags window follows FIG_PHOTO_FIX_TAGS_HOURS.
# The words that tell parents a group photo is seen by the other families' coordinators too: a child whose
# parent signed a form without them is not tagged in a photo with children of other families
# (photos.services.check_group_words), so nobody is bound by words they never saw.
GROUP_PHOTOS = "for a photo that also shows children from other families, those families' coordinators"


def says_group_photos(text: str) -> bool:
    """Whether a signed form's text told the parent that group photos are shared with other families' coordinators."""
    return _comparable(GROUP_PHOTOS) in _comparable(text)


def who_sees_stored() -> str:
    hours = settings.FIG_PHOTO_FIX_TAGS_HOURS
    return (
        "Only your family's Family Service Coordinators can see them (and, for a photo that also shows "
        "children from other families, those families' coordinators). The member of staff who took a photo "
        f"can see a smaller copy of it, but not download it, for {hours} hour{'' if hours == 1 else 's'} "
        "after they upload it, to say who is in it."
    )


WHO_SEES_ONLINE = (
    "Before a photo is published, the FiG staff chosen to write FiG's posts and the social media "
    "administrators who approve them see a small copy of it, with every face blurred where your answers "
    "ask for that."
)


def who_sees_statements() -> dict[str, str]:
    """Purpose -> the sentence its explanation must contain, as the code now works."""
    return {Purpose.STORED: who_sees_stored(), Purpose.ONLINE: WHO_SEES_ONLINE}


def default_purpose_texts() -> dict[str, str]:
    """The default explanation of each purpose, with who sees the photos (as the settings now say)."""
    says = who_sees_statements()
    return {purpose: f"{text} {says[purpose]}" if purpose in says else text for purpose, text in _PURPOSE_TEXTS.items()}


class _DefaultPurposeTexts(Mapping):
    """default_purpose_texts(), read each time it is used rather than once at import: like default_closing,
    it follows the settings (the fix-tags window), also in tests that change them."""

    def __getitem__(self, purpose: str) -> str:
        return default_purpose_texts()[purpose]

    def __iter__(self) -> Iterator[str]:
        return iter(_PURPOSE_TEXTS)

    def __len__(self) -> int:
        return len(_PURPOSE_TEXTS)


DEFAULT_PURPOSE_TEXTS: Mapping[str, str] = _DefaultPurposeTexts()


# What every version must tell parents (issue 3, point 3), word for word: names and contact details
# are never published, how long photos are kept, and how to withdraw. A version that leaves one
# out cannot be published (`missing_statements`). How long photos are kept and how long answers
# last follow the settings, so a change of FIG_PHOTO_RETENTION_DAYS needs a new version.
NEVER_PUBLISHED = "We never publish your child's name, your name, where you live or any way to contact you."
HOW_TO_WITHDRAW = (
    "You can change your mind at any time. Sign in to FiG Safety and choose Withdraw, or tell your "
    "Family Service Coordinator."
)


def _period(days: int) -> str:
    """365 days → "1 year", 1095 → "3 years", 180 → "6 months", 45 → "45 days"."""
    for unit, size in (("year", 365), ("month", 30)):
        if days % size == 0:
            count = days // size
            return f"{count} {unit}{'' if count == 1 else 's'}"
    return f"{days} days"


def how_long_kept() -> str:
    return f"We keep photos for up to {_period(settings.FIG_PHOTO_RETENTION_DAYS)} and then delete them."


def required_statements() -> tuple[str, ...]:
    return (NEVER_PUBLISHED, how_long_kept(), HOW_TO_WITHDRAW)


def default_closing() -> str:
    months = settings.FIG_CONSENT_VALID_MONTHS
    return (
        f"{NEVER_PUBLISHED}\n"
        f"{how_long_kept()} Your answers last for {months} month{'' if months == 1 else 's'}; "
        "we will ask you again before then.\n"
        f"{HOW_TO_WITHDRAW} If you withdraw, we stop using the photos straight away and take down "
        "anything we have published."
    )


def _comparable(text: str) -> str:
    # Line breaks, spacing, capitals and curly apostrophes may differ; the words may not.
    return " ".join(text.replace("\u2019", "'").split()).casefold()


def who_sees_problems(purpose_texts: Mapping[str, str]) -> list[tuple[str, str]]:
    """(purpose label, the sentence it must contain) for each explanation in `purpose_texts` (a version's)
    that does not say who sees the photos as the code now works; empty when they all do."""
    return [
        (Purpose(purpose).label, sentence)
        for purpose, sentence in who_sees_statements().items()
        if _comparable(sentence) not in _comparable(purpose_texts.get(purpose, ""))
    ]


def with_who_sees(purpose_texts: Mapping[str, str]) -> dict[str, str]:
    """`purpose_texts` (a version's) with the sentence about who sees the photos added to each explanation
    that does not say it yet: what a new version starts from, so nobody has to type it."""
    texts = dict(purpose_texts)
    for purpose, sentence in who_sees_statements().items():
        if _comparable(sentence) not in _comparable(texts.get(purpose, "")):
            texts[purpose] = f"{texts.get(purpose, '')} {sentence}".strip()
    return texts


def missing_statements(closing: str) -> list[str]:
    """The required statements that `closing` does not contain."""
    text = _comparable(closing)
    return [statement for statement in required_statements() if _comparable(statement) not in text]


def closing_problem(closing: str) -> str:
    """What a version's closing words lack, said to the coordinator; "" when nothing is missing."""
    missing = missing_statements(closing)
    if not missing:
        return ""
    return "The closing words must tell parents, word for word: " + " ".join(f"\u201c{s}\u201d" for s in missing)


def render_form_text(version: ConsentFormVersion, child: Child) -> str:
    """The exact words shown to the carer for this child, as plain text."""
    lines = [
        f"FiG Photo Consent Form (version {version.number})",
        f"Child: {child.first_name} {child.last_name}, born {child.date_of_birth:%d/%m/%Y}",
        "",
        version.introduction.strip(),
        "",
    ]
    for number, purpose in enumerate(PURPOSES, start=1):
        lines.append(f"{number}. {Purpose(purpose).label}")
        lines.append(f"   {version.purpose_texts.get(purpose, '').strip()}")
        lines.append("   Answer: yes or no")
    lines += ["", version.closing.strip(), "", "I confirm that I have parental responsibility for this child."]
    return "\n".join(lines) + "\n"
