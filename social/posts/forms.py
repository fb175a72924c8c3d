"""Forms for the post queue: drafting, approving with the checklist, sending back, recording a channel
published by hand, sending again, withdrawing, and adding to the religious and political term lists."""

from __future__ import annotations

from datetime import timedelta

from django import forms
from django.utils import timezone

from social.models import Channel, PolicyTerm
from social.posts.checks import Finding
from social.posts.selectors import postable_photos
from social.posts.services import CHECKLIST
from social.posts.terms import TermError, clean_term

LOCAL_INPUT = "%Y-%m-%dT%H:%M"
MAX_TEXT = 5000


def _london_input(label: str, *, help_text: str, required: bool, missing: str = "") -> forms.DateTimeField:
    """A datetime-local box. Django reads the naive value on the site's clock, Europe/London."""
    return forms.DateTimeField(
        label=label,
        required=required,
        input_formats=[LOCAL_INPUT],
        help_text=help_text,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=LOCAL_INPUT),
        error_messages={
            "invalid": "Enter a date and a time, for example 14/06/2025 10:30.",
            **({"required": missing} if missing else {}),
        },
    )


class PostForm(forms.Form):
    text = forms.CharField(
        label="What the post says",
        max_length=MAX_TEXT,
        strip=True,
        widget=forms.Textarea(attrs={"rows": 9}),
        error_messages={"required": "Write the post.", "max_length": f"Keep the post under {MAX_TEXT:,} characters."},
    )
    channels = forms.MultipleChoiceField(
        label="Where it goes",
        choices=Channel.choices,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Choose at least one place for the post."},
    )
    scheduled_for = _london_input(
        "When to publish it (optional)",
        required=False,
        help_text="UK time. Leave empty to publish as soon as it is approved. If it is not approved by then, "
        "it comes back to you.",
    )
    # Rendered by hand in the template (thumbnails, and only the newest few offered); validated against
    # every photo that may be posted, by its public id so that no database id reaches the page.
    photos = forms.ModelMultipleChoiceField(
        queryset=None,
        required=False,
        to_field_name="public_id",
        widget=forms.CheckboxSelectMultiple,
        label="Photos",
        error_messages={
            "invalid_choice": "A chosen photo can no longer be used online: consent for it changed, or a parent or "
            "carer asked FiG not to use it. Choose again.",
            "invalid_pk_value": "Choose photos from the list.",
        },
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["photos"].queryset = postable_photos()

    def clean_scheduled_for(self):
        when = self.cleaned_data["scheduled_for"]
        if when is not None and when <= timezone.now():
            raise forms.ValidationError("Choose a time in the future.")
        return when


class ApproveForm(forms.Form):
    """The approver's checklist, and a written reason for each text check they dismiss.

    One reason box per dismissible finding, named after its check; the consent gate
    has none because it cannot be dismissed.
    """

    def __init__(self, *args, findings: list[Finding], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for key, label in CHECKLIST.items():
            self.fields[f"check_{key}"] = forms.BooleanField(
                label=label,
                required=True,
                error_messages={"required": f"Tick to confirm: {label}."},
            )
        self.reason_fields = []
        for finding in findings:
            if not finding.dismissible:
                continue
            name = f"reason_{finding.check}"
            self.fields[name] = forms.CharField(
                label=f"Why “{finding.title}” can be dismissed",
                max_length=2000,
                strip=True,
                widget=forms.Textarea(attrs={"rows": 2}),
                help_text="Your reason is kept with the post's history.",
                error_messages={"required": f"Give a reason for dismissing “{finding.title}”."},
            )
            self.reason_fields.append((finding, self[name]))

    def checklist_fields(self):
        return [self[f"check_{key}"] for key in CHECKLIST]

    @property
    def checklist(self) -> dict[str, bool]:
        return {key: bool(self.cleaned_data.get(f"check_{key}")) for key in CHECKLIST}

    @property
    def dismissals(self) -> dict[str, str]:
        return {
            finding.check: self.cleaned_data.get(f"reason_{finding.check}", "") for finding, _ in self.reason_fields
        }


class ChangesForm(forms.Form):
    note = forms.CharField(
        label="What needs to change",
        max_length=2000,
        strip=True,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="The author is emailed this note.",
        error_messages={"required": "Say what needs to change."},
    )


class RecordForm(forms.Form):
    """One channel published by hand: where it is, and when it went out. Prefixed with its channel, so that each
    channel's form on the post page has its own field ids."""

    url = forms.URLField(
        label="Link to the post on the platform",
        max_length=500,
        assume_scheme="https",
        help_text="Copy it from the platform once it is out, starting https://",
        error_messages={
            "required": "Paste the link to the post on the platform.",
            "invalid": "Enter the full link, starting https://",
            "max_length": "That link is too long: copy the post's own link, without anything added to it.",
        },
    )
    published_at = _london_input(
        "When it went out (optional)", required=False, help_text="UK time. Leave empty for now."
    )

    def clean_published_at(self):
        when = self.cleaned_data["published_at"]
        # A few minutes' grace for a clock that runs a little ahead of ours (as adapters.ManualAdapter).
        if when is not None and when > timezone.now() + timedelta(minutes=5):
            raise forms.ValidationError("The time it went out cannot be in the future.")
        return when


class ResendForm(forms.Form):
    """Sending again a channel whose earlier call may have gone out: only once someone has looked."""

    checked = forms.BooleanField(
        label="I have looked on the platform, and the post is not there",
        error_messages={"required": "Look on the platform first: if the post is there, record its link instead."},
    )


class WithdrawForm(forms.Form):
    reason = forms.CharField(
        label="Why (optional)",
        required=False,
        max_length=2000,
        strip=True,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Kept with the post's history.",
    )


class PolicyTermForm(forms.Form):
    category = forms.ChoiceField(
        label="Which list",
        choices=PolicyTerm.Category.choices,
        widget=forms.RadioSelect,
        error_messages={"required": "Choose the list: religious or political."},
    )
    term = forms.CharField(
        label="Word or phrase",
        max_length=200,
        strip=True,
        help_text="Posts are checked for it as whole words with their word forms, in any case: “pray” is found "
        "in “We are praying”, not in “spray”.",
        error_messages={"required": "Enter a word or a short phrase.", "max_length": "Keep it under 100 characters."},
    )
    kind = forms.ChoiceField(
        label="What it does",
        choices=[
            (PolicyTerm.Kind.TERM, "A term: found wherever it is"),
            (PolicyTerm.Kind.NEEDS_CONTEXT, "A term that needs context: found only near a context word or a term"),
            (PolicyTerm.Kind.CONTEXT, "A context word: never found on its own, makes a term that needs context count"),
            (PolicyTerm.Kind.EXCEPTION, "An exception: hides the terms inside it, where it is, such as “church hall”"),
        ],
        initial=PolicyTerm.Kind.TERM,
        required=False,  # a term, unless the administrator chooses otherwise
        widget=forms.RadioSelect,
    )

    def clean_term(self) -> str:
        try:
            return clean_term(self.cleaned_data["term"])
        except TermError as exc:
            raise forms.ValidationError(str(exc)) from None

    def clean_kind(self) -> str:
        return self.cleaned_data.get("kind") or PolicyTerm.Kind.TERM
