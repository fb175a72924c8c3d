"""Photo consent in the browser: a parent signs on a phone from the emailed link, later
withdraws one purpose from the confirmation email's link in no more taps than signing took;
double submits, broken links, axe-core on every consent page a parent sees, and a
coordinator sending the form.

Parents use the 390×844 `phone_page` and tap; the coordinator uses the desktop.
Every tap, and every field typed into, is counted for the "as easy to withdraw as to
give" rule (invariant 3), each from opening the link in the email. Set FIG_SCREENSHOT_DIR
to keep screenshots of the pages.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.db import connection
from django.utils import timezone
from playwright.sync_api import Locator, Page, expect

from consents.models import PURPOSES, ConsentRecord, ConsentRequest, Purpose
from consents.services import requests as consent_requests
from tests import factories
from tests.browser import journeys
from tests.conftest import assert_accessible
from tests.consents import factories as consent_factories

pytestmark = pytest.mark.browser

SIGN_PATH = re.compile(r"/consents/sign/[^/\s]+/")
REVIEW_PATH = re.compile(r"/consents/review/[^/\s]+/")
# What the parent answers: yes to four, no to printed marketing and a recognisable face online.
ANSWERS = {
    "photographed": True,
    "stored": True,
    "training": True,
    "print": False,
    "online": True,
    "face_online": False,
}
WITHDRAWN = "online"


class Taps:
    """Counts what a person does: each tap, and each field typed into, is one."""

    def __init__(self, page: Page, touch: bool = True) -> None:
        self.page = page
        self.touch = touch
        self.count = 0

    def tap(self, locator: Locator) -> None:
        if self.touch:
            locator.tap()
        else:
            locator.click()
        self.count += 1

    def type_into(self, locator: Locator, text: str) -> None:
        locator.fill(text)
        self.count += 1


def _heading(page: Page) -> Locator:
    return page.get_by_role("heading", level=1)


def _screenshot(page: Page, name: str) -> None:
    journeys.screenshot(page, f"{name}")


def _check_page(page: Page, name: str, width: int | None = 390) -> None:
    """axe-core, no sideways scrolling on a phone, and a screenshot when asked for."""
    assert_accessible(page)
    if width:
        journeys.assert_fits_width(page, width)
    _screenshot(page, name)


def _family(coordinator=None):
    """The Mensah family: Ava, her mother Pat (parental responsibility) and an aunt who has none."""
    family = consent_factories.FamilyFactory()
    child = consent_factories.ChildFactory(family=family, first_name="Ava", last_name="Mensah")
    pat = consent_factories.CarerFactory(family=family, full_name="Pat Mensah", email="pat@example.org")
    consent_factories.CarerFactory(
        family=family,
        full_name="Jo Mensah",
        email="jo@example.org",
        relationship="aunt",
        has_parental_responsibility=False,
    )
    if coordinator is not None:
        consent_factories.assign(coordinator, family)
    return family, child, pat


def _send_request(child, carer, mailoutbox, at: dt.datetime | None = None) -> tuple[ConsentRequest, str]:
    """A coordinator's request, through the service; returns it and the path of the emailed link."""
    with consent_factories.frozen(at):
        consent_request = consent_requests.consent_request_send(child=child, carer=carer, by=None)
    message = mailoutbox[-1]
    assert message.to == [carer.email]
    assert message.subject == f"FiG photo consent form for {child.first_name}"
    match = SIGN_PATH.search(message.body)
    assert match, message.body
    return consent_request, match.group(0)


def _question(page: Page, purpose: str) -> Locator:
    return page.get_by_role("group", name=Purpose(purpose).label)


def _draw_signature(page: Page) -> None:
    canvas = page.locator("canvas.signature-canvas")
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    assert box, "the signature pad is not visible"
    left, top, width, height = box["x"], box["y"], box["width"], box["height"]
    page.mouse.move(left + width * 0.1, top + height * 0.6)
    page.mouse.down()
    for step in range(1, 13):
        x = left + width * (0.1 + 0.06 * step)
        y = top + height * (0.6 - 0.25 * (step % 2))
        page.mouse.move(x, y, steps=3)
    page.mouse.up()


