"""Answering in place, in the browser: a social media administrator opens a Messenger conversation of three
messages, inserts a saved reply (with the person's first name filled in), sends it through the Graph API
(the fake on loopback records the Send API call), and sees the reply in the thread and the deadline cleared.
axe-core on the conversation page before and after, and on the saved replies page.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from social.inbox import services
from social.inbox.meta import Event
from social.models import Conversation, Message, SavedReply
from tests import factories
from tests.browser import journeys
from tests.conftest import assert_accessible
from tests.social.fake_graph import page_graph

pytestmark = pytest.mark.browser


def _from_jo(mid: str, text: str, ago: timedelta) -> None:
    services.event_ingest(
        Event(
            platform="messenger",
            kind="message",
            action="add",
            platform_id=mid,
            person_id="psid-jo",
            person_name="Jo Bloggs",
            text=text,
            at=timezone.now() - ago,
        )
    )


def test_an_administrator_answers_a_conversation_with_a_saved_reply(desktop_page, live_server, settings):
    factories.PolicyVersionFactory()
    admin = factories.staff_user("social_admin", email="sol@example.org", full_name="Sol Admin")
    SavedReply.objects.create(
        title="Family day dates",
        text="Hi {first_name}, our next family day is on Saturday at 10am. Thank you for asking!",
        created_by=admin,
    )
    _from_jo("m1", "Hello, is there a family day this month?", timedelta(hours=5))
    _from_jo("m2", "We went to the last one and loved it.", timedelta(hours=4))
    _from_jo("m3", "Sorry, one more thing: can grandparents come too?", timedelta(hours=3))
    Message.objects.update(flagged_at=timezone.now())  # checked for names already
    conversation = Conversation.objects.get()
    assert conversation.status == Conversation.Status.OPEN

    with page_graph(settings) as fake:
        page = desktop_page
        console = journeys.watch_console(page)
        journeys.staff_sign_in(page, admin)
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Social inbox").click()
        page.get_by_role("link", name=re.compile("can grandparents come too")).click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Private message from Jo Bloggs")
        thread = page.locator("#thread")
        for text in ("is there a family day", "loved it", "can grandparents come too"):
            expect(thread).to_contain_text(text)
        expect(page.locator(".deadline")).to_contain_text("Reply due by")
        assert_accessible(page)

        page.get_by_label("Saved reply").select_option(label="Family day dates")
        page.get_by_role("button", name="Insert").click()
        reply_box = page.locator("#reply_text")
        expect(reply_box).to_have_value(re.compile(r"Hi Jo, our next family day is on Saturday"))
        reply_box.press("End")
        reply_box.type(" Grandparents are very welcome.")
        page.get_by_role("button", name="Send the reply").click()
        expect(page.get_by_role("status").first).to_contain_text("Your reply is being sent")

        # The Send API was called once, as a response, to Jo.
        [sent] = [r for r in fake.requests if r.endpoint == "messages"]
        assert json.loads(sent.fields["recipient"]) == {"id": "psid-jo"}
        assert json.loads(sent.fields["message"])["text"] == (
            "Hi Jo, our next family day is on Saturday at 10am. Thank you for asking! Grandparents are very welcome."
        )
        assert sent.fields["messaging_type"] == "RESPONSE" and fake.problems == []

        page.reload()
        expect(thread).to_contain_text("Grandparents are very welcome.")
        expect(thread).to_contain_text("Sent")
        expect(page.locator(".deadline")).to_contain_text("Answered on")
        assert_accessible(page)
        conversation.refresh_from_db()
        assert conversation.status == Conversation.Status.ANSWERED and conversation.responded_by == admin

        page.get_by_role("navigation", name="Social media").get_by_role("link", name="Saved replies").click()
        expect(page.get_by_role("heading", level=1)).to_contain_text("Saved replies")
        assert_accessible(page)
        assert journeys.csp_violations(console) == []
