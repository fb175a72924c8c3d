"""Forms for consents. Each purpose is a yes/no radio pair with nothing pre-chosen."""

from __future__ import annotations

from datetime import datetime, timedelta

from django import forms
from django.conf import settings
from django.template.defaultfilters import filesizeformat
from django.utils import timezone

from consents.formtext import closing_problem
from consents.models import PURPOSES, Carer, Child, ConsentRecord, Family, Purpose

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
        if not scan:  # none, or False: the file input's "clear" box sent without a file
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
    display_name = forms.CharField(
        label="Name",
        required=False,
        max_length=Family._meta.get_field("display_name").max_length,
        # Three letters at least: the erasure replaces the name wherever it appears in FiG's records.
        min_length=3,
        help_text="What staff call the family, for example: Demo family (Priya). Shown to staff beside the "
        "reference; never shown to parents.",
        error_messages={"min_length": "Give the family a name of at least 3 letters, or leave it empty."},
    )
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


class FamilySearchForm(forms.Form):
    """The text typed to find a family (consents.selectors_search.families_matching). A form field, so that
    text the database cannot take (a NUL) is refused, and the search is left out, rather than sent on."""

    q = forms.CharField(
        required=False,
        max_length=100,
        label="Find a family",
        help_text="Type part of the family's name or reference, or of a child's or carer's name.",
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false", "enterkeyhint": "search"}),
    )

    def text(self) -> str:
        """The words to search for; empty when there are none or they were refused."""
        return self.cleaned_data["q"] if self.is_bound and self.is_valid() else ""


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
    closed = forms.BooleanField(required=False, label="Show closed families")


class FamilyCloseForm(forms.Form):
    reason = forms.CharField(
        label="Why is FiG closing this family?",
        max_length=500,
        min_length=5,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="For example: the family has moved away. Kept in the audit trail; never shown to parents.",
        error_messages={
            "required": "Say why FiG is closing this family (a few words).",
            "min_length": "Say why FiG is closing this family (a few words).",
        },
    )


class ErasureRequestForm(forms.Form):
    """Who asked for the erasure, and when (UK time: a day and a time, as people say it)."""

    asked_by = forms.CharField(
        label="Who asked",
        max_length=150,
        min_length=3,
        help_text="In your words, for example: the mother, by phone.",
        error_messages={
            "required": "Say who asked (for example: the mother, by phone).",
            "min_length": "Say who asked (for example: the mother, by phone).",
        },
    )
    asked_on = forms.DateField(
        label="The day they asked",
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        error_messages={"required": "Give the day they asked.", "invalid": "Give the day they asked as a date."},
    )
    asked_time = forms.TimeField(
        label="The time they asked (UK time)",
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        error_messages={"required": "Give the time they asked.", "invalid": "Give the time they asked, like 14:30."},
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        now = timezone.localtime()
        self.fields["asked_on"].initial = now.date()
        self.fields["asked_time"].initial = now.time().replace(second=0, microsecond=0)

    def clean(self):
        cleaned = super().clean()
        day, time = cleaned.get("asked_on"), cleaned.get("asked_time")
        if day is not None and time is not None:
            asked_at = timezone.make_aware(datetime.combine(day, time))
            # The form shows minutes: "now" typed in is up to a minute ahead of the clock.
            if asked_at > timezone.now() + timedelta(minutes=1):
                self.add_error("asked_on", "When they asked cannot be in the future.")
            cleaned["asked_at"] = asked_at
        return cleaned


class ErasureCancelForm(forms.Form):
    reason = forms.CharField(
        label="Why will the erasure not go ahead?",
        max_length=500,
        min_length=5,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="For example: the mother rang to say she changed her mind; or a legal duty to keep the records.",
        error_messages={
            "required": "Say why the erasure will not go ahead.",
            "min_length": "Say why the erasure will not go ahead.",
        },
    )
