"""Coordinators' consent pages: the access matrix for every staff URL, and the flows through them.

Personas: the assigned coordinator, a coordinator of another family, the
read-only overseers (social media administrator, CEO), staff without a consent
role (photographer, staff member), a parent, and anonymous people.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.messages import get_messages
from django.core import mail
from django.core.files.storage import storages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from consents.formtext import default_closing, how_long_kept
from consents.mass_email import bulk_request_list, reconsent_list
from consents.models import (
    PURPOSES,
    Carer,
    Child,
    ConsentFormVersion,
    ConsentRecord,
    ConsentRequest,
    Family,
    FamilyUserObjectPermission,
)
from consents.selectors import State, consents_for_children, families_managed_by
from consents.services.form_versions import form_version_current
from consents.services.signing import consent_record_offline
from staff.models import AuditEvent
from tests import factories
from tests.consents.factories import (
    EVIDENCE,
    CarerFactory,
    ChildFactory,
    all_answers,
    family_with_child,
    give,
    publish_version,
    request_for,
    sign,
    withdraw,
)
from tests.photos import images
from tests.query_counts import STAFF_REQUEST_QUERIES

PDF_BYTES = images.pdf()  # a real one-page PDF: a scan is rewritten, so it must open


# --- personas and a small world -----------------------------------------------------------


@pytest.fixture
def other_coordinator(db):
    return factories.staff_user("coordinator", email="other.coordinator@example.org")


@pytest.fixture
def social_admin(db):
    return factories.staff_user("social_admin", email="social@example.org")


@pytest.fixture
def photographer(db):
    return factories.staff_user("photographer", email="photographer@example.org")


@dataclass
class World:
    family: Family
    ava: Child  # consented on a paper form (version 1), with a scan
    ben: Child  # a request is waiting for an answer
    cara: Child  # no answer and no request
    mum: Carer
    record: ConsentRecord
    pending: ConsentRequest
    other_family: Family


@pytest.fixture
def world(coordinator, other_coordinator) -> World:
    family, ava, [mum] = family_with_child(coordinator)
    ben, cara = ChildFactory(family=family), ChildFactory(family=family)
    record = consent_record_offline(
        child=ava,
        carer=mum,
        answers=all_answers(),
        method=ConsentRecord.Method.PAPER,
        taken_by="Sam Jones",
        by=coordinator,
        scan=(PDF_BYTES, "application/pdf"),
        evidence=EVIDENCE,
    )
    pending = request_for(ben, mum)
    publish_version()  # version 2, so re-consent has someone to ask (Ava signed version 1)
    other_family, _, _ = family_with_child(other_coordinator)
    return World(family, ava, ben, cara, mum, record, pending, other_family)


def _answers(value: str = "yes") -> dict[str, str]:
    return {f"purpose_{p}": value for p in PURPOSES}


def _targets(w: World) -> dict[str, tuple[str, dict]]:
    """Every coordinator URL with a valid POST body (which would change something if allowed)."""
    ref, ava = w.family.reference, w.ava.pk
    child = {"first_name": "Newname", "last_name": "Person", "date_of_birth": "2019-03-04"}
    carer = {
        "full_name": "New Carer",
        "relationship": "father",
        "email": "new.carer@example.org",
        "phone": "",
        "has_parental_responsibility": "on",
    }
    form = {
        "introduction": "New words.",
        "closing": default_closing(),
        "requires_reconsent": "on",
        **{f"text_{p}": f"About {p}." for p in PURPOSES},
    }
    return {
        "register": (reverse("consents:register"), {}),
        "family_list": (reverse("consents:family_list"), {}),
        "family_detail": (reverse("consents:family_detail", args=[ref]), {}),
        "child_history": (reverse("consents:child_history", args=[ref, ava]), {}),
        "certificate": (reverse("consents:certificate", args=[w.record.pk]), {}),
        "record_file": (reverse("consents:record_file", args=[w.record.pk, "scan"]), {}),
        "form_versions": (reverse("consents:form_versions"), {}),
        "family_new": (reverse("consents:family_new"), {"notes": "Prefers mornings."}),
        "child_new": (reverse("consents:child_new", args=[ref]), child),
        "child_edit": (reverse("consents:child_edit", args=[ref, ava]), child),
        "carer_new": (reverse("consents:carer_new", args=[ref]), carer),
        "carer_edit": (reverse("consents:carer_edit", args=[ref, w.mum.pk]), carer),
        "request_send": (reverse("consents:request_send", args=[ref, w.cara.pk]), {"carer": "all"}),
        "request_cancel": (reverse("consents:request_cancel", args=[w.pending.pk]), {}),
        "record_offline": (
            reverse("consents:record_offline", args=[ref, w.cara.pk]),
            {"carer": w.mum.pk, "method": "phone", "taken_by": "Sam Jones", **_answers()},
        ),
        "withdraw_for_carer": (
            reverse("consents:withdraw_for_carer", args=[ref, ava]),
            {"carer": w.mum.pk, "purposes": ["online"], "reason": "Rang on Monday."},
        ),
        # Confirmed: each asks first, and sends only the list it showed (test_mass_email_confirm).
        "request_bulk": (reverse("consents:request_bulk"), _confirmed(bulk_request_list, w)),
        "form_version_new": (reverse("consents:form_version_new"), form),
        "reconsent": (reverse("consents:reconsent"), _confirmed(reconsent_list, w)),
    }


def _confirmed(listing, w: World) -> dict[str, str]:
    """The confirmation of a mass request to the world's family (all its coordinator manages)."""
    return {"confirm": "yes", "fingerprint": listing(families=Family.objects.filter(pk=w.family.pk)).fingerprint}


