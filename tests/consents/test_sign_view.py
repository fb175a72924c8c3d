"""The emailed signing link, /consents/sign/<token>/: the form, the saved evidence, a double submit,
and links that were tampered with, have expired or were already used."""

from __future__ import annotations

import re
import time
from datetime import timedelta
from unittest import mock

import pytest
from django.core import mail, signing
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from consents.formtext import required_statements
from consents.links import LINK_SALT, request_link_token
from consents.models import PURPOSES, ConsentRecord, ConsentRequest
from consents.services.evidence import Evidence
from consents.services.signing import consent_give_signed_in
from tests.consents.factories import family_with_child, png_data_url, request_for, sign

PHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148"


@pytest.fixture
def consent_request(db) -> ConsentRequest:
    _, child, [carer] = family_with_child()
    child.first_name, child.last_name = "Ava", "Jones"
    child.save()
    carer.full_name = "Maya Jones"
    carer.save()
    return request_for(child, carer)


def _url(consent_request: ConsentRequest) -> str:
    return reverse("consents:sign", args=[request_link_token(consent_request)])


def _answers(value: str = "yes", **overrides: str) -> dict[str, str]:
    return {f"purpose_{p}": overrides.get(p, value) for p in PURPOSES}


def _filled(**overrides) -> dict[str, str]:
    return {
        **_answers(),
        "confirm_parental_responsibility": "on",
        "typed_name": "Maya  Jones",
        "signature": "",
        **overrides,
    }


# --- the form -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_shows_the_childs_form_with_every_purpose_unanswered(client, consent_request):
    response = client.get(_url(consent_request))
    assert response.status_code == 200
    body = response.content.decode()
    assert "Photo consent for Ava Jones" in body
    for purpose in PURPOSES:
        radios = re.findall(rf'<input[^>]*name="purpose_{purpose}"[^>]*>', body)
        assert sorted(re.search(r'value="(\w+)"', r).group(1) for r in radios) == ["no", "yes"]
        assert not any("checked" in r for r in radios), radios  # nothing chosen for the carer
    assert 'name="confirm_parental_responsibility"' in body and 'name="typed_name"' in body
    confirm = re.search(r'<input[^>]*name="confirm_parental_responsibility"[^>]*>', body).group(0)
    assert "checked" not in confirm
    # The words of the form version the request was sent with.
    assert consent_request.form_version.purpose_texts["online"] in body.replace("&#x27;", "'")


@pytest.mark.django_db
def test_the_form_says_what_parents_are_promised_and_the_record_keeps_it(client, consent_request):
    body = client.get(_url(consent_request)).content.decode()
    promises = re.search(r'<section class="good-to-know".*?</section>', body, re.S).group(0)
    # Names and contact details are never published; how long photos are kept; how to withdraw.
    assert (
        escape("We never publish your child's name, your name, where you live or any way to contact you.") in promises
    )
    assert "We keep photos for up to 3 years and then delete them." in promises
    assert "You can change your mind at any time. Sign in to FiG Safety and choose Withdraw" in promises
    assert all(escape(statement) in promises for statement in required_statements())

    client.post(_url(consent_request), _filled())
    record = ConsentRecord.objects.get()
    assert all(statement in record.text_shown for statement in required_statements())
    assert record.text_sha256 == ConsentRecord.digest(record.text_shown)


@pytest.mark.django_db
def test_it_refuses_the_wrong_http_method(client, consent_request):
    assert client.put(_url(consent_request)).status_code == 405
    assert client.delete(_url(consent_request)).status_code == 405
    consent_request.refresh_from_db()
    assert consent_request.status == ConsentRequest.Status.PENDING


