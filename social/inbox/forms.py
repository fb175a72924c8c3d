"""Forms for the inbox: adding a message received another way, the conversation page's actions (replying,
notes, recording a reply made elsewhere), removals, and the saved replies."""

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


class _OwnIds(forms.Form):
    """The conversation page holds several forms with a "text" or a "reason": each form's ids are its own."""

    id_prefix = ""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("auto_id", f"{self.id_prefix}_%s")
        super().__init__(*args, **kwargs)


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


class PassOnForm(_OwnIds):
    id_prefix = "pass"
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


class RespondForm(_OwnIds):
    id_prefix = "respond"
    text = _text("What FiG replied", rows=4, missing="Write what FiG replied.")
    link = forms.URLField(
        label="Link to the reply (optional)",
        required=False,
        max_length=500,
        assume_scheme="https",
        help_text="Where the reply can be seen, if it is online.",
        error_messages={"invalid": "Enter a full web address, starting https://"},
    )


class CloseForm(_OwnIds):
    id_prefix = "close"
    reason = _text(
        "Why it needs no reply",
        rows=3,
        help_text="For example: spam, or a thank-you that needs no answer.",
        missing="Say why this message needs no reply.",
    )


class TakedownForm(_OwnIds):
    id_prefix = "takedown"
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

    def __init__(self, *args, graph_allowed: bool, takedown: Takedown, **kwargs) -> None:
        # The takedowns page holds one of these for each open takedown: each gets ids of its own.
        kwargs.setdefault("auto_id", f"removal-{takedown.pk}-%s")
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


class ReplyForm(_OwnIds):
    """A reply sent from here: the ways Meta allows now (social.inbox.replies.reply_options), the text, and,
    when the checks found a name or contact details, the writer's word that it names only the person written to.
    The saved-reply picker beside it is drawn by the template (each option carries its text for the script)."""

    id_prefix = "reply"
    send_as = forms.ChoiceField(
        label="How to send it",
        choices=(),
        widget=forms.RadioSelect,
        error_messages={"required": "Choose how to send it.", "invalid_choice": "Choose how to send it."},
    )
    text = forms.CharField(
        label="Your reply",
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 6, "data-reply-text": ""}),
        error_messages={
            "required": "Write the reply.",
            "max_length": "Meta takes replies of up to 2,000 characters: make it shorter.",
        },
    )

    def __init__(self, *args, ways: list[tuple[str, str]], names_check: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["send_as"]
        field.choices = ways
        if len(ways) == 1:
            field.widget = forms.HiddenInput()
            field.initial = ways[0][0]
        if names_check:
            self.fields["names_checked"] = forms.BooleanField(
                label="I have checked it: it names only the person I am writing to",
                required=False,
                help_text="Tick this for a private message only. A public reply must not name anyone.",
            )


class NoteForm(_OwnIds):
    id_prefix = "note"
    text = _text(
        "Note",
        rows=3,
        help_text="Seen by FiG's staff only; never sent.",
        missing="Write the note.",
    )


class SavedReplyForm(forms.Form):
    title = forms.CharField(
        label="Title",
        max_length=100,
        help_text="What staff choose from the list, such as “Opening times”.",
        error_messages={
            "required": "Give the saved reply a title.",
            "max_length": "Keep the title under 100 characters.",
        },
    )
    text = forms.CharField(
        label="Reply",
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text=(
            "Write {first_name} where the person’s first name should go: it becomes their first name as "
            "Facebook or Instagram gave it, or “there” when it gave none (“Hello {first_name},” becomes "
            "“Hello Sam,” or “Hello there,”)."
        ),
        error_messages={
            "required": "Write the reply.",
            "max_length": "Meta takes replies of up to 2,000 characters: make it shorter.",
        },
    )
