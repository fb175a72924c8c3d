"""The truth table of the one consent question: may child C be used for purpose P at time T?"""

from __future__ import annotations

import datetime as dt

import pytest
from dateutil.relativedelta import relativedelta
from django.utils import timezone

from consents.errors import ConsentError
from consents.models import PURPOSES, ConsentRecord, Purpose
from consents.selectors import State, consent_allows, consents_for_children
from consents.services.families import carer_save
from consents.uses import children_lacking, uses_for_tagged
from tests.consents.factories import (
    CarerFactory,
    ChildFactory,
    all_answers,
    family_with_child,
    give,
    publish_version,
    withdraw,
)

pytestmark = pytest.mark.django_db

DAY = dt.timedelta(days=1)
HOUR = dt.timedelta(hours=1)


@pytest.fixture
def now() -> dt.datetime:
    return timezone.now()


def states(child, at=None) -> dict[str, str]:
    return consents_for_children([child.pk], at=at)[child.pk].states


# --- one carer -------------------------------------------------------------------


def test_it_allows_every_purpose_one_carer_with_parental_responsibility_said_yes_to(now):
    _, child, (carer,) = family_with_child()
    give(child, carer, at=now - 10 * DAY)

    for purpose in PURPOSES:
        assert consent_allows(child=child, purpose=purpose)
        assert consent_allows(child=child.pk, purpose=purpose, at=now)
    assert set(states(child).values()) == {State.GIVEN}


def test_it_allows_nothing_before_the_consent_was_given(now):
    _, child, (carer,) = family_with_child()
    give(child, carer, at=now - 10 * DAY)

    assert not consent_allows(child=child, purpose=Purpose.PHOTOGRAPHED, at=now - 11 * DAY)
    assert states(child, at=now - 11 * DAY)[Purpose.PHOTOGRAPHED] == State.NONE


def test_it_allows_only_the_purposes_answered_yes(now):
    _, child, (carer,) = family_with_child()
    give(child, carer, answers=all_answers(False, photographed=True, stored=True), at=now - DAY)

    assert consent_allows(child=child, purpose=Purpose.PHOTOGRAPHED)
    assert consent_allows(child=child, purpose=Purpose.STORED)
    for purpose in (Purpose.TRAINING, Purpose.PRINT, Purpose.ONLINE, Purpose.FACE_ONLINE):
        assert not consent_allows(child=child, purpose=purpose)
        assert states(child)[purpose] == State.REFUSED


def test_it_allows_nothing_without_carers_or_answers(now):
    family, child, _ = family_with_child(carers=0)
    assert set(states(child).values()) == {State.NONE}
    assert not consent_allows(child=child, purpose=Purpose.PHOTOGRAPHED)

    CarerFactory(family=family)  # a carer who has not answered yet
    assert set(states(child).values()) == {State.NONE}
    assert not consents_for_children([child.pk])[child.pk].has_any_decision


def test_it_does_not_know_unknown_purposes(now):
    _, child, (carer,) = family_with_child()
    give(child, carer, at=now - DAY)
    assert not consent_allows(child=child, purpose="tattooed")


# --- several carers: refusal wins ---------------------------------------------------


def test_it_refuses_when_one_of_two_carers_with_parental_responsibility_refuses(now):
    _, child, (mum, dad) = family_with_child(carers=2)
    give(child, mum, at=now - 2 * DAY)
    give(child, dad, answers=all_answers(False), at=now - DAY)

    assert set(states(child).values()) == {State.REFUSED}
    assert not any(consent_allows(child=child, purpose=p) for p in PURPOSES)


def test_it_refuses_whichever_order_the_carers_answered(now):
    _, child, (mum, dad) = family_with_child(carers=2)
    give(child, dad, answers=all_answers(False), at=now - 2 * DAY)
    give(child, mum, at=now - DAY)

    assert not consent_allows(child=child, purpose=Purpose.PHOTOGRAPHED)


