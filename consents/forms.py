"""Forms for consents. Each purpose is a yes/no radio pair with nothing pre-chosen."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.template.defaultfilters import filesizeformat
from django.utils import timezone

from consents.formtext import closing_problem
from consents.models import PURPOSES, Carer, Child, ConsentRecord, Purpose

YES_NO = [("yes", "Yes"), ("no", "No")]


class PurposeAnswersMixin:
    """Adds one required yes/no question per purpose, with no answer chosen in advance."""

    def add_purpose_fields(self, version=None) -> None:
        for purpose in PURPOSES:
            help_text = version.purpose_texts.get(purpose, "") if version else ""
            self.fields[f"purpose_{purpose}"] = forms.ChoiceField(
                label=Purpose(purpose).label,
                choices=YES_NO,
                widget=forms.RadioSelect,
                required=True,
                help_text=help_text,
                error_messages={"required": "Please choose yes or no."},
            )

    def purpose_answers(self) -> dict[str, bool]:
        return {p: self.cleaned_data[f"purpose_{p}"] == "yes" for p in PURPOSES}

    def purpose_fields(self):
        return [self[f"purpose_{p}"] for p in PURPOSES]


class SignForm(PurposeAnswersMixin, forms.Form):
    confirm_parental_responsibility = forms.BooleanField(
        label="I have parental responsibility for this child",
        required=True,
        error_messages={"required": "Only a parent or carer with parental responsibility can fill in this form."},
    )
    typed_name = forms.CharField(
        label="Type your full name",
        max_length=150,
        min_length=2,
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
        error_messages={
            "required": "Type your full name to sign the form.",
            "min_length": "Type your full name to sign the form.",
        },
        help_text="Typing your name is your signature.",
    )
    signature = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, version=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.add_purpose_fields(version)


class OfflineConsentForm(PurposeAnswersMixin, forms.Form):
    carer = forms.ModelChoiceField(queryset=Carer.objects.none(), label="Carer who gave consent")
    method = forms.ChoiceField(
        choices=[(ConsentRecord.Method.PAPER, "On a paper form"), (ConsentRecord.Method.PHONE, "By phone")],
        widget=forms.RadioSelect,
        label="How was consent given?",
    )
    taken_by = forms.CharField(label="Who took the consent", max_length=150)
    scan = forms.FileField(
        required=False,
        label="Scanned paper form (PDF, JPEG or PNG)",
        help_text=(
            "Required for a paper form. It is stored encrypted, without the location and other details a "
            "phone or scanner adds, and a PDF without its scripts, links or attached files."
        ),
    )
    note = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}), label="Note")

    def __init__(self, *args, child: Child, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["carer"].queryset = child.family.carers.filter(has_parental_responsibility=True)
        self.add_purpose_fields()

    def clean_scan(self):
        scan = self.cleaned_data.get("scan")
        if scan is None:
            return None
        if scan.size > settings.FIG_SCAN_MAX_BYTES:
            raise forms.ValidationError(
                f"The file is too large (the limit is {filesizeformat(settings.FIG_SCAN_MAX_BYTES)})."
            )
        head = scan.read(8)
        scan.seek(0)
        if head.startswith(b"%PDF"):
            kind = "application/pdf"
        elif head.startswith(b"\xff\xd8\xff"):
            kind = "image/jpeg"
        elif head.startswith(b"\x89PNG\r\n\x1a\n"):
            kind = "image/png"
        else:
            raise forms.ValidationError("Attach a PDF, JPEG or PNG file.")
        return (scan.read(), kind)

    def clean(self):
        cleaned = super().clean()
        if (
            cleaned.get("method") == ConsentRecord.Method.PAPER
            and not cleaned.get("scan")
            and "scan" not in self.errors
        ):
            self.add_error("scan", "Attach the scanned paper form.")
        return cleaned


class WithdrawForm(forms.Form):
    purposes = forms.MultipleChoiceField(
        choices=Purpose.choices,
        widget=forms.CheckboxSelectMultiple,
        label="What do you want to withdraw?",
        error_messages={"required": "Choose at least one thing to withdraw."},
    )
    reason = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}), label="Reason (optional)")


class StaffWithdrawForm(WithdrawForm):
    carer = forms.ModelChoiceField(queryset=Carer.objects.none(), label="Carer who withdrew")

    def __init__(self, *args, child: Child, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["carer"].queryset = child.family.carers.filter(has_parental_responsibility=True)
        self.fields["reason"].label = "What they said"


class ChildForm(forms.ModelForm):
    class Meta:
        model = Child
        fields = ["first_name", "last_name", "date_of_birth"]
        widgets = {"date_of_birth": forms.DateInput(attrs={"type": "date"})}

    def clean_date_of_birth(self):
        value = self.cleaned_data["date_of_birth"]
        if value > timezone.localdate():
            raise forms.ValidationError("The date of birth cannot be in the future.")
        return value


class CarerForm(forms.ModelForm):
    class Meta:
        model = Carer
        fields = ["full_name", "relationship", "email", "phone", "has_parental_responsibility"]


class FamilyForm(forms.Form):
    notes = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Practical notes for coordinators. Never shown to parents.",
    )


class FormVersionForm(forms.Form):
    introduction = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}))
    closing = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text="Must say, in the words the current version uses, that names and contact details are never "
        "published, how long photos are kept and how to withdraw. Add to them as you need.",
    )
    requires_reconsent = forms.BooleanField(
        required=False,
        label="This is a material change: consents on earlier versions stop counting",
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for purpose in PURPOSES:
            self.fields[f"text_{purpose}"] = forms.CharField(
                label=Purpose(purpose).label, widget=forms.Textarea(attrs={"rows": 2})
            )

    def clean_closing(self) -> str:
        closing = self.cleaned_data["closing"]
        if problem := closing_problem(closing):
            raise forms.ValidationError(problem)
        return closing

    def purpose_texts(self) -> dict[str, str]:
        return {p: self.cleaned_data[f"text_{p}"] for p in PURPOSES}


class RegisterFilterForm(forms.Form):
    family = forms.CharField(required=False, label="Family reference")
    purpose = forms.ChoiceField(required=False, choices=[("", "Any purpose"), *Purpose.choices])
    state = forms.ChoiceField(
        required=False,
        choices=[
            ("", "Any state"),
            ("given", "Consented"),
            ("refused", "Refused"),
            ("withdrawn", "Withdrawn"),
            ("expired", "Expired"),
            ("outdated", "Needs new form"),
            ("none", "No answer"),
            ("pending", "Request pending"),
        ],
    )
