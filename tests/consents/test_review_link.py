"""The review link in the confirmation email, /consents/review/<token>/: one carer sees one child's
consent and withdraws it without signing in, in no more steps than giving it took; links that were
tampered with, have expired, or no longer speak for that carer are refused with a clear page."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.core import mail, signing
from django.urls import reverse
from django.utils import timezone

from consents.errors import LinkProblem
from consents.links import REVIEW_SALT, request_link_token, review_link, review_link_token
from consents.models import PURPOSES, Carer, Child, ConsentRecord, Purpose
from consents.selectors import State, consents_for_children, review_from_token
from tests.consents.factories import (
    CarerFactory,
    ChildFactory,
    all_answers,
    family_with_child,
    frozen,
    request_for,
    sign,
)

REVIEW_PATH = re.compile(r"/consents/review/[^/\s]+/")
DAY = timedelta(days=1)


@dataclass
class Signed:
    ava: Child  # signed for by Maya from the emailed link: yes to everything but printed marketing
    ben: Child  # Ava's brother, signed for too, in a separate email
    maya: Carer
    review: str  # the path of the review link in Ava's confirmation email
    cara: Child  # another family's child, signed for by her own carer


def _review_path(body: str) -> str:
    match = REVIEW_PATH.search(body)
    assert match, body
    return match.group(0)


@pytest.fixture
def signed(db, django_capture_on_commit_callbacks) -> Signed:
    family, ava, [maya] = family_with_child()
    Child.objects.filter(pk=ava.pk).update(first_name="Ava", last_name="Jones")
    ava.refresh_from_db()
    ben = ChildFactory(family=family, first_name="Ben", last_name="Jones")
    _, cara, [them] = family_with_child()
    with django_capture_on_commit_callbacks(execute=True):
        sign(request_for(ava, maya), answers=all_answers(True, print=False))
        sign(request_for(ben, maya))
        sign(request_for(cara, them))
    confirmation = next(m for m in mail.outbox if m.subject == "Your photo consent for Ava is saved")
    mail.outbox.clear()
    return Signed(ava, ben, maya, _review_path(confirmation.body), cara)


def _withdraw_path(review: str) -> str:
    return review + "withdraw/"


def _withdrawals() -> list[ConsentRecord]:
    return list(ConsentRecord.objects.filter(kind=ConsentRecord.Kind.WITHDRAWAL))


# --- the email ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_confirmation_email_links_straight_to_the_childs_consent(signed, settings):
    message_link = review_link(carer=signed.maya, child=signed.ava)
    assert message_link.startswith(settings.FIG_SITE_URL + "/consents/review/")
    carer, child = review_from_token(signed.review.rstrip("/").rsplit("/", 1)[1])
    assert (carer, child) == (signed.maya, signed.ava)
    # The link carries no name or email address.
    assert "Ava" not in signed.review and "Jones" not in signed.review and "@" not in signed.review


@pytest.mark.django_db
def test_the_confirmation_email_says_until_when_the_link_works(django_capture_on_commit_callbacks, settings):
    _, child, [carer] = family_with_child()
    with django_capture_on_commit_callbacks(execute=True):
        sign(request_for(child, carer))
    body = mail.outbox[-1].body
    until = timezone.localtime(timezone.now() + timedelta(days=settings.FIG_CONSENT_LINK_DAYS))
    assert f"works until {until:%-d %B %Y}" in body
    assert _review_path(body)
    assert "/consents/my/" in body  # signing in with a code still works after that


# --- the page -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_shows_the_childs_consent_without_signing_in(client, signed):
    response = client.get(signed.review)
    assert response.status_code == 200
    body = response.content.decode()
    assert "<h1>Ava's photo consent</h1>" in body
    states = {code: state for code, _, state, _ in response.context["states"]}
    assert states == {**dict.fromkeys(PURPOSES, State.GIVEN), "print": State.REFUSED}
    for purpose in PURPOSES:
        withdraw_link = f"{_withdraw_path(signed.review)}?purpose={purpose}"
        assert (withdraw_link in body) == (purpose != "print")
    assert "Ben" not in body and "Cara" not in body
    assert "private" in response["Cache-Control"] and "no-store" in response["Cache-Control"]
    # It is not a sign-in: nothing else is open to the holder of the link.
    assert "_auth_user_id" not in client.session
    assert client.get(reverse("consents:my_children")).status_code == 302
    assert client.get(reverse("consents:my_child_form", args=[signed.ava.pk])).status_code == 302


@pytest.mark.django_db
def test_it_withdraws_one_purpose_in_two_steps(client, signed, django_capture_on_commit_callbacks):
    # Step one: "Withdraw" next to the purpose opens the form with just that purpose.
    page = client.get(_withdraw_path(signed.review), {"purpose": "online"})
    assert page.status_code == 200
    assert "You are withdrawing consent for:" in page.content.decode()
    assert f'href="{signed.review}"' in page.content.decode()  # back to the child's consent, not a sign-in
    # Step two: the button.
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(_withdraw_path(signed.review), {"purposes": ["online"], "reason": ""})

    assert response.status_code == 302 and response["Location"] == signed.review
    [withdrawal] = _withdrawals()
    assert withdrawal.answers == {"online": False}
    assert (withdrawal.child, withdrawal.carer) == (signed.ava, signed.maya)
    assert withdrawal.identified_by == ConsentRecord.IdentifiedBy.EMAIL_LINK
    assert withdrawal.ip_address and withdrawal.evidence_sha256
    states = consents_for_children([signed.ava.pk, signed.ben.pk])
    assert states[signed.ava.pk].states["online"] == State.WITHDRAWN
    assert states[signed.ben.pk].states["online"] == State.GIVEN  # only the child the link is for
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        "Your withdrawal has taken effect. We have emailed you a confirmation."
    ]
    [notice] = mail.outbox
    assert notice.to == [signed.maya.email] and notice.subject == "You have withdrawn photo consent for Ava"
    assert Purpose.ONLINE.label in notice.body

    # The link keeps working for the rest of its life: withdraw everything else as well.
    client.post(_withdraw_path(signed.review), {"purposes": PURPOSES})
    assert not consents_for_children([signed.ava.pk])[signed.ava.pk].allowed


@pytest.mark.django_db
def test_the_page_only_reads(client, signed):
    response = client.post(signed.review, {"purposes": PURPOSES})
    assert response.status_code == 405
    assert not _withdrawals()


@pytest.mark.django_db
def test_a_withdrawal_needs_something_chosen(client, signed):
    response = client.post(_withdraw_path(signed.review), {"purposes": [], "reason": ""})
    assert response.status_code == 200
    assert "Choose at least one thing to withdraw." in response.content.decode()
    assert not _withdrawals()


# --- links that do not work ---------------------------------------------------------------


def _token(path: str) -> str:
    return path.rstrip("/").rsplit("/", 1)[1]


def _tampered(token: str) -> list[str]:
    payload, _, signature = token.rpartition(":")
    return [
        token[:-3] + ("aaa" if not token.endswith("aaa") else "bbb"),  # the signature changed
        payload.replace(payload[1], "x" if payload[1] != "x" else "y", 1) + ":" + signature,  # the payload changed
        token[: len(token) // 2],  # cut short
        "not-a-token",
    ]


@pytest.mark.django_db
def test_a_tampered_link_is_refused_and_changes_nothing(client, signed):
    for token in _tampered(_token(signed.review)):
        for response in (
            client.get(reverse("consents:review", args=[token])),
            client.get(reverse("consents:review_withdraw", args=[token]), {"purpose": "online"}),
            client.post(reverse("consents:review_withdraw", args=[token]), {"purposes": PURPOSES}),
        ):
            assert response.status_code == 404, token
            body = response.content.decode()
            assert "This link does not work" in body
            assert "Sign in to see your consent" in body  # and a way forward
            assert "Ava" not in body
    assert not _withdrawals()


@pytest.mark.django_db
def test_a_signing_link_is_not_a_review_link(client, signed):
    consent_request = request_for(signed.ava, signed.maya)
    token = request_link_token(consent_request)
    assert client.get(reverse("consents:review", args=[token])).status_code == 404
    # Nor the other way round.
    assert client.get(reverse("consents:sign", args=[_token(signed.review)])).status_code == 404


@pytest.mark.django_db
def test_an_expired_link_says_so_and_changes_nothing(client, signed, settings):
    later = timezone.now() + timedelta(days=settings.FIG_CONSENT_LINK_DAYS, minutes=1)
    with frozen(later), pytest.MonkeyPatch.context() as patch:
        patch.setattr("time.time", lambda: later.timestamp())  # what signing checks the age against
        get = client.get(signed.review)
        post = client.post(_withdraw_path(signed.review), {"purposes": PURPOSES})
    for response in (get, post):
        assert response.status_code == 410
        body = response.content.decode()
        assert "This link has expired" in body and "Sign in to see your consent" in body
    assert not _withdrawals()


@pytest.mark.django_db
def test_a_link_works_until_its_last_day(client, signed, settings):
    later = timezone.now() + timedelta(days=settings.FIG_CONSENT_LINK_DAYS) - timedelta(minutes=1)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("time.time", lambda: later.timestamp())
        assert client.get(signed.review).status_code == 200


def _forged(**data) -> str:
    """A token signed with the site's key (which no outsider has) for data the app never sends."""
    return signing.dumps(data, salt=REVIEW_SALT, compress=True)


