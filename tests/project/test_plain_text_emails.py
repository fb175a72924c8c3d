"""Plain-text emails arrive as written: "O'Neil & Sons" is never sent as O&#x27;Neil &amp; Sons.

Every .txt email template under templates/ is rendered through the function `notify` uses, with every name
in it standing for an awkward one; an HTML template rendered the same way is still escaped.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from django.conf import settings
from django.core import mail

from staff.notifications import render_email
from tests.consents.factories import CarerFactory, ChildFactory, FamilyFactory

AWKWARD = "O'Neil & Sons <x>"
ESCAPED = ("&#x27;", "&#39;", "&amp;", "&lt;", "&gt;", "&quot;")
TEMPLATES = Path(settings.BASE_DIR) / "templates"
EMAIL_TEMPLATES = sorted(str(path.relative_to(TEMPLATES)) for path in TEMPLATES.glob("**/email/*.txt"))
# Names that hold a date or time (the templates format them with |date).
WHEN = dt.datetime(2025, 3, 4, 9, 30, tzinfo=dt.UTC)
DATED = ("_at", "_on", "_for", "_until")


def _value(name) -> Anything | dt.datetime:
    return WHEN if isinstance(name, str) and (name == "due" or name.endswith(DATED)) else Anything()


class Anything:
    """Whatever a template asks of a context value: its text is the awkward name; each attribute, item and
    loop gives more of the same (two of them, so `{% for label, answer in answers %}` unpacks)."""

    def __str__(self) -> str:
        return AWKWARD

    def __getattr__(self, name: str) -> Anything | dt.datetime:
        if name.startswith("__"):
            raise AttributeError(name)
        return _value(name)

    def __getitem__(self, key) -> Anything | dt.datetime:
        return _value(key)

    def __iter__(self):
        return iter([Anything(), Anything()])

    def __len__(self) -> int:
        return 2


class EveryName(dict):
    """A context in which every variable is defined (as Anything), so each template prints its names."""

    def __contains__(self, key) -> bool:
        return True

    def __missing__(self, key) -> Anything | dt.datetime:
        return _value(key)


def test_it_finds_the_email_templates():
    assert "consents/email/request.txt" in EMAIL_TEMPLATES
    assert "staff/email/account_created.txt" in EMAIL_TEMPLATES
    assert len(EMAIL_TEMPLATES) > 30


@pytest.mark.parametrize("template", EMAIL_TEMPLATES)
def test_it_renders_every_plain_text_email_without_html_escaping(template):
    body = render_email(template, EveryName())
    for entity in ESCAPED:
        assert entity not in body, f"{template} escapes {entity}"
    if "{{" in (TEMPLATES / template).read_text():
        assert AWKWARD in body, f"{template} does not print its names as written"


def test_it_still_escapes_an_html_template():
    body = render_email("consents/includes_state.html", {"state": "given", "label": AWKWARD})
    assert AWKWARD not in body
    assert "O&#x27;Neil &amp; Sons &lt;x&gt;" in body


@pytest.mark.django_db
def test_it_sends_a_carers_name_as_written(coordinator, django_capture_on_commit_callbacks):
    from consents.services.requests import consent_request_send

    family = FamilyFactory()
    child = ChildFactory(family=family, first_name="Cleo")
    carer = CarerFactory(family=family, full_name="Mary O'Neil & Sons <x>")
    with django_capture_on_commit_callbacks(execute=True):
        consent_request_send(child=child, carer=carer, by=coordinator)
    [email] = mail.outbox
    assert "Hello Mary O'Neil & Sons <x>," in email.body
    assert not any(entity in email.body for entity in ESCAPED)
