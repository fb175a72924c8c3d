"""axe-core finds no problem, and no id is used twice, on the pages people use to sign in and start and on the
staff pages with the most on them; the wide staff pages stay inside a phone's screen and the header on one line
on a laptop.

axe is injected with Playwright's page.evaluate, which runs outside the page's
Content-Security-Policy, so these run against the real CSP (no bypass_csp).
Forms are checked with their error messages showing, too.
"""

from __future__ import annotations

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from social.inbox import services as inbox
from social.models import Conversation, PolicyTerm
from social.posts import channels
from social.posts import services as posts
from tests import factories
from tests.browser import journeys
from tests.conftest import assert_accessible
from tests.consents import factories as consent_factories

pytestmark = pytest.mark.browser


def _heading(page):
    return page.get_by_role("heading", level=1)


def test_public_and_parent_pages(viewport_page, mailoutbox):
    page = viewport_page
    parent = factories.parent_user(email="pat@example.org", full_name="Pat Mensah")

    page.goto("/")
    assert_accessible(page)  # landing page
    page.goto("/staff/visits/guidance/")
    assert_accessible(page)  # public guidance for families

    journeys.request_login_code(page, parent.email)
    assert_accessible(page)  # enter the code
    page.get_by_label("Sign-in code").fill("BCDF-GHJK")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text("Incorrect code")).to_be_visible()
    assert_accessible(page)  # enter the code, with an error

    journeys.enter_login_code(page, journeys.login_code_from(mailoutbox[-1]))
    expect(_heading(page)).to_have_text("Hello, Pat Mensah")
    assert_accessible(page)  # parent home
    page.goto("/accounts/sessions/")
    expect(_heading(page)).to_have_text("Where you are signed in")
    assert_accessible(page)  # sessions, as a parent


def test_request_code_page(viewport_page):
    page = viewport_page
    page.goto("/accounts/login/code/")
    assert_accessible(page)
    page.get_by_label("Email address").fill("not an email address")
    page.get_by_role("button", name="Email me a code").click()
    expect(page.get_by_text("Enter a valid email address")).to_be_visible()
    assert_accessible(page)


def test_staff_sign_in_policy_and_home_pages(viewport_page):
    page = viewport_page
    factories.PolicyVersionFactory()
    user = factories.staff_user("staff", acknowledged=False, email="ola@example.org", full_name="Ola Berg")

    page.goto("/accounts/login/")
    assert_accessible(page)  # sign-in
    page.get_by_label("Email address").fill(user.email)
    page.get_by_label("Password", exact=True).fill("not-the-password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_be_visible()
    assert_accessible(page)  # sign-in, with an error

    journeys.staff_password_step(page, user)
    expect(_heading(page)).to_have_text("Enter your authenticator code")
    assert_accessible(page)  # MFA authenticate
    page.get_by_label("Authenticator code").fill("000000")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_text("Incorrect code")).to_be_visible()
    assert_accessible(page)  # MFA authenticate, with an error

    journeys.enter_authenticator_code(page, user.totp_secret)
    expect(_heading(page)).to_contain_text("eSafety policy")
    assert_accessible(page)  # policy acknowledgement
    page.get_by_role("checkbox").check()
    page.get_by_role("button", name="Acknowledge").click()
    expect(_heading(page)).to_have_text("Hello, Ola")
    assert_accessible(page)  # staff home

    page.goto("/accounts/sessions/")
    assert_accessible(page)  # sessions
    page.goto("/accounts/2fa/")
    assert_accessible(page)  # two-step sign-in settings


