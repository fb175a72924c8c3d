"""What a policy check finds."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Finding:
    check: str  # religious, political, names, contact, consent, removal
    title: str
    explanation: str
    matches: tuple[str, ...] = field(default_factory=tuple)
    dismissible: bool = True


CHECK_TITLES = {
    "religious": "Religious content",
    "political": "Political content",
    "names": "Names from the consent register",
    "identifying": "A child could be identified",
    "contact": "Contact details",
    "consent": "Photo consent",
    "removal": "A parent asked FiG not to use a photo online",
    "gone": "A photo that is no longer in the vault",
}
