"""`{% second_factors user as factors %}`: lets the two-step sign-in pages word themselves by what the person has."""

from __future__ import annotations

from django import template

from staff import selectors

register = template.Library()


@register.simple_tag
def second_factors(user) -> selectors.SecondFactors:
    return selectors.second_factors(user)
