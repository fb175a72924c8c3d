"""Forms for the staff app."""

from __future__ import annotations

from allauth.account.forms import ResetPasswordForm
from django import forms
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from staff.models import ApprovedPlatform, BreachContact, BreachReport, VirtualVisit
from staff.notifications import notify
from staff.roles import is_staff_member


class BreachReportForm(forms.ModelForm):
    class Meta:
        model = BreachReport
        fields = ["occurred_on", "where", "description", "people_involved"]
        widgets = {
            "occurred_on": forms.DateInput(attrs={"type": "date"}),
            "description": forms.Textarea(attrs={"rows": 6}),
            "people_involved": forms.Textarea(attrs={"rows": 2}),
        }

    def clean_occurred_on(self):
        value = self.cleaned_data["occurred_on"]
        if value > timezone.localdate():
            raise forms.ValidationError("The date cannot be in the future.")
        return value


class BreachOutcomeForm(forms.Form):
    status = forms.ChoiceField(choices=BreachReport.Status.choices)
    outcome = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), required=False)

    def __init__(self, *args, report: BreachReport | None = None, **kwargs):
        self.report = report
        super().__init__(*args, **kwargs)

    def clean(self):
        cleaned = super().clean()
        closing = cleaned.get("status") == BreachReport.Status.CLOSED
        if closing and not (cleaned.get("outcome") or "").strip():
            self.add_error("outcome", "Write the outcome before closing the report.")
        report = self.report
        if closing and report is not None and report.reportable_to_ico == BreachReport.Reportable.YES:
            if report.ico_reported_at is None:
                self.add_error(
                    "status", "The ICO must be told of this breach: record when they were told before closing it."
                )
        return cleaned


_LOCAL_MINUTE = "%Y-%m-%dT%H:%M"


def _not_in_future(value):
    if value is not None and value > timezone.now():
        raise forms.ValidationError("The time cannot be in the future.")
    return value


class BreachAssessmentForm(forms.Form):
    """The CEO's assessment of a report. Times are typed on London's clock."""

    severity = forms.ChoiceField(
        label="How serious is it?",
        choices=[(BreachReport.Severity.NOT_ASSESSED, "Not assessed yet")]
        + [
            (level.value, f"{level.label}: {BreachReport.SEVERITY_DESCRIPTIONS[level]}")
            for level in (BreachReport.Severity.LOW, BreachReport.Severity.MEDIUM, BreachReport.Severity.HIGH)
        ],
        widget=forms.RadioSelect,
        required=False,
    )
    child_data = forms.ChoiceField(
        label="Is personal data of a child involved?",
        choices=[("yes", "Yes"), ("no", "No"), ("unknown", "Not known yet")],
        widget=forms.RadioSelect,
        help_text="A child's photo, name, school, address or anything else that could identify them.",
        error_messages={"required": "Say whether personal data of a child is involved, or that you do not know yet."},
    )
    reportable_to_ico = forms.ChoiceField(
        label="Must the ICO be told?",
        choices=BreachReport.Reportable.choices,
        widget=forms.RadioSelect,
        help_text="A breach of personal data must be reported to the Information Commissioner's Office within 72 "
        "hours of FiG becoming aware of it, unless it is unlikely to put anyone's rights or freedoms at risk.",
        error_messages={"required": "Say whether the ICO must be told, or that you have not decided yet."},
    )
    reportable_reason = forms.CharField(
        label="Why",
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        max_length=2000,
        help_text="Needed for a yes or a no: the ICO expects FiG to record why, whichever it is.",
    )
    became_aware_at = forms.DateTimeField(
        label="When FiG became aware",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=_LOCAL_MINUTE),
        help_text="UK time. The ICO's 72 hours run from here.",
        error_messages={"required": "Enter when FiG became aware of the breach.", "invalid": "Enter a date and time."},
        validators=[_not_in_future],
    )

    def __init__(self, *args, report: BreachReport, **kwargs):
        self.report = report
        kwargs.setdefault(
            "initial",
            {
                "severity": report.severity,
                "child_data": {True: "yes", False: "no", None: "unknown"}[report.child_data_involved],
                "reportable_to_ico": report.reportable_to_ico,
                "reportable_reason": report.reportable_reason,
                "became_aware_at": timezone.localtime(report.became_aware_at).replace(second=0, microsecond=0),
            },
        )
        super().__init__(*args, **kwargs)

    def clean_became_aware_at(self):
        value = self.cleaned_data["became_aware_at"]
        # The box shows whole minutes: the same minute back is the time already held, not a change.
        if value == self.report.became_aware_at.replace(second=0, microsecond=0):
            return self.report.became_aware_at
        return value

    def clean(self):
        cleaned = super().clean()
        decided = cleaned.get("reportable_to_ico") in {BreachReport.Reportable.YES, BreachReport.Reportable.NO}
        if decided and not (cleaned.get("reportable_reason") or "").strip():
            self.add_error("reportable_reason", "Write why the ICO must, or need not, be told.")
        aware = cleaned.get("became_aware_at")
        if aware is not None and timezone.localtime(aware).date() < self.report.occurred_on:
            self.add_error("became_aware_at", "FiG cannot have become aware before the breach happened.")
        return cleaned

    def assessment(self) -> dict:
        data = self.cleaned_data
        return {
            "severity": data["severity"],
            "child_data_involved": {"yes": True, "no": False, "unknown": None}[data["child_data"]],
            "reportable_to_ico": data["reportable_to_ico"],
            "reportable_reason": data["reportable_reason"],
            "became_aware_at": data["became_aware_at"],
        }


