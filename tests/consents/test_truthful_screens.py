"""Screens say what did happen: an emailed link answered another way says how, and claims no email or
signature that never happened; re-consent is offered only when someone signed an older version; a parent
with a request waiting sees it as the main thing to do, not a row of "No answer" tags."""

from __future__ import annotations

import pytest
from django.core import mail
from django.urls import reverse

from consents.links import request_link_token
from consents.models import PURPOSES, Carer, Child, ConsentRecord, ConsentRequest
from consents.services.signing import consent_record_offline
from tests.consents.factories import (
    EVIDENCE,
    ChildFactory,
    all_answers,
    family_with_child,
    give,
    publish_version,
    request_for,
    sign,
)
from tests.photos import images

MY_CHILDREN = reverse("consents:my_children")


def _link(consent_request: ConsentRequest) -> str:
    return reverse("consents:sign", args=[request_link_token(consent_request)])


# --- the emailed link, once answered ----------------------------------------------------------------


@pytest.fixture
def asked(db):
    """Cleo's carer has been emailed a link (and nothing else)."""
    _, child, [carer] = family_with_child()
    Child.objects.filter(pk=child.pk).update(first_name="Cleo")
    child.refresh_from_db()
    consent_request = request_for(child, carer)
    mail.outbox.clear()
    return consent_request


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "wording"),
    [
        (ConsentRecord.Method.PAPER, "recorded your answers from a paper form on"),
        (ConsentRecord.Method.PHONE, "recorded your answers from a phone call on"),
    ],
)
def test_a_link_answered_by_a_coordinators_record_says_so(
    client, asked, coordinator, method, wording, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        record = consent_record_offline(
            child=asked.child,
            carer=asked.carer,
            answers=all_answers(True, online=False),
            method=method,
            taken_by="Sam Jones",
            by=coordinator,
            scan=(images.pdf(), "application/pdf") if method == ConsentRecord.Method.PAPER else None,
            evidence=EVIDENCE,
        )
    assert mail.outbox == []  # a paper or phone consent is not emailed
    response = client.get(_link(asked))
    assert response.status_code == 200 and response.context["record"] == record
    body = response.content.decode()
    assert f"Your Family Service Coordinator {wording} {record.signed_at:%-d %B %Y}" in body
    assert "Your answers for Cleo are already saved" in body
    for untrue in ("emailed you a copy", "email we have sent you", "Signed by", "Thank you"):
        assert untrue not in body
    # The answers are shown: all yes but online.
    assert body.count("answer-yes") == len(PURPOSES) - 1 and body.count("answer-no") == 1


@pytest.mark.django_db
def test_a_link_signed_through_itself_says_a_copy_was_emailed_because_one_was(
    client, asked, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        record = sign(asked)
    assert [m.to for m in mail.outbox] == [[asked.carer.email]]  # the copy really was emailed
    body = client.get(_link(asked)).content.decode()
    assert "Thank you, your answers for Cleo are saved" in body
    assert "We have emailed you a copy." in body
    assert f"Signed by {record.typed_name}" in body


# --- the re-consent offer ---------------------------------------------------------------------------------

OFFER = "Ask families who signed an older version"


@pytest.mark.django_db
def test_re_consent_is_not_offered_with_one_version(client, coordinator):
    _, child, [carer] = family_with_child(coordinator)
    give(child, carer)
    client.force_login(coordinator)
    assert OFFER not in client.get(reverse("consents:form_versions")).content.decode()


@pytest.mark.django_db
def test_re_consent_is_offered_once_someone_signed_an_older_version(client, coordinator):
    _, child, [carer] = family_with_child(coordinator)
    give(child, carer)  # version 1
    publish_version(requires_reconsent=True)
    client.force_login(coordinator)
    body = client.get(reverse("consents:form_versions")).content.decode()
    assert f"{OFFER} to sign version 2" in body
    assert f'href="{reverse("consents:reconsent")}"' in body


@pytest.mark.django_db
def test_re_consent_is_not_offered_with_two_versions_when_nobody_signed_the_older_one(client, coordinator):
    publish_version()
    _, child, [carer] = family_with_child(coordinator)
    give(child, carer)  # on version 2, the current one
    client.force_login(coordinator)
    assert OFFER not in client.get(reverse("consents:form_versions")).content.decode()


# --- the parent's page ------------------------------------------------------------------------------------


@pytest.fixture
def parent_asked(parent):
    """The parent has been asked about Cleo (no answer yet); Ben, their other child, has answers."""
    family, cleo, [me] = family_with_child()
    Carer.objects.filter(pk=me.pk).update(email=parent.email, user=parent)
    me.refresh_from_db()
    Child.objects.filter(pk=cleo.pk).update(first_name="Cleo")
    cleo.refresh_from_db()
    ben = ChildFactory(family=family, first_name="Ben")
    give(ben, me)
    request_for(cleo, me)
    return cleo, ben


@pytest.mark.django_db
def test_a_parent_with_a_request_waiting_sees_it_as_the_main_button(client, parent, parent_asked):
    cleo, ben = parent_asked
    client.force_login(parent)
    body = client.get(MY_CHILDREN).content.decode()
    form = reverse("consents:my_child_form", args=[cleo.pk])
    assert (
        f'<a class="button button-primary button-block" href="{form}">'
        "FiG has asked you about Cleo — fill in the form</a>" in body
    )
    assert "FiG has asked you about Ben" not in body  # nothing waiting for Ben
    # Cleo's six "No answer" tags are one line.
    assert body.count("No answers yet") == 1
    assert "state-none" not in body


@pytest.mark.django_db
def test_the_childs_own_page_leads_with_the_request_too(client, parent, parent_asked):
    cleo, _ = parent_asked
    client.force_login(parent)
    body = client.get(reverse("consents:my_child", args=[cleo.pk])).content.decode()
    assert body.count("FiG has asked you about Cleo — fill in the form") == 1
    assert ">Fill in the form<" not in body  # one call to fill it in, not two
    assert "No answers yet" in body and "state-none" not in body


@pytest.mark.django_db
def test_once_answered_the_request_button_goes(client, parent, parent_asked, django_capture_on_commit_callbacks):
    cleo, _ = parent_asked
    with django_capture_on_commit_callbacks(execute=True):
        sign(ConsentRequest.objects.get(child=cleo))
    client.force_login(parent)
    body = client.get(MY_CHILDREN).content.decode()
    assert "FiG has asked you about" not in body and "No answers yet" not in body