READS = ["register", "family_list", "family_detail", "child_history", "certificate", "record_file", "form_versions"]
CHANGES = [
    "family_new",
    "child_new",
    "child_edit",
    "carer_new",
    "carer_edit",
    "request_send",
    "request_cancel",
    "record_offline",
    "withdraw_for_carer",
    "request_bulk",
    "form_version_new",
    "reconsent",
]
POST_ONLY = {"request_send", "request_cancel"}
FAMILY_PAGES = [
    "family_detail",
    "child_history",
    "certificate",
    "record_file",
    "child_new",
    "child_edit",
    "carer_new",
    "carer_edit",
    "request_send",
    "request_cancel",
    "record_offline",
    "withdraw_for_carer",
]


def _vault_files() -> set[str]:
    return {str(p) for p in settings.FIG_VAULT_DIR.rglob("*") if p.is_file()}


def snapshot() -> dict:
    """Everything a consent view could change."""
    return {
        **{
            model.__name__: model.objects.count()
            for model in (
                Family,
                Child,
                Carer,
                ConsentRequest,
                ConsentRecord,
                ConsentFormVersion,
                AuditEvent,
                FamilyUserObjectPermission,
            )
        },
        "children": list(Child.objects.order_by("pk").values_list("first_name", "last_name", "date_of_birth")),
        "carers": list(Carer.objects.order_by("pk").values_list("full_name", "email", "has_parental_responsibility")),
        "requests": list(ConsentRequest.objects.order_by("pk").values_list("status", flat=True)),
        "vault": _vault_files(),
        "mail": len(mail.outbox),
    }


def _refused_post(client, url: str, data: dict, expected: int, capture) -> None:
    before = snapshot()
    with capture(execute=True) as callbacks:
        response = client.post(url, data)
    assert response.status_code == expected
    assert callbacks == []  # no email or task queued
    assert snapshot() == before


def _messages(response) -> list[str]:
    """The messages this response added (earlier unread ones are kept in front of them)."""
    return [str(m) for m in get_messages(response.wsgi_request)]


def _last_message(response) -> str:
    return _messages(response)[-1]


# --- the access matrix --------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("name", READS + CHANGES)
def test_it_sends_anonymous_people_to_sign_in(client, world, name, django_capture_on_commit_callbacks):
    url, data = _targets(world)[name]
    response = client.post(url, data) if name in POST_ONLY else client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login") + "?next=")
    if name in CHANGES:
        _refused_post(client, url, data, 302, django_capture_on_commit_callbacks)


@pytest.mark.django_db
@pytest.mark.parametrize("persona", ["parent", "photographer", "member_of_staff"])
@pytest.mark.parametrize("name", READS + CHANGES)
def test_it_refuses_people_without_a_consent_role(
    client, world, persona, name, request, django_capture_on_commit_callbacks
):
    client.force_login(request.getfixturevalue(persona))
    url, data = _targets(world)[name]
    assert client.get(url).status_code == 403
    if name in CHANGES:
        _refused_post(client, url, data, 403, django_capture_on_commit_callbacks)


@pytest.mark.django_db
@pytest.mark.parametrize("name", FAMILY_PAGES)
def test_it_hides_a_family_from_a_coordinator_not_assigned_to_it(
    client, world, other_coordinator, name, django_capture_on_commit_callbacks
):
    client.force_login(other_coordinator)
    url, data = _targets(world)[name]
    if name not in POST_ONLY:
        assert client.get(url).status_code == 404
    if name in CHANGES:
        _refused_post(client, url, data, 404, django_capture_on_commit_callbacks)