class BreachIcoForm(forms.Form):
    reported_at = forms.DateTimeField(
        label="When the ICO was told",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=_LOCAL_MINUTE),
        help_text="UK time.",
        error_messages={"required": "Enter when the ICO was told.", "invalid": "Enter a date and time."},
        validators=[_not_in_future],
    )
    reference = forms.CharField(
        label="The ICO's reference",
        max_length=100,
        required=False,
        help_text="The case reference the ICO gave, if you have it yet.",
    )

    def __init__(self, *args, report: BreachReport, **kwargs):
        moment = report.ico_reported_at or timezone.now()
        kwargs.setdefault(
            "initial",
            {
                "reported_at": timezone.localtime(moment).replace(second=0, microsecond=0),
                "reference": report.ico_reference,
            },
        )
        super().__init__(*args, **kwargs)


class BreachPeopleForm(forms.Form):
    """Who else must be told: a tick for each, and the day they were told."""

    def __init__(self, *args, report: BreachReport, contacts: list[BreachContact], **kwargs):
        known = {contact.party: contact for contact in contacts}
        initial = {}
        for party in BreachContact.Party:
            initial[party.value] = party.value in known
            initial[f"{party.value}_told_on"] = known[party.value].told_on if party.value in known else None
        kwargs.setdefault("initial", initial)
        super().__init__(*args, **kwargs)
        for party in BreachContact.Party:
            self.fields[party.value] = forms.BooleanField(label=party.label, required=False)
            self.fields[f"{party.value}_told_on"] = forms.DateField(
                label="Told on",
                required=False,
                widget=forms.DateInput(attrs={"type": "date"}),
                error_messages={"invalid": "Enter a date."},
            )

    def rows(self):
        """(tick, told on) for each party, for the template."""
        return [(self[party.value], self[f"{party.value}_told_on"]) for party in BreachContact.Party]

    def clean(self):
        cleaned = super().clean()
        for party in BreachContact.Party:
            told_on = cleaned.get(f"{party.value}_told_on")
            if told_on and told_on > timezone.localdate():
                self.add_error(f"{party.value}_told_on", "The date cannot be in the future.")
            if told_on:
                cleaned[party.value] = True  # told, so they were to be told
        return cleaned

    def people(self) -> dict[str, object]:
        data = self.cleaned_data
        return {
            party.value: data.get(f"{party.value}_told_on") for party in BreachContact.Party if data.get(party.value)
        }


class BreachActionForm(forms.Form):
    what = forms.CharField(
        label="What was done",
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=2000,
        help_text="For example: rang the family; asked Facebook to remove the post; took advice from the LADO.",
        error_messages={"required": "Write what was done."},
    )
    at = forms.DateTimeField(
        label="When",
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=_LOCAL_MINUTE),
        help_text="UK time. Leave it empty for now.",
        error_messages={"invalid": "Enter a date and time, or leave it empty."},
        validators=[_not_in_future],
    )


class VirtualVisitForm(forms.ModelForm):
    platform = forms.ModelChoiceField(
        queryset=ApprovedPlatform.objects.filter(is_active=True),
        empty_label="Choose the platform",
        help_text="Only platforms the administrators have approved are listed.",
        error_messages={
            "required": "Choose the video platform the visit was held on.",
            "invalid_choice": "That platform is not on FiG's approved list. Hold visits only on an approved "
            "platform; if one was not used, report it as a breach instead.",
        },
    )
    confidential_space = forms.BooleanField(
        label="I was in a confidential space for the whole visit",
        required=True,
        error_messages={
            "required": "The policy requires a confidential space. If you could not find one, report it as a breach instead."
        },
    )
    not_overheard_or_interrupted = forms.BooleanField(
        label="I could not be overheard or interrupted",
        required=True,
        error_messages={
            "required": "The policy requires that you cannot be overheard or interrupted. If that was not possible, report it as a breach instead."
        },
    )
    guidance_given = forms.BooleanField(
        label="The family was given FiG's guidance on video visits",
        required=True,
        error_messages={"required": "Give the family the guidance (the link is below) before recording the visit."},
    )

    class Meta:
        model = VirtualVisit
        fields = [
            "family_reference",
            "held_at",
            "platform",
            "confidential_space",
            "not_overheard_or_interrupted",
            "guidance_given",
            "notes",
        ]
        widgets = {
            "held_at": forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
            "notes": forms.Textarea(attrs={"rows": 3}),
        }
        labels = {"held_at": "When the visit took place", "notes": "Notes (no names or personal details)"}

    def clean_family_reference(self):
        return self.cleaned_data["family_reference"].strip().upper()

    def clean_held_at(self):
        value = self.cleaned_data["held_at"]
        if value > timezone.now():
            raise forms.ValidationError("The visit cannot be in the future.")
        return value


class PolicyPublishForm(forms.Form):
    title = forms.CharField(max_length=200, initial="eSafety policy")
    text = forms.CharField(widget=forms.Textarea(attrs={"rows": 16}), label="Policy text")
    summary = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        label="What has changed",
        help_text="Shown to staff when they are asked to acknowledge the new version.",
    )


class StaffOnlyResetPasswordForm(ResetPasswordForm):
    """Password reset for staff only. Parents and carers sign in by emailed code and never
    hold a password, so a reset request for one gets an email saying how to sign in instead."""

    def clean_email(self) -> str:
        email = super().clean_email()
        self.parents = [user for user in self.users if not is_staff_member(user)]
        self.users = [user for user in self.users if is_staff_member(user)]
        return email

    def save(self, request, **kwargs) -> str:
        if self.parents and not self.users:
            email = self.cleaned_data["email"]
            notify(
                to=[email],
                subject="Signing in to FiG Safety",
                template="staff/email/parent_no_password.txt",
                context={"link": settings.FIG_SITE_URL + reverse("account_request_login_code")},
            )
            return email
        return super().save(request, **kwargs)