def _fill_in_the_form(page: Page, taps: Taps, answers: dict[str, bool], name: str, draw: bool = True) -> None:
    """Answer every question, confirm parental responsibility, type a name, maybe draw; not yet sent."""
    for purpose in PURPOSES:
        taps.tap(_question(page, purpose).get_by_role("radio", name="Yes" if answers[purpose] else "No"))
    taps.tap(page.get_by_label("I have parental responsibility for Ava"))
    taps.type_into(page.get_by_label("Type your full name"), name)
    if draw:
        _draw_signature(page)  # optional, so not counted against the parent
        expect(page.locator("input[name=signature]")).to_have_value(re.compile(r"^data:image/png;base64,"))


def _sign_from_the_link(page: Page, path: str) -> int:
    """A parent opens the link, answers, signs and sends. Returns the taps it took."""
    page.goto(path)
    expect(_heading(page)).to_have_text("Photo consent for Ava Mensah")
    radios = page.get_by_role("radio")
    expect(radios).to_have_count(2 * len(PURPOSES))
    assert page.locator("input[type=radio]:checked").count() == 0, "an answer was chosen in advance"
    expect(page.get_by_label("I have parental responsibility for Ava")).not_to_be_checked()

    taps = Taps(page)
    _fill_in_the_form(page, taps, ANSWERS, "Pat Mensah")
    taps.tap(page.get_by_role("button", name="Send my answers"))
    expect(_heading(page)).to_have_text("Thank you, your answers for Ava are saved")
    return taps.count


def _answers_shown(page: Page) -> None:
    answers = page.get_by_role("list", name="Your answers").get_by_role("listitem")
    expect(answers).to_have_count(len(PURPOSES))
    for item, purpose in zip(answers.all(), PURPOSES, strict=True):
        expect(item).to_contain_text(Purpose(purpose).label)
        expect(item).to_contain_text("Yes" if ANSWERS[purpose] else "No")


def _sign_in_by_code(page: Page, email: str, mailoutbox) -> None:
    journeys.request_login_code(page, email)
    journeys.enter_login_code(page, journeys.login_code_from(mailoutbox[-1]))
    expect(_heading(page)).to_have_text(re.compile(r"^Hello"))


# --- 1. signing from the emailed link ---------------------------------------------------


def test_a_parent_signs_the_form_from_the_emailed_link_on_a_phone(phone_page, mailoutbox):
    _, child, pat = _family()
    consent_request, path = _send_request(child, pat, mailoutbox)
    page = phone_page
    console = journeys.watch_console(page)

    page.goto(path)
    _check_page(page, "sign-form-phone")
    taps = _sign_from_the_link(page, path)

    _answers_shown(page)
    _check_page(page, "sign-done-phone")
    assert taps == len(PURPOSES) + 3  # six answers, the checkbox, the name, the button

    record = ConsentRecord.objects.get()
    assert record.kind == ConsentRecord.Kind.GIVEN
    assert record.answers == ANSWERS
    assert record.typed_name == "Pat Mensah"
    assert record.signature_blob and record.signature_key_id
    assert record.identified_by == ConsentRecord.IdentifiedBy.EMAIL_LINK
    assert record.request_id == consent_request.pk and record.carer_id == pat.pk
    assert record.confirmed_parental_responsibility
    assert record.text_sha256 == ConsentRecord.digest(record.text_shown)
    assert "Ava Mensah" in record.text_shown
    assert record.ip_address and "Chrome" in record.user_agent
    consent_request.refresh_from_db()
    assert consent_request.status == ConsentRequest.Status.SIGNED

    confirmation = mailoutbox[-1]
    assert confirmation.to == [pat.email]
    assert confirmation.subject == "Your photo consent for Ava is saved"
    assert "Photos published online (FiG website and social media): yes" in confirmation.body
    assert "Photos used in printed marketing: no" in confirmation.body

    # The link has done its job: opening it again shows the answers, not a second form.
    page.goto(path)
    expect(_heading(page)).to_have_text("Thank you, your answers for Ava are saved")
    expect(page.get_by_role("button", name="Send my answers")).to_have_count(0)
    assert ConsentRecord.objects.count() == 1
    assert not journeys.csp_violations(console), console


# --- 2. withdrawing one purpose later ----------------------------------------------------


