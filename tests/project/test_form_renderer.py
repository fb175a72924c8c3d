"""Every form is drawn as the parents' consent form is (fig_safety.forms.FormRenderer): labels without "Label:"
colons, the hint and the error above the box and named in its aria-describedby, radios and tick boxes as big
choices; and a staff form sent back with errors has the same error summary at the top, each problem a link to
its box."""

from __future__ import annotations

import html
import re

import pytest
from django import forms
from django.urls import reverse

from tests import factories
from tests.html_ids import dangling_references, duplicate_ids


class _EveryKind(forms.Form):
    name = forms.CharField(label="Family reference", help_text="Never a name.")
    platform = forms.ChoiceField(label="Platform", choices=[("", "Choose"), ("zoom", "Zoom")])
    how = forms.ChoiceField(
        label="How was it given?", choices=[("paper", "On paper"), ("phone", "By phone")], widget=forms.RadioSelect
    )
    agreed = forms.BooleanField(label="I was in a confidential space", help_text="For the whole visit.")
    scan = forms.FileField(label="Scanned form")


def test_it_draws_labels_without_colons_and_the_hint_and_error_before_the_box():
    page = str(_EveryKind(data={}))
    assert not re.search(r":\s*</(label|legend)>", page)
    assert '<label for="id_name">Family reference</label>' in page
    assert '<p class="hint" id="id_name_helptext">Never a name.</p>' in page
    assert (
        '<p class="error-message" id="id_name_error"><span class="visually-hidden">Error:</span> This field is required.</p>'
        in page
    )
    assert 'aria-describedby="id_name_helptext id_name_error"' in page
    assert page.index("id_name_helptext") < page.index("id_name_error") < page.index('<input type="text"')
    assert duplicate_ids(page) == [] and dangling_references(page) == []


def test_it_draws_radios_and_a_tick_box_as_big_choices():
    page = str(_EveryKind(data={}))
    assert '<fieldset class="checks-fieldset" aria-describedby="id_how_error">' in page
    assert '<legend class="label">How was it given?</legend>' in page
    assert re.search(
        r'<label class="choice choice-check" for="id_how_0"><input type="radio"[^>]*><span class="choice-text">On paper</span></label>',
        page,
    )
    assert re.search(
        r'<label class="choice choice-check" for="id_agreed"><input type="checkbox"[^>]*><span class="choice-text">I was in a confidential space</span></label>',
        page,
    )


def test_the_form_fields_include_and_form_are_drawn_the_same():
    form = _EveryKind(data={})
    assert form.as_div() != str(form)  # Django's own layout is still there when asked for by name
    assert str(form).count('class="field field-error') == 5


@pytest.mark.django_db
def test_a_staff_form_sent_back_has_the_error_summary_linking_to_each_box(client):
    client.force_login(factories.staff_user("staff"))
    response = client.post(reverse("staff:visit_new"), {"notes": ""})
    page = html.unescape(response.content.decode())
    assert "<title>Error: Record a video home visit – FiG Safety</title>" in page
    summary = page[
        page.index('<div class="error-summary"') : page.index("</div>", page.index('<div class="error-summary"'))
    ]
    assert 'role="alert"' in summary and "data-focus-on-load" in summary
    links = re.findall(r'<a href="#([^"]+)">([^<]+)</a>', summary)
    assert links[:3] == [
        ("id_family_reference", "Family reference: This field is required."),
        ("id_held_at", "When the visit took place: This field is required."),
        ("id_platform", "Platform: Choose the video platform the visit was held on."),
    ]
    # A tick box's message says what to do on its own; its label is a whole sentence.
    assert (
        "id_confidential_space",
        "The policy requires a confidential space. If you could not find one, report it as a breach instead.",
    ) in links
    assert all(f'id="{target}"' in page for target, _ in links)
    assert duplicate_ids(page) == [] and dangling_references(page) == []