def test_it_refuses_only_the_purpose_the_second_carer_refused(now):
    _, child, (mum, dad) = family_with_child(carers=2)
    give(child, mum, at=now - 2 * DAY)
    give(child, dad, answers=all_answers(True, online=False), at=now - DAY)

    assert consent_allows(child=child, purpose=Purpose.PHOTOGRAPHED)
    assert consent_allows(child=child, purpose=Purpose.PRINT)
    assert not consent_allows(child=child, purpose=Purpose.ONLINE)
    # A recognisable face online needs consent to publish online at all.
    assert not consent_allows(child=child, purpose=Purpose.FACE_ONLINE)


def test_it_allows_when_one_carer_said_yes_and_the_other_has_not_answered(now):
    _, child, (mum, _dad) = family_with_child(carers=2)
    give(child, mum, at=now - DAY)
    assert consent_allows(child=child, purpose=Purpose.ONLINE)


# --- withdrawal and history -----------------------------------------------------------


def test_it_refuses_from_the_withdrawal_on_and_keeps_history_before_it(now):
    _, child, (carer,) = family_with_child()
    given_at, withdrawn_at = now - 30 * DAY, now - 10 * DAY
    give(child, carer, at=given_at)
    withdraw(child, carer, [Purpose.ONLINE], at=withdrawn_at)

    assert consent_allows(child=child, purpose=Purpose.ONLINE, at=withdrawn_at - HOUR)
    assert not consent_allows(child=child, purpose=Purpose.ONLINE, at=withdrawn_at)
    assert not consent_allows(child=child, purpose=Purpose.ONLINE)
    assert states(child)[Purpose.ONLINE] == State.WITHDRAWN


def test_withdrawing_one_purpose_leaves_the_others(now):
    _, child, (carer,) = family_with_child()
    give(child, carer, at=now - 30 * DAY)
    withdraw(child, carer, [Purpose.PRINT], at=now - DAY)

    assert consents_for_children([child.pk])[child.pk].allowed == frozenset(PURPOSES) - {Purpose.PRINT}


def test_withdrawing_online_also_stops_a_recognisable_face_online(now):
    _, child, (carer,) = family_with_child()
    give(child, carer, at=now - 30 * DAY)
    withdraw(child, carer, [Purpose.ONLINE], at=now - DAY)

    assert not consent_allows(child=child, purpose=Purpose.FACE_ONLINE)
    assert consent_allows(child=child, purpose=Purpose.PHOTOGRAPHED)


def test_a_withdrawal_by_one_carer_wins_over_the_other_carers_yes(now):
    _, child, (mum, dad) = family_with_child(carers=2)
    give(child, mum, at=now - 30 * DAY)
    give(child, dad, at=now - 20 * DAY)
    withdraw(child, dad, [Purpose.TRAINING], at=now - DAY)

    assert not consent_allows(child=child, purpose=Purpose.TRAINING)
    assert states(child)[Purpose.TRAINING] == State.WITHDRAWN
    assert consent_allows(child=child, purpose=Purpose.STORED)


def test_a_new_yes_after_a_withdrawal_by_the_same_carer_allows_again(now):
    _, child, (carer,) = family_with_child()
    give(child, carer, at=now - 30 * DAY)
    withdraw(child, carer, PURPOSES, at=now - 20 * DAY)
    give(child, carer, at=now - 10 * DAY)

    assert consent_allows(child=child, purpose=Purpose.ONLINE)
    assert not consent_allows(child=child, purpose=Purpose.ONLINE, at=now - 15 * DAY)
    assert consent_allows(child=child, purpose=Purpose.ONLINE, at=now - 25 * DAY)


def test_a_new_yes_by_one_carer_does_not_undo_the_other_carers_withdrawal(now):
    _, child, (mum, dad) = family_with_child(carers=2)
    give(child, mum, at=now - 30 * DAY)
    withdraw(child, mum, [Purpose.ONLINE], at=now - 20 * DAY)
    give(child, dad, at=now - 10 * DAY)

    assert not consent_allows(child=child, purpose=Purpose.ONLINE)


def test_a_later_no_by_the_same_carer_replaces_their_yes(now):
    _, child, (carer,) = family_with_child()
    give(child, carer, at=now - 30 * DAY)
    give(child, carer, answers=all_answers(True, print=False), at=now - DAY)

    assert not consent_allows(child=child, purpose=Purpose.PRINT)
    assert consent_allows(child=child, purpose=Purpose.PRINT, at=now - 2 * DAY)


