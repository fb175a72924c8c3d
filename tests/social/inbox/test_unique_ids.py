"""The conversation page and the takedowns page hold several forms at once: each form's boxes have ids of their
own, so every label, hint and error points at the right box (two forms with a "reason" once shared one id, and
a reason typed for closing a message could land in the takedown box).

Persona: a social media administrator, who sees every form.
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from social.inbox import services
from social.models import Conversation, Platform, Takedown
from tests import factories
from tests.consents.factories import FamilyFactory
from tests.html_ids import dangling_references, duplicate_ids

pytestmark = pytest.mark.django_db


@pytest.fixture
def social_admin(client):
    admin = factories.staff_user("social_admin", email="sol@example.org", full_name="Sol Admin")
    client.force_login(admin)
    return admin


def _comment(text: str, **fields) -> Conversation:
    """A Facebook comment that names a family, so the page offers a takedown as well as everything else."""
    family = FamilyFactory()
    conversation = factories.make_conversation(
        text, platform=Platform.FACEBOOK, kind=Conversation.Kind.COMMENT, urgent=True, **fields
    )
    conversation.flagged_families.set([family])
    return conversation


def _assert_ids_are_sound(html: str) -> None:
    assert duplicate_ids(html) == []
    assert dangling_references(html) == []


def test_it_gives_each_form_on_the_conversation_page_its_own_ids(client, social_admin, settings):
    settings.FIG_META_PAGE_TOKEN = "page-token"  # so the reply form is offered too
    settings.FIG_META_PAGE_ID = "1234"
    conversation = _comment(
        "Lovely to see Ava Demo at the picnic!",
        platform_id="1234_5678",
        thread="comments:1234:psid-1",
        sender_id="psid-1",
    )
    page = client.get(reverse("social:message", args=[conversation.pk])).content.decode()
    for box in ("reply_text", "respond_text", "note_text", "pass_note", "close_reason", "takedown_reason"):
        assert f'id="{box}"' in page
    _assert_ids_are_sound(page)


@pytest.mark.parametrize("action", ["social:close", "social:takedown_open", "social:note", "social:respond"])
def test_a_form_sent_back_with_its_error_keeps_the_ids_unique(client, social_admin, action):
    conversation = _comment("Lovely to see Ava Demo at the picnic!")
    response = client.post(reverse(action, args=[conversation.pk]), {})
    assert response.status_code == 400
    page = response.content.decode()
    assert 'class="error-message"' in page
    _assert_ids_are_sound(page)


def test_it_gives_each_removal_form_on_the_takedowns_page_its_own_ids(client, social_admin):
    first, second = (
        services.takedown_open(message=_comment(text), reason="Names a child", by=social_admin)[0]
        for text in ("Ava Demo at the picnic", "Ava Demo again")
    )
    page = client.get(reverse("social:takedowns")).content.decode()
    assert page.count("Record the removal") == 2
    for takedown in (first, second):
        assert f'id="removal-{takedown.pk}-how_0"' in page and f'id="removal-{takedown.pk}-notes"' in page
    _assert_ids_are_sound(page)

    # One sent back without saying how: its error is shown, the ids stay its own, and nothing is removed.
    response = client.post(reverse("social:takedown_remove", args=[second.pk]), {"notes": "Gone"})
    assert response.status_code == 400
    page = response.content.decode()
    assert f'id="removal-{second.pk}-how_error"' in page
    _assert_ids_are_sound(page)
    assert not Takedown.objects.filter(status=Takedown.Status.REMOVED).exists()
