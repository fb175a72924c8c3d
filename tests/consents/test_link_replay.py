"""The review link is not a replay machine: withdrawing what is already withdrawn changes nothing and
sends nothing (however the same request arrives: again, three at once, from the coordinator's page), and
an emailed link is rate-limited per link."""

from __future__ import annotations

import threading

import pytest
from django.core import mail
from django.db import connection
from django.urls import reverse

from consents.links import request_link_token, review_link_token
from consents.models import PURPOSES, ConsentRecord
from consents.services.withdrawal import consent_withdraw
from staff.models import AuditEvent
from tests.consents.factories import EVIDENCE, all_answers, family_with_child, give, request_for, withdraw


def _withdrawals() -> list[ConsentRecord]:
    return list(ConsentRecord.objects.filter(kind=ConsentRecord.Kind.WITHDRAWAL))


@pytest.fixture
def given(db, coordinator):
    family, child, (carer,) = family_with_child(coordinator)
    give(child, carer, all_answers(True, print=False))
    mail.outbox.clear()
    return child, carer, reverse("consents:review_withdraw", args=[review_link_token(carer=carer, child=child)])


@pytest.mark.django_db
def test_three_identical_withdraw_posts_make_one_record_and_one_email(
    client, given, django_capture_on_commit_callbacks
):
    child, carer, url = given
    for _ in range(3):
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(url, {"purposes": ["online"], "reason": ""})
        assert response.status_code == 302

    [record] = _withdrawals()
    assert record.answers == {"online": False}
    assert len(mail.outbox) == 1
    assert AuditEvent.objects.filter(action="consent.withdrawn").count() == 1
    # The replays are told plainly that nothing changed.
    page = client.get(response["Location"])
    assert "Nothing has changed: that consent was already withdrawn." in page.content.decode()


@pytest.mark.django_db
def test_withdrawing_more_than_before_records_only_what_is_new(given, django_capture_on_commit_callbacks):
    child, carer, _ = given
    with django_capture_on_commit_callbacks(execute=True):
        withdraw(child, carer, ["online"])
        second = withdraw(child, carer, ["online", "training"])
    assert second.answers == {"training": False}
    # Printed material was refused on the form: withdrawing it alone is already done.
    with django_capture_on_commit_callbacks(execute=True):
        assert withdraw(child, carer, ["print"]) is None
    assert len(_withdrawals()) == 2
    assert len(mail.outbox) == 2


@pytest.mark.django_db
def test_consent_given_again_after_a_withdrawal_can_be_withdrawn_again(given):
    child, carer, _ = given
    withdraw(child, carer, PURPOSES)
    give(child, carer)
    assert withdraw(child, carer, ["online"]).answers == {"online": False}


@pytest.mark.django_db
def test_a_never_answered_purpose_is_still_recorded_as_withdrawn(db, coordinator):
    # Nothing on record from this carer yet: the withdrawal is their first word, so it is kept.
    _, child, (carer,) = family_with_child(coordinator)
    assert withdraw(child, carer, ["online"]).answers == {"online": False}


@pytest.mark.django_db
def test_the_coordinators_page_also_changes_nothing_the_second_time(client, given, coordinator):
    child, carer, _ = given
    client.force_login(coordinator)
    url = reverse("consents:withdraw_for_carer", args=[child.family.reference, child.pk])
    data = {"carer": carer.pk, "purposes": ["online"], "reason": "Phoned in"}
    assert client.post(url, data).status_code == 302
    response = client.post(url, data, follow=True)
    assert "Nothing has changed: that consent was already withdrawn." in response.content.decode()
    assert len(_withdrawals()) == 1


@pytest.mark.django_db(transaction=True)
def test_simultaneous_withdrawals_make_one_record(coordinator):
    _, child, (carer,) = family_with_child(coordinator)
    give(child, carer)
    results, start = [], threading.Barrier(3)

    def post() -> None:
        try:
            start.wait()
            results.append(
                consent_withdraw(
                    child=child,
                    carer=carer,
                    purposes=["online"],
                    identified_by=ConsentRecord.IdentifiedBy.EMAIL_LINK,
                    evidence=EVIDENCE,
                )
            )
        finally:
            connection.close()

    threads = [threading.Thread(target=post) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len([r for r in results if r is not None]) == 1
    assert len(_withdrawals()) == 1


# --- the rate limit ---------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("which", ["review", "review_withdraw", "sign"])
def test_an_emailed_link_is_rate_limited_per_link(client, given, settings, which):
    child, carer, _ = given
    settings.FIG_CONSENT_LINK_RATES = "3/h"
    if which == "sign":
        token = request_link_token(request_for(child, carer))
    else:
        token = review_link_token(carer=carer, child=child)
    other = review_link_token(carer=carer, child=family_with_child()[1]) if which != "sign" else None
    url = reverse(f"consents:{which}", args=[token])
    assert [client.get(url).status_code for _ in range(4)] == [200, 200, 200, 429]
    busy = client.get(url)
    assert busy.status_code == 429
    assert "This link has been opened too many times" in busy.content.decode()
    # Posting through a used-up link does nothing either.
    if which == "review_withdraw":
        assert client.post(url, {"purposes": ["online"], "reason": ""}).status_code == 429
        assert not _withdrawals()
    assert other is None or client.get(reverse(f"consents:{which}", args=[other])).status_code != 429