def test_authenticator_set_up_pages(viewport_page):
    page = viewport_page
    user = factories.staff_user("photographer", mfa=False, email="nia@example.org", full_name="Nia Evans")

    journeys.staff_password_step(page, user)
    if "/accounts/reauthenticate/" in page.url:
        assert_accessible(page)  # confirm it is you
        journeys.reauthenticate_if_asked(page)
    expect(_heading(page)).to_have_text("Set up two-step sign-in")
    assert_accessible(page)  # TOTP activation
    page.get_by_label("Authenticator code").fill("000000")
    page.get_by_role("button", name="Turn on two-step sign-in").click()
    expect(page.get_by_text("Incorrect code")).to_be_visible()
    assert_accessible(page)  # TOTP activation, with an error

    secret = journeys.activation_secret(page)
    page.get_by_label("Authenticator code").fill(journeys.current_totp_code(secret))
    page.get_by_role("button", name="Turn on two-step sign-in").click()
    expect(_heading(page)).to_have_text("Your recovery codes")
    assert_accessible(page)  # recovery codes


def test_ceo_home(desktop_page):
    page = desktop_page
    factories.PolicyVersionFactory()
    factories.staff_user("staff", acknowledged=False)  # so the register has someone outstanding
    ceo = factories.staff_user("ceo", email="ceo@example.org", full_name="Cat Adeyemi")

    journeys.staff_sign_in(page, ceo)
    expect(_heading(page)).to_have_text("Hello, Cat")
    expect(page.get_by_role("heading", name="Policy acknowledgements")).to_be_visible()
    assert_accessible(page)


def test_social_term_lists_and_post_takedowns(viewport_page):
    """The religious and political term lists, with an error and after a change; a published post's takedown."""
    page = viewport_page
    factories.PolicyVersionFactory()
    # The default lists come from a data migration, which a live-server test's flush may already have emptied.
    PolicyTerm.objects.get_or_create(category="religious", term="pray")
    admin = factories.staff_user("social_admin", email="sol@example.org", full_name="Sol Admin")
    author = factories.staff_user("staff", email="ola@example.org", full_name="Ola Berg")

    journeys.staff_sign_in(page, admin)
    page.get_by_role("link", name="Religious and political terms").click()
    expect(_heading(page)).to_have_text("Religious and political terms")
    assert_accessible(page)  # the lists, with the add form
    page.get_by_role("radio", name="Political").check()
    page.get_by_label("Word or phrase").fill("pray")
    page.get_by_role("button", name="Add the term").click()
    expect(page.get_by_role("alert")).to_contain_text("“pray” is already on the religious list.")
    assert_accessible(page)  # with an error
    page.get_by_label("Word or phrase").fill("council tax")
    page.get_by_role("button", name="Add the term").click()
    expect(page.get_by_text("“council tax” is added to the political list.")).to_be_visible()
    page.get_by_role("button", name="Switch off “council tax”").click()
    expect(page.get_by_role("button", name="Switch on “council tax” again")).to_be_visible()
    assert_accessible(page)  # after a change, with a term switched off

    post = posts.post_save_draft(
        author=author,
        text="Thank you to everyone who came to the picnic!",
        channels=["facebook", "website"],
        scheduled_for=None,
        photos=[],
    )
    posts.post_submit(post=post, by=author)
    posts.post_approve(post=post, by=admin, checklist=dict.fromkeys(posts.CHECKLIST, True), dismissals={})
    # Published by hand on each channel (nothing is configured to send it), then withdrawn: a takedown opens.
    facebook, website = post.deliveries.order_by("channel")
    channels.delivery_record(delivery=facebook, url="https://www.facebook.com/figcharity/posts/1", by=admin)
    channels.delivery_record(delivery=website, url="https://www.fig.example.org/news/picnic", by=admin)
    posts.post_withdraw(post=post, by=admin, reason="Wrong date.")
    page.goto("/social/takedowns/")
    expect(page.get_by_role("heading", name=f"Published post {post.pk}")).to_be_visible()
    expect(page.get_by_role("button", name="Removed from FiG website")).to_be_visible()
    assert_accessible(page)  # a takedown for a published post, channel by channel


