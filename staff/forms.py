"""Forms for the staff app."""

from __future__ import annotations

from allauth.account.forms import ResetPasswordForm
from django import forms
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from staff.models import ApprovedPlatform, BreachReport, VirtualVisit
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

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("status") == BreachReport.Status.CLOSED and not (cleaned.get("outcome") or "").strip():
            self.add_error("outcome", "Write the outcome before closing the report.")
        return cleaned


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