@pytest.mark.django_db
def test_it_leaves_another_coordinators_family_out_of_their_lists_and_bulk_actions(
    client, world, other_coordinator, django_capture_on_commit_callbacks
):
    client.force_login(other_coordinator)
    for name in ("register", "family_list"):
        response = client.get(_targets(world)[name][0])
        assert response.status_code == 200
        assert world.family.reference not in response.content.decode()
        assert world.other_family.reference in response.content.decode()
    for name in ("request_bulk", "reconsent"):
        confirmation = client.get(reverse(f"consents:{name}"))
        assert world.family.reference not in confirmation.content.decode()
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(
                reverse(f"consents:{name}"),
                {"confirm": "yes", "fingerprint": confirmation.context["listing"].fingerprint},
            )
        assert response.status_code == 302
    # Their own unanswered child was asked; nobody in the family they are not assigned to was.
    assert ConsentRequest.objects.filter(child__family=world.other_family).count() == 1
    assert not ConsentRequest.objects.filter(child__family=world.family).exclude(pk=world.pending.pk).exists()
    assert [m.to for m in mail.outbox] == [[world.other_family.carers.get().email]]


@pytest.mark.django_db
@pytest.mark.parametrize("persona", ["social_admin", "ceo"])
@pytest.mark.parametrize("name", READS)
def test_it_lets_overseers_read_every_family(client, world, persona, name, request):
    client.force_login(request.getfixturevalue(persona))
    url, _ = _targets(world)[name]
    response = client.get(url)
    assert response.status_code == 200
    if name in ("register", "family_list"):
        body = response.content.decode()
        assert world.family.reference in body and world.other_family.reference in body


@pytest.mark.django_db
@pytest.mark.parametrize("persona", ["social_admin", "ceo"])
@pytest.mark.parametrize("name", CHANGES)
def test_it_refuses_overseers_every_change(client, world, persona, name, request, django_capture_on_commit_callbacks):
    client.force_login(request.getfixturevalue(persona))
    url, data = _targets(world)[name]
    if name not in POST_ONLY:
        assert client.get(url).status_code == 403
    _refused_post(client, url, data, 403, django_capture_on_commit_callbacks)


@pytest.mark.django_db
def test_it_shows_overseers_no_change_controls(client, world, social_admin):
    client.force_login(social_admin)
    body = client.get(_targets(world)["child_history"][0]).content.decode()
    assert reverse("consents:request_send", args=[world.family.reference, world.ava.pk]) not in body
    body = client.get(_targets(world)["family_detail"][0]).content.decode()
    assert "Only its coordinators can change it" in body
    assert reverse("consents:child_new", args=[world.family.reference]) not in body


@pytest.mark.django_db
@pytest.mark.parametrize("name", READS + [n for n in CHANGES if n not in POST_ONLY])
def test_it_opens_every_page_for_the_assigned_coordinator(client, world, coordinator, name):
    client.force_login(coordinator)
    assert client.get(_targets(world)[name][0]).status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("name", CHANGES)
def test_it_lets_the_assigned_coordinator_make_every_change(
    client, world, coordinator, name, django_capture_on_commit_callbacks
):
    client.force_login(coordinator)
    url, data = _targets(world)[name]
    before = snapshot()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert snapshot() != before  # the same body that others were refused does change something


@pytest.mark.django_db
@pytest.mark.parametrize("name", READS + CHANGES)
def test_it_refuses_the_wrong_http_method(client, world, coordinator, name, django_capture_on_commit_callbacks):
    client.force_login(coordinator)
    url, data = _targets(world)[name]
    if name in POST_ONLY:
        assert client.get(url).status_code == 405
    elif name in READS:
        _refused_post(client, url, data, 405, django_capture_on_commit_callbacks)
    else:
        assert client.put(url).status_code == 405
        assert client.delete(url).status_code == 405


@pytest.mark.django_db
def test_it_will_not_reach_another_familys_child_or_carer_through_an_assigned_family(
    client, world, coordinator, django_capture_on_commit_callbacks
):
    # The coordinator's own family in the URL, with another family's child or carer id.
    ref = world.family.reference
    outsider = world.other_family.children.get()
    outsider_carer = world.other_family.carers.get()
    client.force_login(coordinator)
    for name in ("child_history", "child_edit", "record_offline", "withdraw_for_carer"):
        assert client.get(reverse(f"consents:{name}", args=[ref, outsider.pk])).status_code == 404
    assert client.get(reverse("consents:carer_edit", args=[ref, outsider_carer.pk])).status_code == 404
    _refused_post(
        client,
        reverse("consents:request_send", args=[ref, outsider.pk]),
        {"carer": "all"},
        404,
        django_capture_on_commit_callbacks,
    )
    # An own child, but another family's carer.
    _refused_post(
        client,
        reverse("consents:request_send", args=[ref, world.cara.pk]),
        {"carer": str(outsider_carer.pk)},
        404,
        django_capture_on_commit_callbacks,
    )
    before = snapshot()
    for name, data in (
        ("record_offline", {"carer": outsider_carer.pk, "method": "phone", "taken_by": "Sam", **_answers()}),
        ("withdraw_for_carer", {"carer": outsider_carer.pk, "purposes": ["online"]}),
    ):
        response = client.post(reverse(f"consents:{name}", args=[ref, world.ava.pk]), data)
        assert response.status_code == 200
        assert "Select a valid choice" in response.content.decode()
    assert snapshot() == before