def _coordinator_and_social_admin():
    """Someone with the longest menu: a coordinator who is also a social media administrator, with a family
    whose child has a signed consent, a message and a comment waiting in the inbox, and two open takedowns."""
    factories.PolicyVersionFactory()
    user = factories.staff_user("coordinator", "social_admin", email="cam@example.org", full_name="Cam Reid")
    family, child, (pat, sam) = consent_factories.family_with_child(user, carers=2)
    consent_factories.ChildFactory(family=family, first_name="Bea", last_name="Longname-Somebody")
    consent_factories.give(child, pat)
    signed = consent_factories.sign(consent_factories.request_for(child, sam))
    factories.make_conversation("When is the next family day?", sender_name="Jo Public")
    factories.make_conversation("Lovely to see Ava!", platform="facebook", kind=Conversation.Kind.COMMENT)
    for text in ("Ava at the picnic", "Ava again"):
        flagged = factories.make_conversation(text, platform="facebook", kind=Conversation.Kind.COMMENT)
        inbox.takedown_open(message=flagged, reason="Names a child", by=user)
    return user, family, child, signed


def test_wide_staff_pages_fit_a_phone(phone_page):
    """The register, the family and the child's history stay inside a 390px screen (the hidden column names
    once pushed the page to 943px); the inbox shows each message's time left without scrolling sideways."""
    page = phone_page
    user, family, child, signed = _coordinator_and_social_admin()
    journeys.staff_sign_in(page, user)

    for path in (
        reverse("consents:register"),
        reverse("consents:family_detail", args=[family.reference]),
        reverse("consents:child_history", args=[family.reference, child.pk]),
        reverse("consents:certificate", args=[signed.pk]),  # its text shown scrolls, and can be reached by keyboard
    ):
        page.goto(path)
        assert page.evaluate("document.documentElement.scrollWidth") == page.evaluate("window.innerWidth") == 390
        assert_accessible(page)

    page.goto(reverse("social:inbox"))
    time_left = page.locator("tr", has_text="Jo Public").locator("td[data-label='Time left']")
    expect(time_left).to_contain_text("days left")
    box = time_left.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390
    journeys.assert_fits_width(page)
    assert_accessible(page)


def test_inbox_pages_with_many_forms_and_landmarks(desktop_page):
    """The conversation page (every form at once), the takedowns page (a removal form for each) and the
    response dashboard (two tables, each in its own scrolling region)."""
    page = desktop_page
    user, *_ = _coordinator_and_social_admin()
    journeys.staff_sign_in(page, user)
    page.goto(reverse("social:takedowns"))
    expect(page.get_by_role("button", name="Record the removal")).to_have_count(2)
    assert_accessible(page)
    page.goto(reverse("social:inbox"))
    page.get_by_role("link", name="Lovely to see Ava!").click()
    expect(page.get_by_label("Why it must come down")).to_be_visible()
    assert_accessible(page)
    # Closed without a reason: the close form says so, and the takedown box beside it is left alone.
    page.get_by_text("It needs no reply", exact=True).click()
    page.get_by_role("button", name="Close: no reply needed").click()
    expect(page.get_by_label("Why it needs no reply")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Why it must come down")).not_to_have_attribute("aria-invalid", "true")
    assert_accessible(page)
    page.goto(reverse("social:dashboard"))
    assert_accessible(page)


@pytest.mark.parametrize("width", [1280, 1366])
def test_the_header_fits_one_line_on_a_laptop(desktop_page, width):
    """The longest staff menu sits beside the brand on one line."""
    page = desktop_page
    page.set_viewport_size({"width": width, "height": 900})
    user, *_ = _coordinator_and_social_admin()
    journeys.staff_sign_in(page, user)
    expect(page.get_by_role("navigation", name="Main").get_by_role("listitem")).to_have_count(11)
    middles = page.evaluate(
        """() => [".brand", ...[...document.querySelectorAll(".nav-list > li")].map((_, i) => `.nav-list > li:nth-child(${i + 1})`)]
        .map(selector => { const box = document.querySelector(selector).getBoundingClientRect(); return box.top + box.height / 2; })"""
    )
    assert max(middles) - min(middles) < 2, middles
