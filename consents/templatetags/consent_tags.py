"""Small template helpers for the consent pages."""

from django import template

register = template.Library()


@register.filter
def get_item(mapping, key):
    return mapping.get(key) if hasattr(mapping, "get") else None


@register.filter
def answer_rows(answers):
    """A record's answers as (label, answer) pairs in the form's order (JSON keys come back in any order)."""
    from consents.models import PURPOSES, Purpose

    answers = answers or {}
    return [(Purpose(p).label, answers[p]) for p in PURPOSES if p in answers]