# --- families, children and carers --------------------------------------------------------


@pytest.mark.django_db
def test_it_creates_a_family_and_assigns_its_creator(client, coordinator):
    client.force_login(coordinator)
    response = client.post(reverse("consents:family_new"), {"notes": "Prefers mornings."})
    family = Family.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("consents:family_detail", args=[family.reference])
    assert re.fullmatch(r"FIG-[A-Z2-9]{6}", family.reference)  # URLs carry a code, never a name
    assert list(families_managed_by(coordinator)) == [family]
    assert AuditEvent.objects.filter(action="family.created", actor=coordinator, target_id=str(family.pk)).exists()
    page = client.get(response["Location"])
    assert page.status_code == 200 and f"Family {family.reference}" in page.content.decode()


@pytest.mark.django_db
def test_it_adds_a_child_and_changes_their_details(client, coordinator):
    family, _, _ = family_with_child(coordinator)
    client.force_login(coordinator)
    response = client.post(
        reverse("consents:child_new", args=[family.reference]),
        {"first_name": "Ava", "last_name": "Jones", "date_of_birth": "2019-03-04"},
    )
    assert response.status_code == 302
    ava = family.children.get(first_name="Ava")
    assert str(ava.date_of_birth) == "2019-03-04"
    response = client.post(
        reverse("consents:child_edit", args=[family.reference, ava.pk]),
        {"first_name": "Ava", "last_name": "Jones-Smith", "date_of_birth": "2019-03-04"},
    )
    assert response.status_code == 302
    ava.refresh_from_db()
    assert ava.last_name == "Jones-Smith"
    assert AuditEvent.objects.filter(action="child.updated", details__changed=["last_name"]).exists()


@pytest.mark.django_db
def test_it_refuses_a_date_of_birth_in_the_future(client, coordinator):
    family, child, _ = family_with_child(coordinator)
    client.force_login(coordinator)
    tomorrow = (timezone.localdate() + timedelta(days=1)).isoformat()
    response = client.post(
        reverse("consents:child_new", args=[family.reference]),
        {"first_name": "Zed", "last_name": "Future", "date_of_birth": tomorrow},
    )
    assert response.status_code == 200
    assert "The date of birth cannot be in the future." in response.content.decode()
    assert list(family.children.all()) == [child]


@pytest.mark.django_db
def test_it_adds_carers_with_and_without_parental_responsibility(client, coordinator):
    family, _, _ = family_with_child(coordinator, carers=0)
    client.force_login(coordinator)
    url = reverse("consents:carer_new", args=[family.reference])
    assert (
        client.post(
            url,
            {
                "full_name": "Maya Jones",
                "relationship": "mother",
                "email": " Maya@Example.ORG",
                "phone": "07700 900123",
                "has_parental_responsibility": "on",
            },
        ).status_code
        == 302
    )
    assert (
        client.post(
            url, {"full_name": "Gran Jones", "relationship": "grandmother", "email": "", "phone": ""}
        ).status_code
        == 302
    )
    carers = {c.full_name: c for c in family.carers.all()}
    assert carers["Maya Jones"].has_parental_responsibility and carers["Maya Jones"].email == "maya@example.org"
    assert not carers["Gran Jones"].has_parental_responsibility
    page = client.get(reverse("consents:family_detail", args=[family.reference])).content.decode()
    assert "Maya Jones" in page and "Gran Jones" in page


@pytest.mark.django_db
def test_it_unlinks_the_old_account_when_a_carers_email_changes(client, coordinator):
    family, child, [mum] = family_with_child(coordinator)
    request_for(child, mum)  # the request gives the carer an account to sign in to
    mum.refresh_from_db()
    old_account = mum.user
    assert old_account is not None
    client.force_login(coordinator)
    response = client.get(reverse("consents:carer_edit", args=[family.reference, mum.pk]))
    assert f'value="{mum.email}"' in response.content.decode()  # the form starts from the saved details
    response = client.post(
        reverse("consents:carer_edit", args=[family.reference, mum.pk]),
        {
            "full_name": mum.full_name,
            "relationship": "mother",
            "email": "maya.new@example.org",
            "phone": "",
            "has_parental_responsibility": "on",
        },
    )
    assert response.status_code == 302
    mum.refresh_from_db()
    assert mum.email == "maya.new@example.org" and mum.user != old_account
    assert AuditEvent.objects.filter(action="carer.updated", details__changed=["email"]).exists()
    client.force_login(old_account)
    assert client.get(reverse("consents:my_child", args=[child.pk])).status_code == 404


