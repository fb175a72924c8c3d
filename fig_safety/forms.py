"""How every form is drawn: the fields look and read as they do on the parents' consent form."""

from __future__ import annotations

from django.forms.renderers import TemplatesSetting


class FormRenderer(TemplatesSetting):
    """Staff forms drawn like the parents' form: labels without "Label:" colons, the hint and the error above
    the box, radios and tick boxes as big choices. Found through TEMPLATES, so the project's templates win
    over Django's own (which come from the "django.forms" app)."""

    form_template_name = "includes/form_fields.html"
    field_template_name = "includes/field.html"