def _what_fig_may_do_now(page: Page, withdrawn: str) -> None:
    now = page.get_by_role("list", name="What FiG may do now")
    for purpose in PURPOSES:
        row = now.get_by_role("listitem").filter(has_text=Purpose(purpose).label)
        expected = "Withdrawn" if purpose == withdrawn else ("Consented" if ANSWERS[purpose] else "Refused")
        expect(row).to_contain_text(expected)
    expect(page.get_by_role("link", name=f"Withdraw: {Purpose(withdrawn).label}")).to_have_count(0)
    expect(page.get_by_role("link", name=f"Withdraw: {Purpose.TRAINING.label}")).to_be_visible()


def test_later_the_parent_withdraws_one_purpose_from_the_email_in_no_more_taps_than_signing_took(
    phone_page, mailoutbox
):
    _, child, pat = _family()
    _, path = _send_request(child, pat, mailoutbox)
    page = phone_page
    console = journeys.watch_console(page)
    signing_taps = _sign_from_the_link(page, path)  # counted from opening the emailed link

    confirmation = mailoutbox[-1]
    assert confirmation.subject == "Your photo consent for Ava is saved"
    review = REVIEW_PATH.search(confirmation.body)
    assert review, confirmation.body
    sent_before = len(mailoutbox)
    page.context.clear_cookies()  # later, from the email app: nothing of the signing visit is left

    # Counted from opening the confirmation email's link: no sign-in, no code.
    page.goto(review.group(0))
    taps = Taps(page)
    expect(_heading(page)).to_have_text("Ava's photo consent")
    expect(page.get_by_role("link", name="Email me a sign-in code")).to_have_count(0)
    _check_page(page, "review-phone")
    taps.tap(page.get_by_role("link", name=f"Withdraw: {Purpose(WITHDRAWN).label}"))
    expect(_heading(page)).to_have_text("Withdraw consent for Ava")
    expect(page.locator(".withdraw-chosen")).to_contain_text(Purpose(WITHDRAWN).label)
    expect(page.locator("input[type=checkbox]:checked")).to_have_count(0)  # nothing else unless asked for
    _check_page(page, "review-withdraw-phone")
    taps.tap(page.get_by_role("button", name="Withdraw consent"))

    expect(_heading(page)).to_have_text("Ava's photo consent")
    expect(page.get_by_role("status")).to_contain_text("Your withdrawal has taken effect")
    withdrawing_taps = taps.count
    print(
        f"\ntaps to sign from the email: {signing_taps}; taps to withdraw one purpose from the email: {withdrawing_taps}"
    )
    assert withdrawing_taps <= signing_taps
    assert withdrawing_taps == 2  # "Withdraw" next to the purpose, then the button

    withdrawal = ConsentRecord.objects.get(kind=ConsentRecord.Kind.WITHDRAWAL)
    assert withdrawal.answers == {WITHDRAWN: False}
    assert withdrawal.carer_id == pat.pk and withdrawal.child_id == child.pk
    assert withdrawal.identified_by == ConsentRecord.IdentifiedBy.EMAIL_LINK
    assert ConsentRecord.objects.count() == 2  # the signed form is untouched; the withdrawal is a new row
    _what_fig_may_do_now(page, WITHDRAWN)
    _check_page(page, "review-after-withdrawal-phone")

    assert len(mailoutbox) == sent_before + 1
    notice = mailoutbox[-1]
    assert notice.to == [pat.email]
    assert notice.subject == "You have withdrawn photo consent for Ava"
    assert Purpose(WITHDRAWN).label in notice.body
    assert not journeys.csp_violations(console), console


def test_a_review_link_that_was_tampered_with_or_has_expired_shows_a_calm_page(phone_page, mailoutbox, settings):
    _, child, pat = _family()
    consent_factories.sign(consent_factories.request_for(child, pat))
    review = REVIEW_PATH.search(mailoutbox[-1].body).group(0)
    token = review.rstrip("/").rsplit("/", 1)[1]
    page = phone_page

    response = page.goto(review.replace(token, token[:-3] + ("aaa" if not token.endswith("aaa") else "bbb")))
    assert response.status == 404
    expect(_heading(page)).to_have_text("This link does not work")
    expect(page.get_by_text("Ava")).to_have_count(0)
    _check_page(page, "review-link-invalid-phone")

    settings.FIG_CONSENT_LINK_DAYS = 0  # every link is now past its lifetime
    response = page.goto(review)
    assert response.status == 410
    expect(_heading(page)).to_have_text("This link has expired")
    _check_page(page, "review-link-expired-phone")
    page.get_by_role("link", name="Sign in to see your consent").tap()
    expect(_heading(page)).to_have_text("Sign in with a code")
    assert not ConsentRecord.objects.filter(kind=ConsentRecord.Kind.WITHDRAWAL).exists()