@pytest.mark.django_db
def test_it_will_not_edit_a_carer_through_another_family(client, coordinator):
    family, _, _ = family_with_child(coordinator)
    _, _, [outsider] = family_with_child(coordinator)
    client.force_login(coordinator)
    assert client.get(reverse("consents:carer_edit", args=[family.reference, outsider.pk])).status_code == 404


# --- consent requests ---------------------------------------------------------------------


def _sign_path(message) -> str:
    match = re.search(r"https?://[^/\s]+(/consents/sign/[^/\s]+/)", message.body)
    assert match, message.body
    return match.group(1)


@pytest.mark.django_db
def test_it_sends_a_request_to_one_carer_with_a_signing_link(client, coordinator, django_capture_on_commit_callbacks):
    family, child, [mum, dad] = family_with_child(coordinator, carers=2)
    client.force_login(coordinator)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("consents:request_send", args=[family.reference, child.pk]), {"carer": str(mum.pk)}
        )
    assert response["Location"] == reverse("consents:child_history", args=[family.reference, child.pk])
    assert _messages(response) == [f"Consent request sent to {mum.full_name}."]
    consent_request = ConsentRequest.objects.get()
    assert (consent_request.carer, consent_request.status) == (mum, ConsentRequest.Status.PENDING)
    assert [m.to for m in mail.outbox] == [[mum.email]]
    assert child.first_name in mail.outbox[0].subject
    page = client.get(_sign_path(mail.outbox[0]))
    assert page.status_code == 200 and f"Photo consent for {child.first_name}" in page.content.decode()


@pytest.mark.django_db
def test_it_sends_a_request_to_every_carer_with_parental_responsibility(
    client, coordinator, django_capture_on_commit_callbacks
):
    family, child, [mum, dad] = family_with_child(coordinator, carers=2)
    CarerFactory(family=family, has_parental_responsibility=False, relationship="grandmother")
    client.force_login(coordinator)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("consents:request_send", args=[family.reference, child.pk]), {"carer": "all"})
    assert _messages(response) == ["Consent request sent to 2 carers."]
    assert sorted(m.to[0] for m in mail.outbox) == sorted([mum.email, dad.email])
    assert all("/consents/sign/" in m.body for m in mail.outbox)
    assert set(ConsentRequest.objects.values_list("carer", flat=True)) == {mum.pk, dad.pk}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("carer_fields", "message"),
    [
        ({"email": ""}, "has no email address. Record a paper or phone consent instead."),
        ({"has_parental_responsibility": False}, "does not hold parental responsibility, so cannot give consent."),
    ],
)
def test_it_explains_why_a_carer_cannot_be_asked(
    client, coordinator, carer_fields, message, django_capture_on_commit_callbacks
):
    family, child, _ = family_with_child(coordinator, carers=0)
    carer = CarerFactory(family=family, full_name="Pat Example", **carer_fields)
    client.force_login(coordinator)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client.post(
            reverse("consents:request_send", args=[family.reference, child.pk]), {"carer": str(carer.pk)}
        )
    assert response.status_code == 302
    assert _messages(response) == [f"Pat Example {message}"]
    assert callbacks == [] and not ConsentRequest.objects.exists()
    # The same when asking the whole family, where nobody can be asked.
    response = client.post(reverse("consents:request_send", args=[family.reference, child.pk]), {"carer": "all"})
    assert _last_message(response) == "Nobody in this family holds parental responsibility and has an email address."
    assert not ConsentRequest.objects.exists()


@pytest.mark.django_db
def test_it_cancels_a_request_and_its_link_stops_working(client, coordinator, django_capture_on_commit_callbacks):
    family, child, [mum] = family_with_child(coordinator)
    client.force_login(coordinator)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("consents:request_send", args=[family.reference, child.pk]), {"carer": str(mum.pk)})
    consent_request = ConsentRequest.objects.get()
    link = _sign_path(mail.outbox[0])
    response = client.post(reverse("consents:request_cancel", args=[consent_request.pk]))
    assert response["Location"] == reverse("consents:child_history", args=[family.reference, child.pk])
    assert _last_message(response) == "The request is cancelled; its link no longer works."
    consent_request.refresh_from_db()
    assert consent_request.status == ConsentRequest.Status.CANCELLED
    page = client.get(link)
    assert page.status_code == 404 and "This link does not work" in page.content.decode()
    response = client.post(reverse("consents:request_cancel", args=[consent_request.pk]))
    assert _last_message(response) == "Only a pending request can be cancelled."


# --- paper and phone consent, withdrawal by phone -----------------------------------------


def _offline(child_family: Family, child: Child, carer: Carer, scan=None, method: str = "paper", **extra):
    data = {"carer": carer.pk, "method": method, "taken_by": "Sam Jones", "note": "", **_answers(), **extra}
    if scan is not None:
        data["scan"] = scan
    return reverse("consents:record_offline", args=[child_family.reference, child.pk]), data


