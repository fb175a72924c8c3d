"""How staff pages name a family: its display name beside its reference ("Demo family (Priya) · FIG-ABC234").

For staff pages only: a parent's pages never name a family, and a post's text is never checked against
a display name (it is what FiG calls the family, not what the family is called)."""

from django import template

register = template.Library()


@register.filter
def family_name(family) -> str:
    """The family as staff know it: the display name and the reference, or the reference alone."""
    name = " ".join((family.display_name or "").split())
    return f"{name} · {family.reference}" if name else family.reference


@register.filter
def family_title(family) -> str:
    """The family as a heading names it: "Demo family (Priya) · FIG-ABC234", or "Family FIG-ABC234"."""
    return family_name(family) if (family.display_name or "").strip() else f"Family {family.reference}"


@register.filter
def family_in_text(family) -> str:
    """The family inside a sentence: "Demo family (Priya) · FIG-ABC234", or "family FIG-ABC234"."""
    return family_name(family) if (family.display_name or "").strip() else f"family {family.reference}"
