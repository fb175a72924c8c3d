"""Forms for the vault."""

from __future__ import annotations

from django import forms

from consents.models import Child, Family


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": "image/jpeg,image/png,image/webp,image/heic,image/heif,.heic,.heif"}))
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        single = super().clean
        if isinstance(data, list | tuple):
            return [single(item, initial) for item in data]
        return [single(data, initial)] if data else []


class UploadForm(forms.Form):
    family = forms.ModelChoiceField(queryset=Family.objects.none(), empty_label="Choose the family",
                                    to_field_name="reference")  # as the view looks it up, and as ?family=REF
    children = forms.ModelMultipleChoiceField(
        queryset=Child.objects.none(), required=False, widget=forms.CheckboxSelectMultiple,
        label="Children in the photos",
    )
    no_child_identifiable = forms.BooleanField(
        required=False, label="No child can be identified in these photos",
        help_text="Only tick this if no child's face or other identifying feature is visible.",
    )
    files = MultipleFileField(label="Photos", required=True, error_messages={"required": "Choose at least one photo."})

    def __init__(self, *args, families, children=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["family"].queryset = families
        self.fields["children"].queryset = children if children is not None else Child.objects.none()


class RetagForm(forms.Form):
    children = forms.ModelMultipleChoiceField(
        queryset=Child.objects.none(), required=False, widget=forms.CheckboxSelectMultiple, label="Children in the photo"
    )
    no_child_identifiable = forms.BooleanField(required=False, label="No child can be identified in this photo")

    def __init__(self, *args, family: Family, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["children"].queryset = family.children.all()


class KeepForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), label="Lawful reason to keep this photo",
                             min_length=10)


class GalleryFilterForm(forms.Form):
    family = forms.CharField(required=False, label="Family reference")
    child = forms.IntegerField(required=False, widget=forms.HiddenInput)
    taken_from = forms.DateField(required=False, label="From", widget=forms.DateInput(attrs={"type": "date"}))
    taken_to = forms.DateField(required=False, label="To", widget=forms.DateInput(attrs={"type": "date"}))
    use = forms.ChoiceField(required=False, label="May be used for")

    def __init__(self, *args, **kwargs) -> None:
        from consents.models import Purpose

        super().__init__(*args, **kwargs)
        self.fields["use"].choices = [("", "Any use"), *Purpose.choices]
