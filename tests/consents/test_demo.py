"""`seed_demo`'s consent data (issue 3, point 12): DEMO-1 consented to everything, DEMO-2 to being
photographed and kept only, DEMO-3 waiting on one request; all coordinated by coordinator@example.org.
Read through the one consent function, as every other part of the app reads it."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from consents.models import PURPOSES, Carer, Child, ConsentRecord, ConsentRequest, Family, Purpose
from consents.selectors import State, consent_allows, consents_for_children, families_managed_by
from staff.models import AuditEvent, User
from tests.consents.factories import frozen, publish_version, withdraw

pytestmark = pytest.mark.django_db

CHILDREN = {"DEMO-1": ["Ava Demo", "Ben Demo"], "DEMO-2": ["Cara Demo"], "DEMO-3": ["Dan Demo"]}
KEPT_ONLY = {Purpose.PHOTOGRAPHED, Purpose.STORED}


@pytest.fixture
def policy_file(tmp_path, settings):
    path = tmp_path / "esafety-policy.txt"
    path.write_text("FiG eSafety policy\n\n1. Photos need written consent.\n", encoding="utf-8")
    settings.FIG_POLICY_FILE = str(path)


def _seed() -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def _child(name: str) -> Child:
    first, last = name.split()
    return Child.objects.get(family__reference__startswith="DEMO-", first_name=first, last_name=last)


def _states() -> dict[str, dict[str, str]]:
    children = {name: _child(name) for names in CHILDREN.values() for name in names}
    positions = consents_for_children([child.pk for child in children.values()])
    return {name: positions[child.pk].states for name, child in children.items()}


def _counts() -> dict[str, int]:
    return {
        "families": Family.objects.count(),
        "children": Child.objects.count(),
        "carers": Carer.objects.count(),
        "records": ConsentRecord.objects.count(),
        "requests": ConsentRequest.objects.count(),
        "consent audit": AuditEvent.objects.filter(action__regex=r"^(family|consent|child|carer)\.").count(),
    }


def _assert_as_specified() -> None:
    for reference, names in CHILDREN.items():
        family = Family.objects.get(reference=reference)
        assert sorted(str(child) for child in family.children.all()) == names
    parent = Carer.objects.get(family__reference="DEMO-1")
    assert parent.email == "parent@example.org" and parent.has_parental_responsibility
    assert parent.user == User.objects.get(email="parent@example.org")

    states = _states()
    for name in ("Ava Demo", "Ben Demo"):
        assert states[name] == dict.fromkeys(PURPOSES, State.GIVEN), name
        assert all(consent_allows(child=_child(name), purpose=p) for p in PURPOSES)
    assert states["Cara Demo"] == {p: State.GIVEN if p in KEPT_ONLY else State.REFUSED for p in PURPOSES}
    assert not consent_allows(child=_child("Cara Demo"), purpose=Purpose.ONLINE)
    assert states["Dan Demo"] == dict.fromkeys(PURPOSES, State.NONE)

    dan = _child("Dan Demo")
    [pending] = ConsentRequest.objects.filter(child=dan, status=ConsentRequest.Status.PENDING)
    assert pending.is_open and pending.carer.email == "carer3@example.org"
    assert not dan.consent_records.exists()

    coordinator = User.objects.get(email="coordinator@example.org")
    assert set(families_managed_by(coordinator).values_list("reference", flat=True)) >= set(CHILDREN)


def test_it_seeds_the_three_demo_families(policy_file):
    output = _seed()

    _assert_as_specified()
    assert "Family DEMO-1: Ava Demo, Ben Demo (carer parent@example.org)" in output
    # No record claims an emailed link that was never sent: these were recorded by the coordinator.
    for record in ConsentRecord.objects.filter(child__family__reference__in=["DEMO-1", "DEMO-2"]):
        assert record.identified_by == ConsentRecord.IdentifiedBy.STAFF
        assert record.method == ConsentRecord.Method.PHONE
        assert record.recorded_by.email == "coordinator@example.org"
    assert not ConsentRecord.objects.filter(identified_by=ConsentRecord.IdentifiedBy.EMAIL_LINK, request=None).exists()


def test_a_second_run_adds_nothing(policy_file):
    _seed()
    before = _counts()
    _seed()
    assert _counts() == before
    _assert_as_specified()


def test_a_run_a_year_later_brings_the_demo_consents_back_and_a_third_adds_nothing(policy_file):
    _seed()
    records = ConsentRecord.objects.count()
    later = timezone.now() + timedelta(days=400)
    with frozen(later):
        assert _states()["Ava Demo"]["online"] == State.EXPIRED
        assert consents_for_children([_child("Cara Demo").pk])[_child("Cara Demo").pk].states["stored"] == State.EXPIRED

        _seed()
        _assert_as_specified()  # consented again; Dan's expired request replaced by an open one
        assert ConsentRecord.objects.count() == records + 3  # Ava, Ben and Cara, once each
        assert (
            ConsentRequest.objects.filter(child=_child("Dan Demo"), status=ConsentRequest.Status.CANCELLED).count() == 1
        )

        counts = _counts()
        _seed()
        assert _counts() == counts


def test_a_new_form_version_needing_reconsent_is_signed_again_by_the_next_run(policy_file):
    _seed()
    publish_version(requires_reconsent=True)
    assert _states()["Ben Demo"]["training"] == State.OUTDATED
    _seed()
    _assert_as_specified()


def test_a_withdrawal_made_in_the_demo_is_left_alone(policy_file):
    _seed()
    ava = _child("Ava Demo")
    withdraw(ava, Carer.objects.get(family__reference="DEMO-1"), ["online"])
    before = _counts()
    _seed()
    assert _counts() == before
    assert _states()["Ava Demo"]["online"] == State.WITHDRAWN