# --- expiry ------------------------------------------------------------------------------


def test_it_expires_after_twelve_months_by_default(now, settings):
    assert settings.FIG_CONSENT_VALID_MONTHS == 12
    _, child, (carer,) = family_with_child()
    given_at = now - relativedelta(months=12) - DAY
    give(child, carer, at=given_at)

    assert not consent_allows(child=child, purpose=Purpose.PHOTOGRAPHED)
    assert states(child)[Purpose.PHOTOGRAPHED] == State.EXPIRED
    assert consent_allows(child=child, purpose=Purpose.PHOTOGRAPHED, at=given_at + relativedelta(months=12) - HOUR)
    assert not consent_allows(child=child, purpose=Purpose.PHOTOGRAPHED, at=given_at + relativedelta(months=12))


def test_it_reports_when_a_consent_expires(now):
    _, child, (mum, dad) = family_with_child(carers=2)
    mum_at, dad_at = now - 100 * DAY, now - 10 * DAY
    give(child, mum, at=mum_at)
    give(child, dad, at=dad_at)

    # Two yeses: the position holds until the later one expires.
    position = consents_for_children([child.pk])[child.pk]
    assert position.expires_at[Purpose.STORED] == dad_at + relativedelta(months=12)


def test_it_uses_the_configured_validity_period(now, settings):
    settings.FIG_CONSENT_VALID_MONTHS = 3
    _, old_child, (old_carer,) = family_with_child()
    _, new_child, (new_carer,) = family_with_child()
    give(old_child, old_carer, at=now - relativedelta(months=3) - DAY)
    give(new_child, new_carer, at=now - relativedelta(months=2))

    assert not consent_allows(child=old_child, purpose=Purpose.STORED)
    assert consent_allows(child=new_child, purpose=Purpose.STORED)
    assert not consent_allows(child=new_child, purpose=Purpose.STORED, at=now + relativedelta(months=1) + DAY)


def test_an_expired_yes_does_not_outweigh_nor_hide_a_current_one(now):
    _, child, (mum, dad) = family_with_child(carers=2)
    give(child, mum, at=now - relativedelta(months=13))
    give(child, dad, at=now - DAY)
    assert consent_allows(child=child, purpose=Purpose.ONLINE)


def test_a_refusal_does_not_expire(now):
    _, child, (mum, dad) = family_with_child(carers=2)
    give(child, mum, answers=all_answers(False), at=now - relativedelta(months=24))
    give(child, dad, at=now - DAY)
    assert not consent_allows(child=child, purpose=Purpose.ONLINE)
    assert states(child)[Purpose.ONLINE] == State.REFUSED


# --- new form versions ----------------------------------------------------------------------


def test_a_new_version_without_reconsent_leaves_old_consents_valid(now):
    _, child, (carer,) = family_with_child()
    record = give(child, carer, at=now - 30 * DAY)
    publish_version(requires_reconsent=False, at=now - DAY)

    assert record.form_version.number == 1
    assert consent_allows(child=child, purpose=Purpose.ONLINE)


def test_a_version_requiring_reconsent_makes_older_consents_outdated_until_signed_again(now):
    _, child, (carer,) = family_with_child()
    give(child, carer, at=now - 30 * DAY)
    published_at = now - 10 * DAY
    version = publish_version(requires_reconsent=True, at=published_at)

    assert not consent_allows(child=child, purpose=Purpose.PHOTOGRAPHED)
    assert set(states(child).values()) == {State.OUTDATED}
    # History: before the new version was published the old consent counted.
    assert consent_allows(child=child, purpose=Purpose.PHOTOGRAPHED, at=published_at - HOUR)

    again = give(child, carer, at=now - DAY)
    assert again.form_version == version
    assert consent_allows(child=child, purpose=Purpose.PHOTOGRAPHED)