# --- signing ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_saves_one_record_with_its_evidence_and_says_thank_you(
    client, consent_request, django_capture_on_commit_callbacks
):
    url = _url(consent_request)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, _filled(**_answers("yes", face_online="no")), HTTP_USER_AGENT=PHONE)
    assert response.status_code == 302 and response["Location"] == url
    record = ConsentRecord.objects.get()
    assert record.answers == {p: p != "face_online" for p in PURPOSES}
    assert (record.child, record.carer, record.request) == (
        consent_request.child,
        consent_request.carer,
        consent_request,
    )
    assert record.kind == ConsentRecord.Kind.GIVEN and record.method == ConsentRecord.Method.ONLINE
    assert record.identified_by == ConsentRecord.IdentifiedBy.EMAIL_LINK
    assert record.typed_name == "Maya Jones" and record.confirmed_parental_responsibility
    assert record.ip_address == "127.0.0.1" and record.user_agent == PHONE
    assert "Ava Jones" in record.text_shown and record.text_sha256 == ConsentRecord.digest(record.text_shown)
    assert len(record.evidence_sha256) == 64 and not record.signature_blob
    assert abs(record.signed_at - timezone.now()) < timedelta(minutes=1)
    consent_request.refresh_from_db()
    assert consent_request.status == ConsentRequest.Status.SIGNED and consent_request.answered_at == record.signed_at
    assert [m.to for m in mail.outbox] == [[consent_request.carer.email]]  # the confirmation
    assert reverse("consents:my_children") in mail.outbox[0].body

    page = client.get(url)  # post/redirect/get: the thank-you page
    body = page.content.decode()
    assert page.status_code == 200
    assert "Thank you" in body and "Ava" in body
    answers = dict(page.context["answers"])
    assert answers["Face may be recognisable in what is published online"] is False
    assert answers["Photos published online (FiG website and social media)"] is True


@pytest.mark.django_db
def test_it_keeps_a_drawn_signature_encrypted(client, consent_request):
    assert client.post(_url(consent_request), _filled(signature=png_data_url())).status_code == 302
    record = ConsentRecord.objects.get()
    assert record.signature_blob and record.signature_key_id


@pytest.mark.django_db
def test_a_refusal_of_everything_is_saved_as_declined(client, consent_request):
    assert client.post(_url(consent_request), _filled(**_answers("no"))).status_code == 302
    record = ConsentRecord.objects.get()
    assert record.answers == dict.fromkeys(PURPOSES, False)
    consent_request.refresh_from_db()
    assert consent_request.status == ConsentRequest.Status.DECLINED
    assert "Thank you" in client.get(_url(consent_request)).content.decode()


