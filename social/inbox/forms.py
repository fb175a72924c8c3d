"""Forms for the inbox: adding a message received another way, the message page's actions, removals."""

from __future__ import annotations

from datetime import timedelta

from django import forms
from django.utils import timezone

from social.inbox.selectors import social_administrators, staff_to_pass_to
from social.models import Conversation, Platform, Takedown
from staff.models import User

# Messages from Meta arrive through the webhook; these are the ways FiG hears of the rest.
OTHER_PLATFORMS = [(p.value, p.label) for p in (Platform.X, Platform.EMAIL, Platform.PHONE, Platform.OTHER)]
LOCAL_INPUT = "%Y-%m-%dT%H:%M"


def _text(label: str, *, rows: int = 4, help_text: str = "", missing: str = "") -> forms.CharField:
    """A text box; required when `missing` says what to write."""
    return forms.CharField(
        label=label,
        required=bool(missing),
        help_text=help_text,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": rows}),
        error_messages={"required": missing} if missing else {},
    )


class ManualMessageForm(forms.Form):
    platform = forms.ChoiceField(label="Where it came in", choices=OTHER_PLATFORMS, widget=forms.RadioSelect)
    kind = forms.ChoiceField(
        label="Was it private or public?",
        choices=Conversation.Kind.choices,
        initial=Conversation.Kind.MESSAGE,
        widget=forms.RadioSelect,
    )
    sender_name = forms.CharField(
        label="Who sent it",
        max_length=200,
        required=False,
        help_text="A name, handle, email address or phone number, if known.",
    )
    text = _text(
        "What they said",
        rows=6,
        help_text="Copy the message, or write down what was said on the phone.",
        missing="Write what the message said.",
    )
    received_at = forms.DateTimeField(
        label="When it was received",
        input_formats=[LOCAL_INPUT],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=LOCAL_INPUT),
        help_text="UK time. The one-week deadline runs from this moment.",
        error_messages={
            "required": "Say when the message was received.",
            "invalid": "Enter the date and time it was received.",
        },
    )

    def clean_received_at(self):
        received_at = self.cleaned_data["received_at"]
        if received_at > timezone.now() + timedelta(minutes=5):
            raise forms.ValidationError("The time received cannot be in the future.")
        return received_at


class AssignForm(forms.Form):
    assignee = forms.ModelChoiceField(
        queryset=User.objects.none(),
        required=False,
        label="Assign to",
        empty_label="Nobody (unassign)",
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = social_administrators()


class PassOnForm(forms.Form):
    to = forms.ModelChoiceField(
        queryset=User.objects.none(),
        label="Member of staff",
        empty_label="Choose who",
        error_messages={"required": "Choose who to pass it on to."},
    )
    note = _text(
        "Note for them",
        rows=3,
        help_text="What you need from them, and by when.",
        missing="Add a note saying what you need from them.",
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["to"].queryset = staff_to_pass_to()


class RespondForm(forms.Form):
    text = _text("What FiG replied", rows=4, missing="Write what FiG replied.")
    link = forms.URLField(
        label="Link to the reply (optional)",
        required=False,
        max_length=500,
        assume_scheme="https",
        help_text="Where the reply can be seen, if it is online.",
        error_messages={"invalid": "Enter a full web address, starting https://"},
    )


class CloseForm(forms.Form):
    reason = _text(
        "Why it needs no reply",
        rows=3,
        help_text="For example: spam, or a thank-you that needs no answer.",
        missing="Say why this message needs no reply.",
    )


class TakedownForm(forms.Form):
    reason = _text(
        "Why it must come down",
        rows=3,
        help_text="For example: it names a child whose family did not agree to be identifiable.",
        missing="Say why it must come down.",
    )


class RemovalForm(forms.Form):
    how = forms.ChoiceField(
        label="How was it removed?",
        choices=(),
        widget=forms.RadioSelect,
        error_messages={"required": "Choose how it was removed."},
    )
    notes = _text("Notes (optional)", rows=2)

    def __init__(self, *args, graph_allowed: bool, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        choices = [(Takedown.How.BY_HAND.value, "I removed it by hand on the platform")]
        if graph_allowed:
            choices = [
                (Takedown.How.HIDDEN.value, "Hide it now through Meta (only the person who wrote it still sees it)"),
                (Takedown.How.DELETED.value, "Delete it now through Meta"),
                *choices,
            ]
        self.fields["how"].choices = choices
        if len(choices) == 1:
            self.fields["how"].initial = choices[0][0]