def test_a_later_minor_version_keeps_the_reconsent_cut_off(now):
    _, child, (carer,) = family_with_child()
    give(child, carer, at=now - 30 * DAY)
    publish_version(requires_reconsent=True, at=now - 20 * DAY)
    give(child, carer, at=now - 15 * DAY)  # on version 2
    publish_version(requires_reconsent=False, at=now - 10 * DAY)  # version 3

    assert consent_allows(child=child, purpose=Purpose.ONLINE)


def test_an_outdated_consent_does_not_block_another_carers_current_one(now):
    _, child, (mum, dad) = family_with_child(carers=2)
    give(child, mum, at=now - 30 * DAY)
    publish_version(requires_reconsent=True, at=now - 20 * DAY)
    give(child, dad, at=now - 10 * DAY)

    assert consent_allows(child=child, purpose=Purpose.ONLINE)


# --- parental responsibility ---------------------------------------------------------------


def test_a_yes_from_a_carer_without_parental_responsibility_does_not_count(now, coordinator):
    family, child, (carer,) = family_with_child()
    give(child, carer, at=now - DAY)
    assert consent_allows(child=child, purpose=Purpose.ONLINE)

    carer_save(family=family, carer=carer, by=coordinator, has_parental_responsibility=False)
    assert not consent_allows(child=child, purpose=Purpose.ONLINE)
    assert states(child)[Purpose.ONLINE] == State.NONE


def test_a_record_inserted_for_a_carer_without_parental_responsibility_does_not_count(now):
    family, child, _ = family_with_child(carers=0)
    grandparent = CarerFactory(family=family, has_parental_responsibility=False, relationship="grandparent")
    # The services refuse this carer; a row written some other way must not count either.
    ConsentRecord.objects.create(
        child=child,
        carer=grandparent,
        kind=ConsentRecord.Kind.GIVEN,
        identified_by=ConsentRecord.IdentifiedBy.STAFF,
        answers=all_answers(True),
        evidence_sha256="0" * 64,
        signed_at=now - DAY,
    )
    assert not consent_allows(child=child, purpose=Purpose.PHOTOGRAPHED)
    with pytest.raises(ConsentError):
        give(child, grandparent)


def test_a_refusal_from_a_carer_without_parental_responsibility_does_not_block(now, coordinator):
    family, child, (mum, grandad) = family_with_child(carers=2)
    give(child, grandad, answers=all_answers(False), at=now - 2 * DAY)
    give(child, mum, at=now - DAY)
    assert not consent_allows(child=child, purpose=Purpose.PHOTOGRAPHED)

    carer_save(family=family, carer=grandad, by=coordinator, has_parental_responsibility=False)
    assert consent_allows(child=child, purpose=Purpose.PHOTOGRAPHED)


def test_a_carer_from_another_family_does_not_count(now):
    _, child, _ = family_with_child(carers=0)
    _, _, (stranger,) = family_with_child()
    ConsentRecord.objects.create(
        child=child,
        carer=stranger,
        kind=ConsentRecord.Kind.GIVEN,
        identified_by=ConsentRecord.IdentifiedBy.STAFF,
        answers=all_answers(True),
        evidence_sha256="0" * 64,
        signed_at=now - DAY,
    )
    assert not consent_allows(child=child, purpose=Purpose.PHOTOGRAPHED)


# --- a recognisable face online --------------------------------------------------------------


def test_face_online_needs_online_too(now):
    _, child, (carer,) = family_with_child()
    give(child, carer, answers=all_answers(True, online=False), at=now - DAY)

    assert not consent_allows(child=child, purpose=Purpose.FACE_ONLINE)
    assert Purpose.FACE_ONLINE not in consents_for_children([child.pk])[child.pk].expires_at


def test_online_without_face_online_is_allowed(now):
    _, child, (carer,) = family_with_child()
    give(child, carer, answers=all_answers(True, face_online=False), at=now - DAY)

    assert consent_allows(child=child, purpose=Purpose.ONLINE)
    assert not consent_allows(child=child, purpose=Purpose.FACE_ONLINE)


# --- many children ------------------------------------------------------------------------------


