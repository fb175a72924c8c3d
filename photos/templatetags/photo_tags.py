"""Template helpers for the vault pages."""

from __future__ import annotations

from django import template
from django.template.defaultfilters import date as date_filter

from photos import display
from photos.models import Photo

register = template.Library()


@register.filter
def photo_alt(photo: Photo) -> str:
    """The photo described for screen readers and as its title: who is in it, and when."""
    return display.photo_alt(photo.children.all(), date_filter(display.photo_day(photo), "j F Y"))