def test_a_signed_in_parent_withdraws_one_purpose_from_their_own_page(phone_page, mailoutbox):
    _, child, pat = _family()
    _, path = _send_request(child, pat, mailoutbox)
    page = phone_page
    console = journeys.watch_console(page)
    _sign_from_the_link(page, path)

    _sign_in_by_code(page, pat.email, mailoutbox)
    sent_before = len(mailoutbox)
    taps = Taps(page)
    taps.tap(page.get_by_role("link", name="Your children's photo consent"))
    expect(_heading(page)).to_have_text("Your children's photo consent")
    _check_page(page, "my-children-phone")
    taps.tap(page.get_by_role("link", name="Ava Mensah"))
    expect(_heading(page)).to_have_text("Ava's photo consent")
    _check_page(page, "my-child-phone")
    taps.tap(page.get_by_role("link", name=f"Withdraw: {Purpose(WITHDRAWN).label}"))
    expect(_heading(page)).to_have_text("Withdraw consent for Ava")
    expect(page.get_by_text("You are withdrawing consent for:")).to_be_visible()
    expect(page.locator(".withdraw-chosen")).to_contain_text(Purpose(WITHDRAWN).label)
    expect(page.locator("input[type=checkbox]:checked")).to_have_count(0)  # nothing else unless asked for
    _check_page(page, "withdraw-phone")
    taps.tap(page.get_by_role("button", name="Withdraw consent"))

    expect(_heading(page)).to_have_text("Ava's photo consent")
    expect(page.get_by_role("status")).to_contain_text("Your withdrawal has taken effect")
    # Once signed in: the children, the child, "Withdraw" next to the purpose, the button.
    assert taps.count <= 4

    withdrawal = ConsentRecord.objects.get(kind=ConsentRecord.Kind.WITHDRAWAL)
    assert withdrawal.answers == {WITHDRAWN: False}
    assert withdrawal.carer_id == pat.pk and withdrawal.child_id == child.pk
    assert withdrawal.identified_by == ConsentRecord.IdentifiedBy.CODE_SIGN_IN
    assert ConsentRecord.objects.count() == 2  # the signed form is untouched; the withdrawal is a new row
    _what_fig_may_do_now(page, WITHDRAWN)
    _check_page(page, "my-child-after-withdrawal-phone")

    assert len(mailoutbox) == sent_before + 1
    notice = mailoutbox[-1]
    assert notice.to == [pat.email]
    assert notice.subject == "You have withdrawn photo consent for Ava"
    assert Purpose(WITHDRAWN).label in notice.body
    assert not journeys.csp_violations(console), console


def test_a_parent_can_withdraw_more_than_one_thing_or_everything(phone_page, mailoutbox):
    _, child, pat = _family()
    consent_factories.sign(consent_factories.request_for(child, pat))  # yes to everything
    page = phone_page
    _sign_in_by_code(page, pat.email, mailoutbox)
    page.goto("/consents/my/")
    page.get_by_role("link", name="Ava Mensah").tap()

    page.get_by_role("link", name=f"Withdraw: {Purpose.ONLINE.label}").tap()
    page.get_by_text("Withdraw something else as well").tap()
    page.get_by_role("checkbox", name=Purpose.FACE_ONLINE.label).tap()
    _check_page(page, "withdraw-more-phone")
    page.get_by_role("button", name="Withdraw consent").tap()
    expect(page.get_by_role("status")).to_contain_text("Your withdrawal has taken effect")
    first = ConsentRecord.objects.filter(kind=ConsentRecord.Kind.WITHDRAWAL).get()
    assert first.answers == {"online": False, "face_online": False}

    page.get_by_role("link", name="Withdraw everything").tap()
    expect(page.locator("input[type=checkbox]:checked")).to_have_count(len(PURPOSES))
    _check_page(page, "withdraw-everything-phone")
    page.get_by_role("button", name="Withdraw consent").tap()
    expect(page.get_by_role("status")).to_contain_text("Your withdrawal has taken effect")
    expect(page.get_by_role("link", name=re.compile("^Withdraw: "))).to_have_count(0)
    latest = ConsentRecord.objects.filter(kind=ConsentRecord.Kind.WITHDRAWAL).first()
    # Only what was still given is recorded: the two withdrawn before stay withdrawn, not withdrawn twice.
    assert latest.answers == {p: False for p in PURPOSES if p not in {"online", "face_online"}}


