"""The default words of the Photo Consent Form, and the one way its text is rendered.

The rendered text is what the carer is shown and what the signed record keeps
(with its SHA-256), so the web form and the evidence cannot drift apart.
"""

from __future__ import annotations

from consents.models import PURPOSES, Child, ConsentFormVersion, Purpose

DEFAULT_INTRODUCTION = (
    "FiG sometimes takes photos at groups and home visits, to remember good times, to train our staff "
    "and to show others what we do. We only do this if a parent or carer with parental responsibility "
    "says yes. Please answer each question separately. You can say yes to some and no to others, "
    "and saying no will never change the help your family gets from FiG."
)
DEFAULT_PURPOSE_TEXTS = {
    Purpose.PHOTOGRAPHED: "FiG staff may take photos of your child at FiG groups and during home visits.",
    Purpose.STORED: (
        "FiG may keep the photos in its secure, encrypted photo store. Only your family's Family Service "
        "Coordinators can see them."
    ),
    Purpose.TRAINING: "FiG may use the photos when training its own staff and volunteers. They are not shared outside FiG.",
    Purpose.PRINT: "FiG may use the photos in printed leaflets, posters and reports about FiG's work.",
    Purpose.ONLINE: "FiG may publish the photos on FiG's website and FiG's social media pages (for example Facebook and Instagram).",
    Purpose.FACE_ONLINE: (
        "In photos published online, your child's face may be recognisable. If you say no, we will only "
        "publish photos where your child cannot be identified, for example from behind or blurred."
    ),
}
DEFAULT_CLOSING = (
    "We never publish your child's name, your name, where you live or any way to contact you.\n"
    "We keep photos for up to 3 years and then delete them. Your answers last for 12 months; we will "
    "ask you again before then.\n"
    "You can change your mind at any time. Sign in to FiG Safety and choose Withdraw, or tell your "
    "Family Service Coordinator. If you withdraw, we stop using the photos straight away and take down "
    "anything we have published."
)


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
    lines += ["", version.closing.strip(), "",
              "I confirm that I have parental responsibility for this child."]
    return "\n".join(lines) + "\n"
