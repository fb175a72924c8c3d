"""The coordinator's screens for closing a family, recording (and cancelling) an erasure request, and
downloading everything FiG holds about a family before it is erased (issue 19, points 2 and 3).

Personas: the family's coordinator, a coordinator of another family, the overseers (social media
administrator, CEO), a photographer, a parent, and anonymous people.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth import SESSION_KEY
from django.contrib.messages import get_messages
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from consents.links import request_link_token, review_link_token
from consents.models import Carer, Child, ConsentRecord, ConsentRequest, ErasureRequest, Family
from consents.services import closure, erasure
from fig_safety.times import LONDON
from fig_safety.vault import vault_read
from photos.models import Photo, PhotoAccess
from staff.models import AuditEvent, User
from tests import factories
from tests.consents.factories import ChildFactory, family_with_child, request_for, sign
from tests.photos.fixtures import consented_child, ready_photo
from tests.query_counts import STAFF_REQUEST_QUERIES

_LOGIN_CODE = re.compile(r"^\s*([A-Z0-9]{3,}(?:-[A-Z0-9]{3,})*)\s*$", re.MULTILINE)


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
    family: Family  # open: Ava (consented, one photo), Ben (a request waiting), their mother
    ava: Child
    ben: Child
    mum: Carer  # her account was made when the request was sent
    pending: ConsentRequest
    photo: Photo
    closed: Family  # closed, no erasure waiting
    erasing: Family  # an erasure request waiting (so closed)


@pytest.fixture
def world(coordinator, photographer) -> World:
    family, ava, mum = consented_child(coordinator=coordinator)
    ben = ChildFactory(family=family)
    pending = request_for(ben, mum)
    mum.refresh_from_db()
    photo = ready_photo(family, [ava], photographer)
    closed, _, _ = family_with_child(coordinator)
    closure.family_close(family=closed, by=coordinator, reason="The family moved away.")
    erasing, _, _ = family_with_child(coordinator)
    erasure.erasure_request_record(
        family=erasing, asked_by="The father, by phone", asked_at=timezone.now(), by=coordinator
    )
    mail.outbox.clear()
    return World(family, ava, ben, mum, pending, photo, closed, erasing)


def _asked(at: datetime) -> dict[str, str]:
    local = timezone.localtime(at, LONDON)
    return {"asked_on": f"{local:%Y-%m-%d}", "asked_time": f"{local:%H:%M}"}


def _targets(w: World) -> dict[str, tuple[str, dict]]:
    """Every URL of these screens, with a POST body that would change something if allowed."""
    return {
        "close": (reverse("consents:family_close", args=[w.family.reference]), {"reason": "The family moved away."}),
        "reopen": (reverse("consents:family_reopen", args=[w.closed.reference]), {}),
        "erasure": (
            reverse("consents:family_erasure", args=[w.family.reference]),
            {"asked_by": "The mother, by email", **_asked(timezone.now() - timedelta(hours=2))},
        ),
        "erasure_cancel": (
            reverse("consents:family_erasure_cancel", args=[w.erasing.reference]),
            {"reason": "The father rang back: he changed his mind."},
        ),
        "export": (reverse("consents:family_export", args=[w.family.reference]), {}),
    }


GET_ONLY = {"export"}
POST_ONLY = {"reopen"}


def snapshot() -> dict:
    """Everything these screens could change, or record."""
    return {
        "families": list(Family.objects.order_by("pk").values_list("closed_at", "closed_reason", "erased_at")),
        "erasures": list(ErasureRequest.objects.order_by("pk").values_list("status", "cancel_reason")),
        "requests": list(ConsentRequest.objects.order_by("pk").values_list("status", flat=True)),
        "accounts": list(User.objects.order_by("pk").values_list("is_active", flat=True)),
        "audit": AuditEvent.objects.count(),
        "accesses": PhotoAccess.objects.count(),
    }


def _messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def _family_page(client, family: Family) -> str:
    response = client.get(reverse("consents:family_detail", args=[family.reference]))
    assert response.status_code == 200
    return response.content.decode()


def _login_code(email: str) -> str:
    message = mail.outbox[-1]
    assert message.to == [email]
    match = _LOGIN_CODE.search(message.body)
    assert match, message.body
    return match.group(1)


def _zip(response) -> zipfile.ZipFile:
    return zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))


# --- who may use these screens --------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["close", "reopen", "erasure", "erasure_cancel", "export"])
def test_it_sends_anonymous_people_to_sign_in_and_changes_nothing(client, world, name):
    url, data = _targets(world)[name]
    before = snapshot()
    responses = [] if name in POST_ONLY else [client.get(url)]
    responses += [] if name in GET_ONLY else [client.post(url, data)]
    for response in responses:
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("account_login") + "?next=")
    assert snapshot() == before


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("persona", "status"),
    [
        ("photographer", 403),
        ("member_of_staff", 403),
        ("parent", 403),
        ("social_admin", 403),  # an overseer: sees every family, changes and exports none
        ("ceo", 403),
        ("other_coordinator", 404),  # not even told the family exists
    ],
)
@pytest.mark.parametrize("name", ["close", "reopen", "erasure", "erasure_cancel", "export"])
def test_it_refuses_everyone_but_the_familys_coordinators_and_changes_nothing(
    client, world, persona, status, name, request, django_capture_on_commit_callbacks
):
    client.force_login(request.getfixturevalue(persona))
    url, data = _targets(world)[name]
    before = snapshot()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        if name not in POST_ONLY:
            assert client.get(url).status_code == status
        if name not in GET_ONLY:
            assert client.post(url, data).status_code == status
    assert callbacks == []
    assert snapshot() == before


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["close", "reopen", "erasure", "erasure_cancel", "export"])
def test_it_refuses_the_wrong_http_method(client, world, coordinator, name):
    client.force_login(coordinator)
    url, data = _targets(world)[name]
    before = snapshot()
    if name in POST_ONLY:
        assert client.get(url).status_code == 405
    elif name in GET_ONLY:
        assert client.post(url, data).status_code == 405
    else:
        assert client.put(url).status_code == 405
    assert snapshot() == before


@pytest.mark.django_db
def test_overseers_see_where_a_family_stands_but_no_buttons(client, world, ceo):
    client.force_login(ceo)
    body = _family_page(client, world.erasing)
    assert "Erasure due on" in body
    for url in (
        reverse("consents:family_erasure_cancel", args=[world.erasing.reference]),
        reverse("consents:family_export", args=[world.erasing.reference]),
    ):
        assert url not in body
    body = _family_page(client, world.closed)
    assert "Closed on" in body and "The family moved away." in body
    assert reverse("consents:family_reopen", args=[world.closed.reference]) not in body
    body = _family_page(client, world.family)
    assert "Open" in body
    assert reverse("consents:family_close", args=[world.family.reference]) not in body
    assert reverse("consents:family_erasure", args=[world.family.reference]) not in body


# --- closing a family -----------------------------------------------------------------------


@pytest.mark.django_db
def test_the_close_page_says_what_will_happen(client, world, coordinator, settings):
    settings.FIG_CLOSED_FAMILY_PHOTO_DAYS = 45
    settings.FIG_CLOSED_FAMILY_KEEP_DAYS = 2190
    client.force_login(coordinator)
    body = _family_page(client, world.family)
    assert reverse("consents:family_close", args=[world.family.reference]) in body
    response = client.get(reverse("consents:family_close", args=[world.family.reference]))
    body = response.content.decode()
    assert response.status_code == 200
    assert "The 1 consent request waiting for an answer is cancelled" in body
    assert "Its parents are signed out" in body
    assert "Its photos are deleted 45 days after closing." in body
    assert "Its records are kept for 6 years after closing, then erased" in body


@pytest.mark.django_db
def test_closing_needs_a_reason(client, world, coordinator):
    client.force_login(coordinator)
    before = snapshot()
    response = client.post(reverse("consents:family_close", args=[world.family.reference]), {"reason": "  "})
    assert response.status_code == 400
    assert "Say why FiG is closing this family" in response.content.decode()
    assert snapshot() == before


@pytest.mark.django_db
def test_closing_a_family_kills_its_links_and_sign_in(client, world, coordinator):
    w = world
    sign_path = reverse("consents:sign", args=[request_link_token(w.pending)])
    review_path = reverse("consents:review", args=[review_link_token(carer=w.mum, child=w.ava)])
    assert Client().get(sign_path).status_code == 200
    assert Client().get(review_path).status_code == 200
    parent = Client()
    parent.force_login(w.mum.user)
    assert parent.get(reverse("consents:my_children")).status_code == 200
    # A sign-in code asked for just before the family closes.
    early = Client()
    early.post(reverse("account_request_login_code"), {"email": w.mum.email})
    early_code = _login_code(w.mum.email)

    client.force_login(coordinator)
    response = client.post(
        reverse("consents:family_close", args=[w.family.reference]), {"reason": "The family moved away."}
    )

    assert response.status_code == 302
    assert response["Location"] == reverse("consents:family_detail", args=[w.family.reference])
    assert _messages(response)[-1].startswith(f"Family {w.family.reference} is closed")
    w.family.refresh_from_db()
    assert w.family.closed_at is not None and w.family.closed_by == coordinator
    assert w.family.closed_reason == "The family moved away."
    w.pending.refresh_from_db()
    assert w.pending.status == ConsentRequest.Status.CANCELLED
    assert AuditEvent.objects.filter(action="family.closed", target_id=str(w.family.pk), actor=coordinator).exists()
    # The links answer as a link that does not work.
    for path in (sign_path, review_path):
        page = Client().get(path)
        assert page.status_code == 404
        assert "This link no longer works" in page.content.decode()
    # The parent's session has ended, and signing in again does not work.
    response = parent.get(reverse("consents:my_children"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("account_login"))
    response = early.post(reverse("account_confirm_login_code"), {"code": early_code})
    assert SESSION_KEY not in early.session
    assert response["Location"] == reverse("account_inactive")
    fresh = Client()
    fresh.post(reverse("account_request_login_code"), {"email": w.mum.email})
    assert "there is no FiG Safety account with it" in mail.outbox[-1].body  # allauth sends no code
    assert SESSION_KEY not in fresh.session
    # The family page says so, and offers nothing that no longer makes sense.
    body = _family_page(client, w.family)
    assert "This family is closed" in body and "The family moved away." in body
    assert reverse("consents:child_new", args=[w.family.reference]) not in body
    assert reverse("consents:carer_new", args=[w.family.reference]) not in body
    assert reverse("consents:family_reopen", args=[w.family.reference]) in body
    assert reverse("consents:family_erasure", args=[w.family.reference]) in body
    body = client.get(reverse("consents:child_history", args=[w.family.reference, w.ava.pk])).content.decode()
    assert reverse("consents:request_send", args=[w.family.reference, w.ava.pk]) not in body
    assert reverse("consents:record_offline", args=[w.family.reference, w.ava.pk]) not in body
    assert reverse("consents:withdraw_for_carer", args=[w.family.reference, w.ava.pk]) in body  # still a right


@pytest.mark.django_db
def test_reopening_lets_the_parents_sign_in_again(client, world, coordinator):
    client.force_login(coordinator)
    client.post(reverse("consents:family_close", args=[world.family.reference]), {"reason": "Moved away."})
    world.mum.user.refresh_from_db()
    assert not world.mum.user.is_active

    response = client.post(reverse("consents:family_reopen", args=[world.family.reference]))

    assert response["Location"] == reverse("consents:family_detail", args=[world.family.reference])
    assert _messages(response)[-1].startswith(f"Family {world.family.reference} is open again")
    world.family.refresh_from_db()
    assert world.family.closed_at is None
    parent = Client()
    parent.post(reverse("account_request_login_code"), {"email": world.mum.email})
    parent.post(reverse("account_confirm_login_code"), {"code": _login_code(world.mum.email)})
    assert int(parent.session[SESSION_KEY]) == world.mum.user.pk
    assert parent.get(reverse("consents:my_children")).status_code == 200
    # Its cancelled link stays cancelled.
    assert Client().get(reverse("consents:sign", args=[request_link_token(world.pending)])).status_code == 404


@pytest.mark.django_db
def test_a_closed_family_takes_no_new_children_carers_or_consents(client, world, coordinator):
    client.force_login(coordinator)
    ref, ava = world.closed.reference, world.closed.children.get()
    before = snapshot()
    for url in (
        reverse("consents:child_new", args=[ref]),
        reverse("consents:carer_new", args=[ref]),
        reverse("consents:record_offline", args=[ref, ava.pk]),
    ):
        response = client.get(url)
        assert response["Location"] == reverse("consents:family_detail", args=[ref])
        assert _messages(response)[-1] == f"Family {ref} is closed: open it again first."
    response = client.post(reverse("consents:request_send", args=[ref, ava.pk]), {"carer": "all"})
    assert _messages(response)[-1] == f"Family {ref} is closed: FiG no longer asks it for consent."
    assert snapshot() == before
    # A second close, or a reopen of an open family, says so and changes nothing.
    response = client.get(reverse("consents:family_close", args=[ref]))
    assert _messages(response)[-1] == "This family is already closed."
    response = client.post(reverse("consents:family_reopen", args=[world.family.reference]))
    assert _messages(response)[-1] == "This family is not closed."
    assert snapshot() == before


# --- erasure requests ------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_erasure_form_offers_the_export_and_says_what_goes_and_when(client, world, coordinator, settings):
    settings.FIG_ERASURE_REVIEW_DAYS = 30
    client.force_login(coordinator)
    body = _family_page(client, world.family)
    assert reverse("consents:family_erasure", args=[world.family.reference]) in body
    response = client.get(reverse("consents:family_erasure", args=[world.family.reference]))
    body = response.content.decode()
    assert response.status_code == 200
    assert reverse("consents:family_export", args=[world.family.reference]) in body
    assert "Download everything we hold about this family (zip)" in body
    due = timezone.localtime(timezone.now() + timedelta(days=30), LONDON)
    assert f"on {due.day} {due:%B %Y}" in body
    assert "Signatures, scanned paper forms" in body and "The evidence that consent existed" in body
    # Who asked is blank; when defaults to now, on London's clock.
    now = timezone.localtime(timezone.now(), LONDON)
    assert response.context["form"]["asked_on"].value() == now.date()
    assert response.context["form"]["asked_time"].value().strftime("%H") == now.strftime("%H")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"asked_by": ""}, "Say who asked"),
        ({"asked_by": "  "}, "Say who asked"),
        ({"asked_on": ""}, "Give the day they asked."),
        ({"asked_time": "25:99"}, "Give the time they asked, like 14:30."),
        (_asked(timezone.now() + timedelta(days=1)), "When they asked cannot be in the future."),
    ],
    ids=["no-one", "blank", "no-day", "bad-time", "future"],
)
def test_recording_an_erasure_request_checks_what_is_given(client, world, coordinator, data, error):
    client.force_login(coordinator)
    url, valid = _targets(world)["erasure"]
    before = snapshot()
    response = client.post(url, {**valid, **data})
    assert response.status_code == 400
    assert error in response.content.decode()
    assert snapshot() == before


@pytest.mark.django_db
def test_it_records_one_erasure_request_and_shows_when_it_is_due(client, world, coordinator, settings):
    settings.FIG_ERASURE_REVIEW_DAYS = 30
    client.force_login(coordinator)
    url = reverse("consents:family_erasure", args=[world.family.reference])
    # 10:15 on a summer's day in London is 09:15 UTC.
    data = {"asked_by": "The mother, by email", "asked_on": "2025-07-01", "asked_time": "10:15"}

    response = client.post(url, data)
    again = client.post(url, data)  # a double submit

    assert response["Location"] == reverse("consents:family_detail", args=[world.family.reference])
    recorded = ErasureRequest.objects.get(family=world.family)
    assert recorded.status == ErasureRequest.Status.WAITING
    assert recorded.asked_by == "The mother, by email" and recorded.recorded_by == coordinator
    assert recorded.asked_at == datetime(2025, 7, 1, 9, 15, tzinfo=UTC)
    assert recorded.due_at == recorded.recorded_at + timedelta(days=30)
    due = timezone.localtime(recorded.due_at, LONDON)
    assert f"erased on {due:%A} {due.day} {due:%B %Y}" in _messages(response)[-1]
    assert again["Location"] == response["Location"]
    assert _messages(again)[-1] == "An erasure request for this family is already waiting: nothing new was recorded."
    assert AuditEvent.objects.filter(action="family.erasure_requested", target_id=str(world.family.pk)).count() == 1
    world.family.refresh_from_db()
    assert world.family.closed_at is not None  # recording it closes the family
    body = _family_page(client, world.family)
    assert f"Erasure due on {due.day} {due:%B %Y}" in body
    assert "The mother, by email asked on 1 July 2025 at 10:15" in body
    assert reverse("consents:family_export", args=[world.family.reference]) in body
    assert reverse("consents:family_erasure_cancel", args=[world.family.reference]) in body
    assert reverse("consents:family_reopen", args=[world.family.reference]) not in body  # cancel it first


@pytest.mark.django_db
def test_cancelling_an_erasure_needs_a_reason(client, world, coordinator):
    client.force_login(coordinator)
    url, _ = _targets(world)["erasure_cancel"]
    body = client.get(url).content.decode()
    assert "The father, by phone asked on" in body
    before = snapshot()
    response = client.post(url, {"reason": ""})
    assert response.status_code == 400
    assert "Say why the erasure will not go ahead." in response.content.decode()
    assert snapshot() == before

    response = client.post(url, {"reason": "He rang back: he changed his mind."})

    assert response["Location"] == reverse("consents:family_detail", args=[world.erasing.reference])
    waiting = ErasureRequest.objects.get(family=world.erasing)
    assert waiting.status == ErasureRequest.Status.CANCELLED and waiting.cancelled_by == coordinator
    assert waiting.cancel_reason == "He rang back: he changed his mind."
    assert AuditEvent.objects.filter(action="family.erasure_cancelled", target_id=str(world.erasing.pk)).exists()
    body = _family_page(client, world.erasing)
    assert "Erasure due" not in body
    assert reverse("consents:family_reopen", args=[world.erasing.reference]) in body
    response = client.get(url)  # nothing waits now
    assert _messages(response)[-1] == "No erasure request is waiting for this family."


# --- the subject access export -------------------------------------------------------------


@pytest.mark.django_db
def test_the_family_page_offers_its_coordinators_the_export(client, world, coordinator):
    client.force_login(coordinator)
    body = _family_page(client, world.family)
    assert reverse("consents:family_export", args=[world.family.reference]) in body
    assert "Download everything we hold about this family (zip)" in body


@pytest.mark.django_db
def test_the_export_is_a_zip_of_everything_held_and_is_audited(client, world, coordinator):
    signed = sign(world.pending)
    client.force_login(coordinator)

    response = client.get(reverse("consents:family_export", args=[world.family.reference]))

    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"] == f'attachment; filename="family-{world.family.reference}-export.zip"'
    assert "no-store" in response["Cache-Control"]
    archive = _zip(response)
    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["family"]["reference"] == world.family.reference
    assert manifest["exported_by"] == coordinator.email
    assert manifest["problems"] == []
    assert {c["id"] for c in manifest["children"]} == {world.ava.pk, world.ben.pk}
    [photo] = manifest["photos"]
    assert archive.read(photo["file"]) == vault_read(name=world.photo.original_blob, key_id=world.photo.original_key_id)
    record = next(r for r in manifest["consent_records"] if r["id"] == signed.pk)
    assert archive.read(record["signature"]["path"]).startswith(b"\x89PNG")
    assert record["text_shown"] == signed.text_shown
    assert sorted(archive.namelist()) == sorted(["manifest.json", photo["file"], record["signature"]["path"]])
    # Audited and access-logged, as the command does.
    event = AuditEvent.objects.get(action="family.exported")
    assert event.actor == coordinator and event.target_id == str(world.family.pk)
    assert event.details["photos"] == 1 and event.details["out"] == "download"
    access = PhotoAccess.objects.get(action=PhotoAccess.Action.EXPORT)
    assert access.photo_id == world.photo.pk and access.user == coordinator
    assert [a["action"] for a in photo["access_log"]] == ["export"]


# --- lists ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_lists_leave_closed_families_out_unless_asked(client, world, coordinator):
    client.force_login(coordinator)
    families = reverse("consents:family_list")
    body = client.get(families).content.decode()
    assert world.family.reference in body
    assert world.closed.reference not in body and world.erasing.reference not in body
    body = client.get(families, {"closed": "on"}).content.decode()
    assert world.closed.reference in body and world.erasing.reference in body
    assert body.count('<span class="badge badge-warning">Closed</span>') == 2

    register = reverse("consents:register")
    rows = client.get(register).context["rows"]
    assert {r.family_reference for r in rows} == {world.family.reference}
    response = client.get(register, {"closed": "on"})
    assert {r.family_state for r in response.context["rows"] if r.family_reference == world.closed.reference} == {
        "closed"
    }
    assert '<span class="badge badge-warning">Closed</span>' in response.content.decode()
    # A family asked for by its reference is shown, closed or not.
    rows = client.get(register, {"family": world.closed.reference}).context["rows"]
    assert [r.family_reference for r in rows] == [world.closed.reference]


@pytest.mark.django_db
def test_the_family_list_of_closed_and_erased_families_needs_one_query(
    client, world, coordinator, django_assert_num_queries
):
    erasure.family_erase(family_id=world.erasing.pk, reason="Test.")
    client.force_login(coordinator)
    client.get(reverse("consents:register"))
    # + the families with their counts of children and carers (one query), as for open ones only.
    with django_assert_num_queries(STAFF_REQUEST_QUERIES + 1):
        response = client.get(reverse("consents:family_list"), {"closed": "on"})
    assert len(response.context["families"]) == 3
    assert '<span class="badge badge-danger">Erased</span>' in response.content.decode()


@pytest.mark.django_db
def test_a_closed_familys_page_needs_two_more_queries_than_an_open_one(
    client, world, coordinator, django_assert_num_queries
):
    client.force_login(coordinator)
    client.get(reverse("consents:register"))
    # The open family's page: as pinned in test_views_coordinator (+ 11, for a family with one pending request).
    with django_assert_num_queries(STAFF_REQUEST_QUERIES + 11):
        _family_page(client, world.family)
    # + who closed it, and the erasure request waiting (with who recorded it).
    with django_assert_num_queries(STAFF_REQUEST_QUERIES + 11 + 2):
        _family_page(client, world.erasing)


# --- pages about erased records ------------------------------------------------------------


@pytest.mark.django_db
def test_pages_about_an_erased_family_show_what_is_kept(client, world, coordinator):
    signed = sign(world.pending)
    erasure.family_erase(family_id=world.family.pk, reason="Erasure request #1")
    world.family.refresh_from_db()
    signed.refresh_from_db()
    assert signed.text_shown == "" and signed.typed_name == "" and signed.signature_blob == ""
    erased_on = f"Erased on {timezone.localtime(world.family.erased_at, LONDON):%-d %B %Y}"
    kept = f"{erased_on}: only the evidence that consent existed is kept."
    client.force_login(coordinator)

    body = _family_page(client, world.family)
    assert kept in body
    assert reverse("consents:family_erasure", args=[world.family.reference]) not in body
    assert reverse("consents:family_reopen", args=[world.family.reference]) not in body
    for url in (
        reverse("consents:child_history", args=[world.family.reference, world.ben.pk]),
        reverse("consents:certificate", args=[signed.pk]),
    ):
        response = client.get(url)
        assert response.status_code == 200
        assert kept in response.content.decode()
    certificate = client.get(reverse("consents:certificate", args=[signed.pk])).content.decode()
    assert signed.text_sha256 in certificate
    assert reverse("consents:record_file", args=[signed.pk, "signature"]) not in certificate
    response = client.get(reverse("consents:register"), {"closed": "on"})
    assert response.status_code == 200
    assert '<span class="badge badge-danger">Erased</span>' in response.content.decode()
    # Nothing more is recorded for it, not even a withdrawal (its photos are gone).
    response = client.get(reverse("consents:withdraw_for_carer", args=[world.family.reference, world.ben.pk]))
    assert _messages(response)[-1].endswith("has been erased: nothing more is recorded for it.")
    response = client.get(reverse("consents:family_erasure", args=[world.family.reference]))
    assert _messages(response)[-1] == "This family's data has already been erased."
    assert ConsentRecord.objects.filter(child__family=world.family).count() == 2