@pytest.mark.django_db
def test_a_double_submit_makes_one_record(client, consent_request, django_capture_on_commit_callbacks):
    url = _url(consent_request)
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(url, _filled()).status_code == 302
        second = client.post(url, _filled(**_answers("no")))
    assert second.status_code == 200 and "Thank you" in second.content.decode()
    record = ConsentRecord.objects.get()
    assert all(record.answers.values())  # the first answers stand
    assert len(mail.outbox) == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("data", "fields"),
    [
        (
            {
                **_answers(),
                "purpose_online": "",
                "purpose_print": "maybe",
                "confirm_parental_responsibility": "on",
                "typed_name": "Maya Jones",
            },
            ["purpose_online", "purpose_print"],
        ),
        (
            {"purpose_photographed": "yes", "confirm_parental_responsibility": "on", "typed_name": "Maya Jones"},
            [f"purpose_{p}" for p in PURPOSES if p != "photographed"],
        ),
        (_filled(confirm_parental_responsibility=""), ["confirm_parental_responsibility"]),
        (_filled(typed_name=""), ["typed_name"]),
        (_filled(typed_name="M"), ["typed_name"]),
        (_filled(signature="data:image/png;base64,bm90IGEgcG5n"), ["__all__"]),
        (_filled(signature="javascript:alert(1)"), ["__all__"]),
    ],
)
def test_it_explains_what_is_missing_and_saves_nothing(
    client, consent_request, data, fields, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client.post(_url(consent_request), data)
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert sorted(errors) == sorted(fields)
    body = response.content.decode()
    for field in fields:
        assert escape(errors[field][0]) in body  # each problem is said on the page
    if "__all__" in fields:
        assert "The signature could not be read" in errors["__all__"][0]
    assert not ConsentRecord.objects.exists() and callbacks == []
    consent_request.refresh_from_db()
    assert consent_request.status == ConsentRequest.Status.PENDING
    # What the carer did answer is kept for them.
    if data.get("purpose_photographed") == "yes":
        chosen = re.search(r'<input[^>]*name="purpose_photographed"[^>]*value="yes"[^>]*>', body).group(0)
        assert "checked" in chosen


@pytest.mark.django_db
def test_a_carer_who_lost_parental_responsibility_cannot_sign(client, consent_request):
    consent_request.carer.has_parental_responsibility = False
    consent_request.carer.save()
    response = client.post(_url(consent_request), _filled())
    assert response.status_code == 400
    assert "Only a carer with parental responsibility can give consent." in response.content.decode()
    assert not ConsentRecord.objects.exists()


# --- links that do not work ---------------------------------------------------------------


def _tampered(token: str) -> list[str]:
    payload, _, rest = token.partition(":")
    other = signing.dumps({"r": 1, "n": "x"}, salt=LINK_SALT, compress=True)
    return [
        token[:-1] + ("A" if token[-1] != "A" else "B"),  # a changed signature
        ("." + payload[2:] if payload.startswith(".") else "x" + payload[1:]) + ":" + rest,  # a changed payload
        "not-a-token",
        signing.dumps({"r": 1, "n": "x"}),  # signed, but not as a consent link
        other,  # a genuine signature over a request that does not exist
    ]


@pytest.mark.django_db
def test_a_tampered_link_does_not_work(client, consent_request):
    for token in _tampered(request_link_token(consent_request)):
        url = reverse("consents:sign", args=[token])
        for response in (client.get(url), client.post(url, _filled())):
            assert response.status_code == 404, token
            assert "This link does not work" in response.content.decode()
    assert not ConsentRecord.objects.exists()


@pytest.mark.django_db
def test_a_link_to_a_request_replaced_by_a_newer_one_does_not_work(client, consent_request):
    old = _url(consent_request)
    request_for(consent_request.child, consent_request.carer)  # a new email cancels the old link
    assert client.get(old).status_code == 404


@pytest.mark.django_db
def test_an_expired_link_says_so(client, consent_request):
    url = _url(consent_request)
    ConsentRequest.objects.filter(pk=consent_request.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    for response in (client.get(url), client.post(url, _filled())):
        assert response.status_code == 410
        assert "This link has expired" in response.content.decode()
    assert not ConsentRecord.objects.exists()


@pytest.mark.django_db
def test_a_link_older_than_its_signed_lifetime_has_expired(client, consent_request, settings):
    url = _url(consent_request)
    ConsentRequest.objects.filter(pk=consent_request.pk).update(expires_at=timezone.now() + timedelta(days=365))
    later = time.time() + (settings.FIG_CONSENT_LINK_DAYS + 1) * 86400
    with mock.patch("django.core.signing.time.time", return_value=later):
        response = client.post(url, _filled())
    assert response.status_code == 410 and "This link has expired" in response.content.decode()
    assert not ConsentRecord.objects.exists()


@pytest.mark.django_db
def test_a_used_link_shows_the_thank_you_page(client, consent_request):
    record = sign(consent_request)
    response = client.get(_url(consent_request))
    assert response.status_code == 200
    body = response.content.decode()
    assert "Thank you" in body and "will not work again" in body
    assert reverse("consents:my_children") in body  # where to review or withdraw
    assert response.context["record"] == record
    # It shows no form to sign again.
    assert 'name="typed_name"' not in body


@pytest.mark.django_db
def test_a_link_answered_from_the_parents_own_page_shows_it_was_answered(client, consent_request):
    record = consent_give_signed_in(
        user=consent_request.carer.user,
        child=consent_request.child,
        answers=dict.fromkeys(PURPOSES, True),
        typed_name="Maya Jones",
        confirmed_pr=True,
        signature_data_url="",
        evidence=Evidence(ip_address="127.0.0.1", user_agent="test"),
    )
    response = client.get(_url(consent_request))
    assert response.status_code == 200
    # The form filled in from their page answered the request, so the link shows those answers, and says so.
    assert response.context["record"] == record
    body = response.content.decode()
    assert "already saved" in body and "after signing in to FiG Safety" in body
    assert 'name="typed_name"' not in body


@pytest.mark.django_db
def test_it_still_shows_an_answered_link_as_answered_after_its_lifetime(client, settings):
    from tests.consents import factories as cf

    family, child, [carer] = cf.family_with_child()
    consent_request = cf.request_for(child, carer)
    cf.sign(consent_request)
    token = request_link_token(consent_request)
    settings.FIG_CONSENT_LINK_DAYS = 0  # every signature is now too old
    response = client.get(f"/consents/sign/{token}/")
    assert response.status_code == 200
    assert b"Thank you" in response.content