# --- 3. the double submit ---------------------------------------------------------------


def test_a_double_tap_or_a_second_post_makes_one_record(phone_page, mailoutbox):
    _, child, pat = _family()
    _, path = _send_request(child, pat, mailoutbox)
    page = phone_page
    page.goto(path)
    _fill_in_the_form(page, Taps(page), ANSWERS, "Pat Mensah", draw=False)

    # The first tap disables the button (data-once). Hold the submission in the page to look.
    page.evaluate(
        """() => { window.submits = 0;
        document.querySelector('form.sign-form').addEventListener('submit', (event) => {
          window.submits += 1; event.preventDefault(); }); }"""
    )
    button = page.get_by_role("button", name="Send my answers")
    button.tap()
    expect(button).to_be_disabled()
    button.dispatch_event("click")  # a second tap on the disabled button
    assert page.evaluate("() => window.submits") == 1

    # Two posts of the same form at once (a double tap without JavaScript, a flaky network):
    # one record, and both answers are pages the parent can read.
    sent = page.evaluate("() => Object.fromEntries(new FormData(document.querySelector('form.sign-form')))")
    statuses = page.evaluate(
        """async () => {
          const form = document.querySelector('form.sign-form');
          const post = () => fetch(location.href, {method: 'POST', body: new FormData(form)});
          const responses = await Promise.all([post(), post()]);
          return responses.map((r) => r.status);
        }"""
    )
    if connection.vendor == "postgresql":
        assert statuses == [200, 200], statuses  # the second waits for the first's row lock
    else:
        # SQLite's test database (in memory, shared cache) refuses the second writer outright
        # rather than making it wait; it still writes nothing.
        assert 200 in statuses, statuses
    assert ConsentRecord.objects.count() == 1

    # Going back to the form and sending it again changes nothing either.
    page.reload()
    expect(_heading(page)).to_have_text("Thank you, your answers for Ava are saved")
    response = page.request.post(path, form=sent)
    assert response.status == 200
    assert "Thank you, your answers for Ava are saved" in response.text()
    assert ConsentRecord.objects.count() == 1
    confirmations = [m for m in mailoutbox if m.subject.startswith("Your photo consent")]
    assert len(confirmations) == 1


# --- 4. broken links --------------------------------------------------------------------


def test_an_expired_link_shows_a_calm_page_with_a_way_forward(phone_page, mailoutbox):
    _, child, pat = _family()
    _, path = _send_request(child, pat, mailoutbox, at=timezone.now() - dt.timedelta(days=15))
    page = phone_page

    response = page.goto(path)
    assert response.status == 410
    expect(_heading(page)).to_have_text("This link has expired")
    expect(page.get_by_role("radio")).to_have_count(0)
    _check_page(page, "link-expired-phone")
    page.get_by_role("link", name="Sign in to fill in the form").tap()
    expect(_heading(page)).to_have_text("Sign in with a code")
    page.get_by_label("Email address").fill(pat.email)
    page.get_by_role("button", name="Email me a code").tap()
    expect(_heading(page)).to_have_text("Check your email")
    journeys.enter_login_code(page, journeys.login_code_from(mailoutbox[-1]))
    # Straight to their children, where the form can be filled in without a link.
    expect(_heading(page)).to_have_text("Your children's photo consent")
    page.get_by_role("link", name="Ava Mensah").tap()
    page.get_by_role("link", name="Fill in the form", exact=True).tap()
    expect(_heading(page)).to_have_text("Photo consent for Ava Mensah")
    _check_page(page, "my-child-form-phone")
    assert ConsentRecord.objects.count() == 0


