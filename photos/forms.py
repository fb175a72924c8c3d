"""Forms for the vault."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile

from consents.models import Child, Family
from photos.faces import FaceBox


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault(
            "widget",
            MultipleFileInput(attrs={"accept": "image/jpeg,image/png,image/webp,image/heic,image/heif,.heic,.heif"}),
        )
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        single = super().clean
        if isinstance(data, list | tuple):
            return [single(item, initial) for item in data]
        return [single(data, initial)] if data else []


class UploadForm(forms.Form):
    family = forms.ModelChoiceField(
        queryset=Family.objects.none(), empty_label="Choose the family", to_field_name="reference"
    )  # as the view looks it up, and as ?family=REF
    children = forms.ModelMultipleChoiceField(
        queryset=Child.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Children in the photos",
    )
    no_child_identifiable = forms.BooleanField(
        required=False,
        label="No child can be identified in these photos",
        help_text="Only tick this if no child's face or other identifying feature is visible. FiG Safety checks "
        "every photo for faces and refuses one in which it finds any.",
    )
    blur_faces = forms.BooleanField(
        required=False,
        label="Keep only a version with every face blurred",
        help_text="With “no child can be identified”: the photo as taken is never kept, only a copy in which "
        "FiG Safety has blurred every face it finds.",
    )
    files = MultipleFileField(label="Photos", required=True, error_messages={"required": "Choose at least one photo."})
    taken_at = forms.DateTimeField(
        required=False,
        label="When were they taken? (only if the camera's clock is wrong)",
        help_text="Leave this empty to use the date the camera recorded. What you give here is recorded with "
        "your name, and the photos are checked against the consent in force then.",
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%d/%m/%Y %H:%M"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        error_messages={"invalid": "Give the date and time the photos were taken, for example 3 June 2026 at 14:30."},
    )

    def __init__(self, *args, families, children=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["family"].queryset = families
        self.fields["children"].queryset = children if children is not None else Child.objects.none()

    def clean_files(self) -> list[UploadedFile]:
        # On the size the upload handler counted as the file arrived: nothing is read to find it out.
        files = self.cleaned_data["files"]
        limit = settings.FIG_PHOTO_MAX_BYTES
        too_big = [f for f in files if f.size > limit]
        if too_big:
            raise forms.ValidationError(
                [
                    f"{f.name[:100]} is {_megabytes(f.size)}, more than the {_megabytes(limit)} a photo may be. "
                    "Nothing was uploaded: choose the photos again without it."
                    for f in too_big
                ]
            )
        return files


def _megabytes(size: int) -> str:
    return f"{size / 1_000_000:.1f}".removesuffix(".0") + " MB"


class FaceBoxForm(forms.Form):
    """A face the detector missed, in the photo's own pixels: drawn on the photo (the script fills these in)
    or typed."""

    x = forms.IntegerField(min_value=0, label="From the left (pixels)")
    y = forms.IntegerField(min_value=0, label="From the top (pixels)")
    w = forms.IntegerField(min_value=4, label="Width (pixels)")
    h = forms.IntegerField(min_value=4, label="Height (pixels)")

    def __init__(self, *args, width: int, height: int, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.width, self.height = width, height
        self.fields["x"].max_value = self.fields["w"].max_value = width
        self.fields["y"].max_value = self.fields["h"].max_value = height

    def clean(self) -> dict:
        data = super().clean()
        if not self.errors and (data["x"] + data["w"] > self.width or data["y"] + data["h"] > self.height):
            raise forms.ValidationError("Draw the box inside the photo.")
        return data

    @property
    def box(self) -> FaceBox:
        data = self.cleaned_data
        return FaceBox(x=data["x"], y=data["y"], w=data["w"], h=data["h"], score=1.0)


class ConfirmUnidentifiableForm(forms.Form):
    confirmed = forms.TypedChoiceField(choices=[("yes", "yes"), ("no", "no")], coerce=lambda v: v == "yes")
    checked = forms.BooleanField(required=False, label="I checked: no child can be recognised in the blurred version")

    def clean(self) -> dict:
        data = super().clean()
        if data.get("confirmed") and not data.get("checked"):
            raise forms.ValidationError("Tick “I checked: no child can be recognised”.")
        return data


class RetagForm(forms.Form):
    children = forms.ModelMultipleChoiceField(
        queryset=Child.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Children in the photo",
    )
    no_child_identifiable = forms.BooleanField(required=False, label="No child can be identified in this photo")

    def __init__(self, *args, children, **kwargs) -> None:
        """`children`: those this person may tag in the photo (photos.views.retag_choices), with their
        families; each is named with their family's reference when they come from more than one family."""
        super().__init__(*args, **kwargs)
        self.fields["children"].queryset = children
        if len({child.family_id for child in children}) > 1:
            self.fields["children"].label_from_instance = lambda child: f"{child} ({child.family.reference})"


class KeepForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}), label="Lawful reason to keep this photo", min_length=10
    )


class DeleteNowForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        label="Why is this photo being deleted?",
        help_text="Recorded with your name in the audit trail.",
        min_length=10,
        max_length=1000,
        error_messages={
            "required": "Say why this photo is being deleted.",
            "min_length": "Say why this photo is being deleted, in a few words at least.",
        },
    )


class GalleryFilterForm(forms.Form):
    family = forms.CharField(
        required=False,
        max_length=100,
        label="Family",
        help_text="Type part of the family's name or reference, or of a child's or carer's name.",
    )
    child = forms.TypedChoiceField(
        required=False,
        label="Child",
        coerce=int,
        empty_value=None,
        error_messages={"invalid_choice": "Choose a child from the list."},
    )
    taken_from = forms.DateField(required=False, label="From", widget=forms.DateInput(attrs={"type": "date"}))
    taken_to = forms.DateField(required=False, label="To", widget=forms.DateInput(attrs={"type": "date"}))
    use = forms.ChoiceField(required=False, label="May be used for")

    def __init__(self, *args, children: list[Child] | None, **kwargs) -> None:
        """`children`: those the child filter offers (children_in_gallery), grouped by family unless
        they are all of one family that the family filter chose; None when there are too many to list,
        and the filter asks for a family first."""
        from consents.models import Purpose

        super().__init__(*args, **kwargs)
        self.fields["use"].choices = [("", "Any use"), *Purpose.choices]
        if children is None:
            self.fields["child"].choices = [("", "Any child")]
            self.fields["child"].help_text = "Give a family reference first to choose one of its children."
            self.fields["child"].widget.attrs["aria-describedby"] = "id_child-hint"
            return
        family_chosen = bool(self.data.get("family", "").strip())
        by_family: dict[str, list[tuple[int, str]]] = {}
        for child in children:
            by_family.setdefault(child.family.reference, []).append((child.pk, str(child)))
        if family_chosen and len(by_family) <= 1:
            options = [option for group in by_family.values() for option in group]
        else:
            options = [(f"Family {reference}", group) for reference, group in by_family.items()]
        self.fields["child"].choices = [("", "Any child"), *options]