@pytest.mark.django_db
def test_a_link_for_a_child_of_another_family_is_refused(signed):
    genuine = signing.loads(_token(signed.review), salt=REVIEW_SALT)
    with pytest.raises(LinkProblem, match="invalid"):
        review_from_token(_forged(**{**genuine, "k": signed.cara.pk}))
    with pytest.raises(LinkProblem, match="invalid"):
        review_from_token(_forged(**{**genuine, "k": 0}))


@pytest.mark.django_db
def test_a_link_stops_working_when_the_carer_no_longer_speaks_for_the_child(client, signed):
    token = _token(signed.review)
    Carer.objects.filter(pk=signed.maya.pk).update(has_parental_responsibility=False)
    assert client.get(signed.review).status_code == 404
    Carer.objects.filter(pk=signed.maya.pk).update(has_parental_responsibility=True)
    assert review_from_token(token) == (signed.maya, signed.ava)

    # A coordinator corrects the carer's email: links sent to the old address stop working.
    Carer.objects.filter(pk=signed.maya.pk).update(email="maya.new@example.org")
    response = client.post(_withdraw_path(signed.review), {"purposes": PURPOSES})
    assert response.status_code == 404
    assert not _withdrawals()


@pytest.mark.django_db
def test_another_carers_link_withdraws_as_that_carer_only(client, signed):
    dad = CarerFactory(family=signed.ava.family, full_name="Sam Jones")
    dads_link = reverse("consents:review", args=[review_link_token(carer=dad, child=signed.ava)])
    client.post(_withdraw_path(dads_link), {"purposes": ["training"]})
    [withdrawal] = _withdrawals()
    assert withdrawal.carer == dad