def test_a_tampered_link_shows_a_calm_page_with_a_way_forward(phone_page, mailoutbox):
    _, child, pat = _family()
    _, path = _send_request(child, pat, mailoutbox)
    token = path.rstrip("/").rsplit("/", 1)[1]
    tampered = path.replace(token, token[:-3] + ("aaa" if not token.endswith("aaa") else "bbb"))
    page = phone_page

    response = page.goto(tampered)
    assert response.status == 404
    expect(_heading(page)).to_have_text("This link does not work")
    expect(page.get_by_role("radio")).to_have_count(0)
    expect(page.get_by_role("link", name="Sign in to fill in the form")).to_be_visible()
    _check_page(page, "link-invalid-phone")

    # Half a link (a line break in the email cut it short) works no better.
    response = page.goto(path[: len(path) // 2] + "/")
    assert response.status == 404
    expect(_heading(page)).to_have_text("This link does not work")
    assert ConsentRecord.objects.count() == 0


# --- 5. axe-core and width on the form, including its error state -----------------------


@pytest.mark.parametrize("which", ["phone", "desktop"])
def test_the_sign_form_is_accessible_empty_with_errors_and_filled_in(which, request, transactional_db):
    page = request.getfixturevalue(f"{which}_page")
    mailoutbox = request.getfixturevalue("mailoutbox")
    width = 390 if which == "phone" else None
    _, child, pat = _family()
    _, path = _send_request(child, pat, mailoutbox)

    page.goto(path)
    _check_page(page, f"sign-form-{which}", width)

    page.get_by_role("button", name="Send my answers").click()
    expect(page.get_by_role("heading", name="There is a problem")).to_be_visible()
    problems = page.get_by_role("alert")
    expect(problems).to_be_focused()
    expect(problems.get_by_role("link")).to_have_count(len(PURPOSES) + 2)
    # Each problem links to its question.
    problems.get_by_role("link").first.click()
    expect(_question(page, PURPOSES[0]).get_by_role("radio", name="Yes")).to_be_focused()
    _check_page(page, f"sign-form-errors-{which}", width)
    assert ConsentRecord.objects.count() == 0

    # A partly answered form keeps its answers and the signature when it comes back.
    taps = Taps(page, touch=which == "phone")
    _fill_in_the_form(page, taps, ANSWERS, "")
    page.get_by_role("button", name="Send my answers").click()
    expect(problems.get_by_role("link")).to_have_count(1)
    expect(problems).to_contain_text("Type your full name")
    assert page.locator("input[type=radio]:checked").count() == len(PURPOSES)
    expect(page.locator("input[name=signature]")).to_have_value(re.compile(r"^data:image/png;base64,"))
    _check_page(page, f"sign-form-one-error-{which}", width)


# --- 6. a coordinator sends the form ----------------------------------------------------


def test_a_coordinator_sends_the_form_to_every_carer_with_parental_responsibility(desktop_page, mailoutbox):
    factories.PolicyVersionFactory()
    coordinator = factories.staff_user("coordinator", email="coordinator@example.org", full_name="Cam Reid")
    family, child, pat = _family(coordinator)
    sam = consent_factories.CarerFactory(
        family=family, full_name="Sam Mensah", email="sam@example.org", relationship="father"
    )
    page = desktop_page
    console = journeys.watch_console(page)

    journeys.staff_sign_in(page, coordinator)
    expect(_heading(page)).to_have_text("Hello, Cam")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Consent", exact=True).click()
    expect(_heading(page)).to_have_text("Consent register")
    expect(page.get_by_role("row", name=re.compile("Ava Mensah"))).to_contain_text("No answer")
    _check_page(page, "register-desktop", width=None)

    page.get_by_role("link", name=family.reference).click()
    expect(_heading(page)).to_have_text(f"Family {family.reference}")
    _check_page(page, "family-desktop", width=None)

    page.get_by_role("link", name="Ava Mensah").click()
    expect(_heading(page)).to_have_text("Ava Mensah")
    _check_page(page, "child-desktop", width=None)

    sent_before = len(mailoutbox)
    page.get_by_label("Send the form to").select_option(label="Every carer with parental responsibility")
    page.get_by_role("button", name="Send the form").click()
    expect(page.get_by_role("status")).to_contain_text("Consent request sent to 2 carers.")
    _check_page(page, "child-after-request-desktop", width=None)

    new = mailoutbox[sent_before:]
    assert sorted(m.to[0] for m in new) == sorted([pat.email, sam.email])  # not the aunt
    assert all(SIGN_PATH.search(m.body) for m in new)
    requests_ = ConsentRequest.objects.filter(child=child, status=ConsentRequest.Status.PENDING)
    assert sorted(r.carer_id for r in requests_) == sorted([pat.pk, sam.pk])
    assert not journeys.csp_violations(console), console