def test_children_lacking_lists_the_children_who_stop_a_photo_being_used_for_a_purpose(now):
    _, yes_child, (yes_carer,) = family_with_child()
    _, no_online, (no_online_carer,) = family_with_child()
    _, nobody, _ = family_with_child()
    give(yes_child, yes_carer, at=now - DAY)
    give(no_online, no_online_carer, answers=all_answers(True, online=False), at=now - DAY)

    ids = [yes_child.pk, no_online.pk, nobody.pk]
    assert children_lacking(consents_for_children(ids), [Purpose.ONLINE]) == {no_online.pk, nobody.pk}
    assert children_lacking(consents_for_children(ids), [Purpose.PHOTOGRAPHED]) == {nobody.pk}
    assert children_lacking(consents_for_children(ids, at=now - 2 * DAY), [Purpose.PHOTOGRAPHED]) == set(ids)
    assert children_lacking(consents_for_children([]), [Purpose.PHOTOGRAPHED]) == set()


def test_a_group_may_be_used_only_for_what_every_child_allows(now):
    family, ava, (carer,) = family_with_child()
    ben = ChildFactory(family=family)
    _, cara, (cara_carer,) = family_with_child()
    give(ava, carer, at=now - DAY)
    give(ben, carer, answers=all_answers(True, print=False), at=now - DAY)
    give(cara, cara_carer, answers=all_answers(False, photographed=True, stored=True, print=True), at=now - DAY)

    uses = uses_for_tagged({1: [ava.pk], 2: [ava.pk, ben.pk], 3: [ava.pk, ben.pk, cara.pk]})
    assert uses[1] == frozenset(PURPOSES)
    assert uses[2] == frozenset(PURPOSES) - {Purpose.PRINT}
    assert uses[3] == {Purpose.PHOTOGRAPHED, Purpose.STORED}


def test_a_group_loses_a_use_when_one_childs_consent_is_withdrawn_or_expires(now):
    family, ava, (carer,) = family_with_child()
    _, dan, (dan_carer,) = family_with_child()
    give(ava, carer, at=now - DAY)
    give(dan, dan_carer, at=now - relativedelta(months=12) + 5 * DAY)
    withdraw(ava, carer, [Purpose.TRAINING], at=now - HOUR)

    assert uses_for_tagged({1: [ava.pk, dan.pk]})[1] == frozenset(PURPOSES) - {Purpose.TRAINING}
    assert uses_for_tagged({1: [ava.pk, dan.pk]}, at=now + 6 * DAY)[1] == frozenset()


def test_a_group_with_an_unconsented_child_may_be_used_for_nothing(now):
    _, ava, (carer,) = family_with_child()
    _, nobody, _ = family_with_child()
    give(ava, carer, at=now - DAY)
    assert uses_for_tagged({1: [ava.pk, nobody.pk]})[1] == frozenset()


def _families_with_consents(count: int, now: dt.datetime) -> list[int]:
    ids = []
    for n in range(count):
        _, child, carers = family_with_child(carers=2)
        give(child, carers[0], at=now - 20 * DAY)
        if n % 2:
            withdraw(child, carers[1], [Purpose.ONLINE], at=now - 10 * DAY)
        ids.append(child.pk)
    return ids


def test_consents_for_children_uses_the_same_number_of_queries_for_one_child_or_fifty(now, django_assert_num_queries):
    publish_version(requires_reconsent=True, at=now - 30 * DAY)
    one = _families_with_consents(1, now)
    fifty = _families_with_consents(50, now)

    # Queries: the children's families; their carers with parental responsibility;
    # the newest version requiring re-consent; the records up to `at`.
    with django_assert_num_queries(4):
        small = consents_for_children(one)
    with django_assert_num_queries(4):
        large = consents_for_children(fifty)
    with django_assert_num_queries(4):
        uses_for_tagged({1: fifty})

    assert small[one[0]].allows(Purpose.ONLINE)
    assert sum(large[child_id].allows(Purpose.ONLINE) for child_id in fifty) == 25
    assert all(large[child_id].allows(Purpose.PHOTOGRAPHED) for child_id in fifty)


def test_consents_for_no_children_asks_the_database_nothing(django_assert_num_queries):
    with django_assert_num_queries(0):
        assert consents_for_children([]) == {}