@pytest.mark.django_db
def test_it_records_a_paper_consent_with_its_scan_encrypted_in_the_vault(client, coordinator):
    family, child, [mum] = family_with_child(coordinator)
    client.force_login(coordinator)
    url, data = _offline(family, child, mum, SimpleUploadedFile("consent.pdf", PDF_BYTES, "application/pdf"))
    response = client.post(url, data)
    assert response["Location"] == reverse("consents:child_history", args=[family.reference, child.pk])
    record = ConsentRecord.objects.get()
    assert (record.method, record.identified_by, record.recorded_by, record.taken_by) == (
        ConsentRecord.Method.PAPER,
        ConsentRecord.IdentifiedBy.STAFF,
        coordinator,
        "Sam Jones",
    )
    assert record.answers == all_answers() and record.scan_content_type == "application/pdf"
    with storages["vault"].open(record.scan_blob, "rb") as handle:
        stored = handle.read()
    assert stored.startswith(b"FIGV") and b"%PDF" not in stored  # sealed, not the plain file
    assert consents_for_children([child.pk])[child.pk].allows("online")

    response = client.get(reverse("consents:record_file", args=[record.pk, "scan"]))
    assert response.status_code == 200
    assert response.content.startswith(b"%PDF")  # rewritten without its metadata (tests/consents/test_scans.py)
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == f'attachment; filename="consent-{record.pk}-scan.pdf"'
    assert response["Cache-Control"] == "private, no-store"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert (
        AuditEvent.objects.filter(action="consent.scan_viewed", actor=coordinator, target_id=str(record.pk)).count()
        == 1
    )
    history = client.get(reverse("consents:child_history", args=[family.reference, child.pk])).content.decode()
    assert "Paper form" in history and "taken by Sam Jones" in history


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("consent.pdf", b"<html><script>alert(1)</script></html>", "Attach a PDF, JPEG or PNG file."),
        ("consent.png", b"GIF89a\x01\x00\x01\x00\x00\x00\x00;", "Attach a PDF, JPEG or PNG file."),
        ("consent.pdf", b"", "The submitted file is empty."),
        (None, None, "Attach the scanned paper form."),
    ],
)
def test_it_refuses_a_disguised_or_missing_scan_and_stores_nothing(client, coordinator, name, content, message):
    family, child, [mum] = family_with_child(coordinator)
    client.force_login(coordinator)
    scan = SimpleUploadedFile(name, content, "application/pdf") if name else None
    url, data = _offline(family, child, mum, scan)
    before = snapshot()
    response = client.post(url, data)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert snapshot() == before


@pytest.mark.django_db
def test_it_refuses_a_scan_over_the_size_limit(client, coordinator, settings):
    settings.FIG_SCAN_MAX_BYTES = 100_000
    family, child, [mum] = family_with_child(coordinator)
    client.force_login(coordinator)
    big = PDF_BYTES + b"0" * 100_001
    url, data = _offline(family, child, mum, SimpleUploadedFile("consent.pdf", big, "application/pdf"))
    before = snapshot()
    response = client.post(url, data)
    assert response.status_code == 200
    assert "The file is too large (the limit is 97.7\xa0KB)." in response.content.decode()
    assert snapshot() == before


@pytest.mark.django_db
def test_it_records_a_phone_consent_without_a_scan(client, coordinator):
    family, child, [mum] = family_with_child(coordinator)
    client.force_login(coordinator)
    url, data = _offline(family, child, mum, method="phone", **{**_answers("no"), "purpose_photographed": "yes"})
    assert client.post(url, data).status_code == 302
    record = ConsentRecord.objects.get()
    assert record.method == ConsentRecord.Method.PHONE and not record.scan_blob
    assert record.answers == all_answers(False, photographed=True)


@pytest.mark.django_db
def test_it_records_a_withdrawal_given_by_phone(client, coordinator, django_capture_on_commit_callbacks):
    family, child, [mum] = family_with_child(coordinator)
    give(child, mum)
    client.force_login(coordinator)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("consents:withdraw_for_carer", args=[family.reference, child.pk]),
            {"carer": mum.pk, "purposes": ["online", "face_online"], "reason": "Rang on Monday."},
        )
    assert response["Location"] == reverse("consents:child_history", args=[family.reference, child.pk])
    record = ConsentRecord.objects.filter(kind=ConsentRecord.Kind.WITHDRAWAL).get()
    assert record.answers == {"online": False, "face_online": False}
    assert (record.identified_by, record.method, record.recorded_by, record.reason) == (
        ConsentRecord.IdentifiedBy.STAFF,
        ConsentRecord.Method.PHONE,
        coordinator,
        "Rang on Monday.",
    )
    states = consents_for_children([child.pk])[child.pk].states
    assert states["online"] == states["face_online"] == State.WITHDRAWN
    assert states["photographed"] == State.GIVEN
    assert [m.to for m in mail.outbox] == [[mum.email]]  # the carer's confirmation


@pytest.mark.django_db
def test_it_asks_what_to_withdraw(client, coordinator):
    family, child, [mum] = family_with_child(coordinator)
    give(child, mum)
    client.force_login(coordinator)
    response = client.post(
        reverse("consents:withdraw_for_carer", args=[family.reference, child.pk]), {"carer": mum.pk, "reason": ""}
    )
    assert response.status_code == 200
    assert "Choose at least one thing to withdraw." in response.content.decode()
    assert ConsentRecord.objects.count() == 1


# --- form versions and re-consent ---------------------------------------------------------


@pytest.mark.django_db
def test_it_publishes_a_new_version_and_asks_families_on_older_ones_to_reconsent(
    client, coordinator, other_coordinator, django_capture_on_commit_callbacks
):
    signed_family, signed_child, [signed_mum] = family_with_child(coordinator)
    give(signed_child, signed_mum)  # on version 1
    _, _, [unasked_mum] = family_with_child(coordinator)  # no consent: nothing to renew
    _, elsewhere_child, [elsewhere_mum] = family_with_child(other_coordinator)
    give(elsewhere_child, elsewhere_mum)  # another coordinator's family
    client.force_login(coordinator)
    # One version only: nobody can have signed an older one (test_truthful_screens).
    assert (
        "Ask families who signed an older version" not in client.get(reverse("consents:form_versions")).content.decode()
    )

    form = {
        "introduction": "Revised words.",
        "closing": default_closing(),
        "requires_reconsent": "on",
        **{f"text_{p}": f"Plain words about {p}." for p in PURPOSES},
    }
    response = client.post(reverse("consents:form_version_new"), form)
    assert response["Location"] == reverse("consents:form_versions")
    version = ConsentFormVersion.objects.get(number=2)
    assert version.requires_reconsent and version.published_by == coordinator
    assert version.purpose_texts["online"] == "Plain words about online."
    assert consents_for_children([signed_child.pk])[signed_child.pk].states["online"] == State.OUTDATED
    assert "Ask families who signed an older version" in client.get(reverse("consents:form_versions")).content.decode()

    confirmation = client.get(reverse("consents:reconsent"))
    assert [(r.child, r.carer) for r in confirmation.context["listing"].recipients] == [(signed_child, signed_mum)]
    assert mail.outbox == []  # nothing is sent before the confirmation
    confirm = {"confirm": "yes", "fingerprint": confirmation.context["listing"].fingerprint}
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("consents:reconsent"), confirm)
    assert _last_message(response) == "1 re-consent request sent."
    assert [m.to for m in mail.outbox] == [[signed_mum.email]]
    assert ConsentRequest.objects.get().form_version == version
    assert unasked_mum.email not in str([m.to for m in mail.outbox])

    # The same confirmation sent twice sends nothing again: the list has changed (Mum has been asked).
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("consents:reconsent"), confirm)
    assert response.status_code == 409
    assert response.context["listing"].emails == 0 and response.context["listing"].skipped == 1
    assert "already been sent this version of the form" in response.content.decode()
    assert len(mail.outbox) == 1
    assert ConsentRequest.objects.get().status == ConsentRequest.Status.PENDING  # its link still works


@pytest.mark.django_db
def test_it_refuses_a_form_version_that_leaves_out_how_long_photos_are_kept(client, coordinator):
    client.force_login(coordinator)
    form_version_current()
    form = {
        "introduction": "Words.",
        "closing": default_closing().replace(how_long_kept(), "We keep photos for a while."),
        **{f"text_{p}": "x" for p in PURPOSES},
    }
    response = client.post(reverse("consents:form_version_new"), form)
    assert response.status_code == 200
    assert response.context["form"].errors["closing"] == [
        f"The closing words must tell parents, word for word: \u201c{how_long_kept()}\u201d"
    ]
    assert how_long_kept() in response.content.decode()
    assert ConsentFormVersion.objects.count() == 1


@pytest.mark.django_db
def test_it_refuses_a_form_version_with_a_missing_purpose_text(client, coordinator):
    client.force_login(coordinator)
    form_version_current()
    form = {
        "introduction": "Words.",
        "closing": default_closing(),
        **{f"text_{p}": "x" for p in PURPOSES},
        "text_online": "",
    }
    response = client.post(reverse("consents:form_version_new"), form)
    assert response.status_code == 200
    assert ConsentFormVersion.objects.count() == 1


# --- history and certificate --------------------------------------------------------------


@pytest.mark.django_db
def test_the_child_history_shows_every_record(client, coordinator):
    family, child, [mum, dad] = family_with_child(coordinator, carers=2)
    now = timezone.now()
    first = give(child, mum, at=now - timedelta(days=30))
    withdrawal = withdraw(child, mum, ["online"], at=now - timedelta(days=20))
    online = sign(request_for(child, dad, at=now - timedelta(days=10)), at=now - timedelta(days=9))
    client.force_login(coordinator)
    response = client.get(reverse("consents:child_history", args=[family.reference, child.pk]))
    body = response.content.decode()
    assert response.status_code == 200
    assert list(response.context["records"]) == [online, withdrawal, first]  # newest first
    for record in (first, online):
        assert reverse("consents:certificate", args=[record.pk]) in body
    assert reverse("consents:certificate", args=[withdrawal.pk]) not in body  # a withdrawal has no form
    assert "Withdrawal" in body and "Photos published online (FiG website and social media): withdrawn" in body
    assert "link sent to their email" in body and "recorded by staff" in body
    assert [r.display_status for r in response.context["requests"]] == ["Signed"]


@pytest.mark.django_db
def test_the_certificate_shows_the_evidence_and_the_text_shown(client, coordinator):
    family, child, [mum] = family_with_child(coordinator)
    consent_request = request_for(child, mum)
    record = sign(consent_request, answers=all_answers(True, face_online=False), typed_name="Maya  Jones")
    client.force_login(coordinator)
    response = client.get(reverse("consents:certificate", args=[record.pk]))
    body = response.content.decode()
    assert response.status_code == 200
    assert record.text_sha256 in body and record.evidence_sha256 in body
    assert len(record.text_sha256) == len(record.evidence_sha256) == 64
    assert "Maya Jones" in body  # the typed name, as saved
    assert EVIDENCE.ip_address in body and EVIDENCE.user_agent in body
    assert "link sent to their email" in body
    assert f"#{consent_request.pk} sent" in body
    assert timezone.localtime(record.signed_at).strftime("%H:%M:%S") in body
    assert "Face may be recognisable in what is published online: <strong>No</strong>" in body
    assert f"FiG Photo Consent Form (version {record.form_version.number})" in body
    assert "I confirm that I have parental responsibility for this child." in body
    assert ConsentRecord.digest(record.text_shown) == record.text_sha256

    image = client.get(reverse("consents:record_file", args=[record.pk, "signature"]))
    assert image.status_code == 200 and image.content.startswith(b"\x89PNG")
    assert image["Cache-Control"] == "private, no-store"
    assert AuditEvent.objects.filter(action="consent.signature_viewed", target_id=str(record.pk)).exists()


@pytest.mark.django_db
@pytest.mark.parametrize("which", ["scan", "signature", "other"])
def test_it_has_no_file_where_a_record_has_none(client, coordinator, which):
    family, child, [mum] = family_with_child(coordinator)
    record = give(child, mum)  # by phone: neither scan nor drawn signature
    client.force_login(coordinator)
    assert client.get(reverse("consents:record_file", args=[record.pk, which])).status_code == 404
    assert not AuditEvent.objects.filter(action__endswith="_viewed").exists()


# --- query counts -------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_family_and_child_pages_have_a_fixed_number_of_queries(client, coordinator, django_assert_num_queries):
    family, child, carers = family_with_child(coordinator, carers=3)
    for _ in range(5):
        kid = ChildFactory(family=family)
        give(kid, carers[0])
        request_for(kid, carers[1])
    give(child, carers[0])
    withdraw(child, carers[1], ["online"])
    give(child, carers[2])
    client.force_login(coordinator)
    client.get(reverse("consents:register"))  # the first request creates the usersession row
    # + family (visible to this coordinator), children, carers, consent positions (children's families,
    # carers with PR, re-consent cutoff, records), can_change (assignment), pending requests with carer and child,
    # the family's coordinators, the coordinators who could be added.
    with django_assert_num_queries(STAFF_REQUEST_QUERIES + 11):
        assert client.get(reverse("consents:family_detail", args=[family.reference])).status_code == 200
    # + family, child, consent position (4), can_change (assignment), carers with PR for the request form,
    # records with carer/form/recorder, requests with carer/form/creator.
    with django_assert_num_queries(STAFF_REQUEST_QUERIES + 10):
        assert client.get(reverse("consents:child_history", args=[family.reference, child.pk])).status_code == 200


@pytest.mark.django_db
def test_the_form_page_warns_when_the_current_version_no_longer_says_what_the_settings_say(
    client, coordinator, settings
):
    settings.FIG_PHOTO_RETENTION_DAYS = 3 * 365
    client.force_login(coordinator)
    page = client.get(reverse("consents:form_versions")).content.decode()
    assert "no longer says what FiG does" not in page
    settings.FIG_PHOTO_RETENTION_DAYS = 2 * 365  # changed after version 1 was published
    page = client.get(reverse("consents:form_versions")).content.decode()
    assert "Version 1 no longer says what FiG does" in page
    assert "We keep photos for up to 2 years and then delete them." in page
    assert "Publish a new version with these words" in page
