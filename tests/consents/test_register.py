"""The consent register: children against purposes, its filters, the CSV export, the bulk request
action, and a query count that does not grow with the number of children."""

from __future__ import annotations

import csv
import io
import math
import re
from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from consents.models import (
    PURPOSES,
    Carer,
    Child,
    ConsentRecord,
    ConsentRequest,
    Family,
    FamilyUserObjectPermission,
)
from consents.selectors import State, consents_for_children, families_visible_to
from consents.services.form_versions import form_version_current
from consents.services.signing import consent_record_offline
from staff.models import AuditEvent
from tests import factories
from tests.consents.factories import (
    EVIDENCE,
    CarerFactory,
    ChildFactory,
    FamilyFactory,
    all_answers,
    assign,
    family_with_child,
    give,
    publish_version,
    request_for,
    sign,
    withdraw,
)
from tests.photos import images
from tests.query_counts import STAFF_REQUEST_QUERIES

REGISTER = reverse("consents:register")
DAY = timedelta(days=1)


@pytest.fixture
def other_coordinator(db):
    return factories.staff_user("coordinator", email="other.coordinator@example.org")


@dataclass
class Register:
    family: Family  # Ava (all yes), Ben (online refused), Cara (request pending), Dan (nothing)
    second: Family  # Finn (everything withdrawn)
    elsewhere: Family  # another coordinator's: Gus (nothing)
    mum: Carer


@pytest.fixture
def register(coordinator, other_coordinator) -> Register:
    family, ava, [mum] = family_with_child(coordinator)
    Child.objects.filter(pk=ava.pk).update(first_name="Ava", last_name="Jones")
    ben, cara, dan = (
        ChildFactory(family=family, first_name=name, last_name="Jones") for name in ("Ben", "Cara", "Dan")
    )
    give(ava, mum)
    give(ben, mum, all_answers(True, online=False))
    request_for(cara, mum)
    second, finn, [dad] = family_with_child(coordinator)
    Child.objects.filter(pk=finn.pk).update(first_name="Finn", last_name="Brown")
    give(finn, dad)
    withdraw(finn, dad, PURPOSES)
    elsewhere, gus, _ = family_with_child(other_coordinator)
    Child.objects.filter(pk=gus.pk).update(first_name="Gus", last_name="Other")
    return Register(family, second, elsewhere, mum)


def _states(response) -> dict[str, dict[str, str]]:
    return {row.child_name: row.states for row in response.context["rows"]}


def _names(response) -> list[str]:
    return [row.child_name for row in response.context["rows"]]


def _csv(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.content.decode("utf-8"))))


# --- the table ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_shows_every_child_against_every_purpose_with_its_state(client, coordinator, register):
    client.force_login(coordinator)
    response = client.get(REGISTER)
    assert response.status_code == 200
    states = _states(response)
    assert sorted(states) == ["Ava Jones", "Ben Jones", "Cara Jones", "Dan Jones", "Finn Brown"]
    assert states["Ava Jones"] == dict.fromkeys(PURPOSES, State.GIVEN)
    assert states["Ben Jones"] == {
        **dict.fromkeys(PURPOSES, State.GIVEN),
        "online": State.REFUSED,
        "face_online": State.REFUSED,
    }  # a face online needs online at all
    assert states["Cara Jones"] == dict.fromkeys(PURPOSES, State.PENDING)
    assert states["Dan Jones"] == dict.fromkeys(PURPOSES, State.NONE)
    assert states["Finn Brown"] == dict.fromkeys(PURPOSES, State.WITHDRAWN)
    body = response.content.decode()
    for label in ("Consented", "Refused", "Request pending", "No answer", "Withdrawn"):
        assert label in body
    assert "Gus Other" not in body and register.elsewhere.reference not in body
    assert 'href="%s"' % reverse("consents:request_bulk") in body  # it asks first (test_mass_email_confirm)


@pytest.mark.django_db
def test_it_shows_overseers_every_family_without_the_bulk_action(client, ceo, register):
    client.force_login(ceo)
    response = client.get(REGISTER)
    assert "Gus Other" in _names(response) and "Ava Jones" in _names(response)
    assert reverse("consents:request_bulk") not in response.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("state=pending", ["Cara Jones"]),
        ("state=none", ["Dan Jones"]),
        ("state=withdrawn", ["Finn Brown"]),
        ("state=given", ["Ava Jones", "Ben Jones"]),
        ("purpose=online&state=refused", ["Ben Jones"]),
        ("purpose=photographed&state=refused", []),
        ("purpose=photographed&state=given", ["Ava Jones", "Ben Jones"]),
    ],
)
def test_it_filters_by_purpose_and_state(client, coordinator, register, query, expected):
    client.force_login(coordinator)
    response = client.get(f"{REGISTER}?{query}")
    assert response.status_code == 200
    assert _names(response) == expected
    if not expected:
        assert "No children match." in response.content.decode()


@pytest.mark.django_db
def test_it_filters_by_family(client, coordinator, register):
    client.force_login(coordinator)
    assert _names(client.get(REGISTER, {"family": register.second.reference})) == ["Finn Brown"]
    assert _names(client.get(REGISTER, {"family": f" {register.second.reference.lower()} "})) == ["Finn Brown"]
    # Filtering cannot reach a family the coordinator is not assigned to.
    assert _names(client.get(REGISTER, {"family": register.elsewhere.reference})) == []
    both = client.get(REGISTER, {"family": register.family.reference, "state": "none"})
    assert _names(both) == ["Dan Jones"]


# --- the CSV export -----------------------------------------------------------------------


@pytest.mark.django_db
def test_it_exports_the_register_as_csv(client, coordinator, register):
    client.force_login(coordinator)
    response = client.get(REGISTER, {"format": "csv"})
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="consent-register-')
    header, *rows = _csv(response)
    assert header == ["family", "child", "date_of_birth", *PURPOSES, "consent_expires", "given", "latest_request"]
    by_child = {row[1]: dict(zip(header, row, strict=True)) for row in rows}
    assert sorted(by_child) == ["Ava Jones", "Ben Jones", "Cara Jones", "Dan Jones", "Finn Brown"]
    ava = by_child["Ava Jones"]
    assert ava["family"] == register.family.reference and ava["date_of_birth"] == "2018-05-17"
    assert [ava[p] for p in PURPOSES] == ["given"] * len(PURPOSES)
    expected_expiry = (timezone.now() + timedelta(days=365)).date()
    assert abs((timezone.datetime.fromisoformat(ava["consent_expires"]).date() - expected_expiry).days) <= 2
    assert by_child["Ben Jones"]["online"] == "refused"
    assert by_child["Cara Jones"]["latest_request"] == "pending"
    assert ava["given"] == "phone"  # the factories record consents as given by phone
    assert by_child["Dan Jones"]["given"] == ""
    assert by_child["Dan Jones"]["consent_expires"] == "" and by_child["Dan Jones"]["photographed"] == "none"
    assert AuditEvent.objects.filter(
        action="consents.register_exported", actor=coordinator, details={"rows": 5}
    ).exists()


@pytest.mark.django_db
def test_the_csv_export_keeps_the_filters(client, coordinator, register):
    client.force_login(coordinator)
    _, *rows = _csv(client.get(REGISTER, {"state": "pending", "format": "csv"}))
    assert [row[1] for row in rows] == ["Cara Jones"]
    # The register's own download link carries the filters.
    page = client.get(REGISTER, {"state": "pending"}).content.decode()
    assert "?state=pending&amp;format=csv" in page


@pytest.mark.django_db
@pytest.mark.parametrize("first_name", ['=HYPERLINK("http://evil.example","x")', "+1+1", "-2+3", "@SUM(A1)"])
def test_the_csv_export_defuses_names_a_spreadsheet_would_run(client, coordinator, first_name):
    family, child, _ = family_with_child(coordinator)
    Child.objects.filter(pk=child.pk).update(first_name=first_name, last_name="Smith")
    client.force_login(coordinator)
    _, row = _csv(client.get(REGISTER, {"format": "csv"}))
    assert row[1] == f"'{first_name} Smith"
    assert all(not cell.startswith(("=", "+", "-", "@")) for cell in row)


@pytest.mark.django_db
def test_the_csv_export_is_refused_to_staff_without_a_consent_role(client, register):
    client.force_login(factories.staff_user("photographer"))
    assert client.get(REGISTER, {"format": "csv"}).status_code == 403
    assert not AuditEvent.objects.filter(action="consents.register_exported").exists()


# --- how each consent was given, and where each request stands ----------------------------


SCAN = (images.pdf(), "application/pdf")


@pytest.fixture
def answered(coordinator) -> Family:
    """One family: Pia's consent is on paper, Sol signed the emailed link, Del said no to everything."""
    family, pia, [mum] = family_with_child(coordinator)
    Child.objects.filter(pk=pia.pk).update(first_name="Pia", last_name="Reed")
    sol, dell = (ChildFactory(family=family, first_name=name, last_name="Reed") for name in ("Sol", "Del"))
    consent_record_offline(
        child=pia,
        carer=mum,
        answers=all_answers(),
        method=ConsentRecord.Method.PAPER,
        taken_by="Sam Jones",
        by=coordinator,
        scan=SCAN,
        evidence=EVIDENCE,
    )
    sign(request_for(sol, mum))
    sign(request_for(dell, mum), answers=all_answers(False))
    return family


def _html_rows(body: str) -> dict[str, list[str]]:
    """The register table's cells, as text, by child name."""
    rows = {}
    for row in re.findall(r"<tr>(.*?)</tr>", body.split("<tbody>", 1)[1], flags=re.S):
        cells = [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)]
        rows[cells[1]] = cells
    return rows


@pytest.mark.django_db
def test_it_shows_how_each_consent_was_given_and_the_answered_request_states(client, coordinator, answered):
    client.force_login(coordinator)
    body = client.get(REGISTER).content.decode()
    rows = _html_rows(body)
    # Family, child, six purposes, expires, given, latest request.
    assert rows["Pia Reed"][-2:] == ["On paper", "—"]  # no request: the paper form was all there was
    assert rows["Sol Reed"][-2:] == ["Online", "Signed"]
    assert rows["Del Reed"][-2:] == ["Online", "Declined"]
    assert rows["Del Reed"][2:8] == ["Refused"] * len(PURPOSES)

    header, *exported = _csv(client.get(REGISTER, {"format": "csv"}))
    by_child = {row[1]: dict(zip(header, row, strict=True)) for row in exported}
    assert (by_child["Pia Reed"]["given"], by_child["Pia Reed"]["latest_request"]) == ("paper", "")
    assert (by_child["Sol Reed"]["given"], by_child["Sol Reed"]["latest_request"]) == ("online", "signed")
    assert (by_child["Del Reed"]["given"], by_child["Del Reed"]["latest_request"]) == ("online", "declined")


@pytest.mark.django_db
def test_a_paper_consent_that_answers_a_request_shows_both(client, coordinator):
    family, child, [mum] = family_with_child(coordinator)
    request_for(child, mum)
    consent_record_offline(
        child=child,
        carer=mum,
        answers=all_answers(),
        method=ConsentRecord.Method.PAPER,
        taken_by="Sam Jones",
        by=coordinator,
        scan=SCAN,
        evidence=EVIDENCE,
    )
    client.force_login(coordinator)
    [row] = _html_rows(client.get(REGISTER).content.decode()).values()
    assert row[-2:] == ["On paper", "Signed"]
    _, exported = _csv(client.get(REGISTER, {"format": "csv"}))
    assert exported[-2:] == ["paper", "signed"]


# --- the bulk request ---------------------------------------------------------------------


@pytest.mark.django_db
def test_the_bulk_action_asks_only_for_children_with_no_answer_and_no_pending_request(
    client, coordinator, register, django_capture_on_commit_callbacks
):
    unreachable = FamilyFactory()
    assign(coordinator, unreachable)
    ChildFactory(family=unreachable, first_name="Hal")
    CarerFactory(family=unreachable, email="")  # nobody can be emailed
    pending_before = set(ConsentRequest.objects.values_list("pk", flat=True))
    client.force_login(coordinator)
    confirmation = client.get(reverse("consents:request_bulk")).context["listing"]
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("consents:request_bulk"), {"confirm": "yes", "fingerprint": confirmation.fingerprint}
        )
    assert response["Location"] == REGISTER
    new = ConsentRequest.objects.exclude(pk__in=pending_before).select_related("child", "carer")
    assert [(r.child.first_name, r.carer) for r in new] == [("Dan", register.mum)]
    assert [m.to for m in mail.outbox] == [[register.mum.email]]
    assert "/consents/sign/" in mail.outbox[0].body
    messages = [str(m) for m in get_messages(response.wsgi_request)]
    assert messages == [
        "1 consent request sent.",
        f"{unreachable.reference}: Nobody in this family holds parental responsibility and has an email address.",
    ]
    # Confirmed twice (a double submit), it asks nobody again: Dan's request is now pending.
    with django_capture_on_commit_callbacks(execute=True):
        again = client.post(
            reverse("consents:request_bulk"), {"confirm": "yes", "fingerprint": confirmation.fingerprint}
        )
    assert again.status_code == 409 and again.context["listing"].emails == 0
    assert ConsentRequest.objects.exclude(pk__in=pending_before).count() == 1
    assert len(mail.outbox) == 1


# --- paging: the same register as working out every row first -----------------------------


def _reference_register(user, *, family: str = "", purpose: str = "", state: str = "") -> list[tuple]:
    """The register as it was computed before it was paged in the database: every visible child's
    consent position first, then the state filter, in Python, ordered in Python."""
    children = Child.objects.filter(family__in=families_visible_to(user)).select_related("family")
    if family:
        children = children.filter(family__reference__iexact=family.strip())
    children = sorted(children, key=lambda c: (c.family.reference, c.first_name, c.last_name, c.pk))
    positions = consents_for_children([c.pk for c in children])
    now = timezone.now()
    pending = set(
        ConsentRequest.objects.filter(status="pending", expires_at__gt=now).values_list("child_id", flat=True)
    )
    rows = []
    for child in children:
        position = positions[child.pk]
        states = {
            p: State.PENDING if child.pk in pending and s in {State.NONE, State.EXPIRED, State.OUTDATED} else s
            for p, s in position.states.items()
        }
        if state and not any(states[p] == state for p in ([purpose] if purpose else PURPOSES)):
            continue
        latest = child.requests.order_by("-created_at", "-id").first()
        status = latest.status if latest else ""
        if status == "pending" and latest.expires_at <= now:
            status = "expired"
        given = child.consent_records.filter(kind="given").order_by("-signed_at", "-id").first()
        rows.append(
            (
                child.family.reference,
                str(child),
                child.date_of_birth,
                states,
                min(position.expires_at.values()) if position.expires_at else None,
                status,
                given.method if given else "",
            )
        )
    return rows


def _comparable(row) -> tuple:
    return (
        row.family_reference,
        row.child_name,
        row.date_of_birth,
        row.states,
        row.expires_at,
        row.request_status,
        row.consent_method,
    )


@pytest.fixture
def varied(coordinator, other_coordinator) -> None:
    """Two families of the coordinator's, FIG-JONES and FIG-BROWN, with a child in every state (and
    two children of the same name), and a family of another coordinator's."""
    now = timezone.now()
    first, second = FamilyFactory(reference="FIG-JONES"), FamilyFactory(reference="FIG-BROWN")
    assign(coordinator, first)
    assign(coordinator, second)
    mum, dad = CarerFactory(family=first), CarerFactory(family=second)
    kids = {
        name: ChildFactory(family=family, first_name=name, last_name=family_name)
        for family, family_name, names in [
            (first, "Jones", ["Ava", "Ben", "Cara", "Dan", "Eve", "Fay", "Gus"]),
            (second, "Brown", ["Finn", "Ivy", "Jay", "Kit"]),
        ]
        for name in names
    }
    twin = ChildFactory(family=first, first_name="Eve", last_name="Jones")  # same name: ordered by id
    give(kids["Ava"], mum, at=now - 600 * DAY)  # on version 1, then superseded: needs the new form
    publish_version(requires_reconsent=True, at=now - 500 * DAY)
    give(kids["Ben"], mum)
    withdraw(kids["Ben"], mum, ["online"])
    request_for(kids["Cara"], mum)
    give(kids["Eve"], mum, all_answers(True, print=False))
    give(twin, mum)
    give(kids["Fay"], mum, at=now - 400 * DAY)  # expired
    give(kids["Gus"], mum, at=now - 400 * DAY)
    request_for(kids["Gus"], mum)  # expired, with an open request: pending
    give(kids["Finn"], dad)
    withdraw(kids["Finn"], dad, PURPOSES)
    give(kids["Ivy"], dad, all_answers(True, photographed=False))
    request_for(kids["Ivy"], dad)  # refused stays refused, the rest stays consented
    request_for(kids["Jay"], dad, at=now - 30 * DAY)  # the request has expired: no answer
    elsewhere, other, _ = family_with_child(other_coordinator)
    give(other, CarerFactory(family=elsewhere))


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query",
    [
        {},
        {"purpose": "print"},
        {"state": "given"},
        {"state": "refused"},
        {"state": "withdrawn"},
        {"state": "expired"},
        {"state": "outdated"},
        {"state": "none"},
        {"state": "pending"},
        {"purpose": "online", "state": "withdrawn"},
        {"purpose": "print", "state": "refused"},
        {"purpose": "photographed", "state": "given"},
        {"family": " fig-jones "},  # in any case, with spaces
        {"family": "FIG-JONES", "state": "given"},
    ],
)
def test_every_page_holds_the_rows_of_the_register_worked_out_whole(client, coordinator, varied, monkeypatch, query):
    monkeypatch.setattr("consents.views.REGISTER_PAGE_SIZE", 3)
    expected = _reference_register(coordinator, **query)
    assert expected  # every filter finds some child
    client.force_login(coordinator)
    seen = []
    for number in range(1, math.ceil(len(expected) / 3) + 1):
        response = client.get(REGISTER, {**query, "page": number})
        assert response.context["total"] == len(expected)
        assert response.context["page"].number == number
        seen += [_comparable(row) for row in response.context["rows"]]
    assert seen == expected
    _, *exported = _csv(client.get(REGISTER, {**query, "format": "csv"}))
    assert exported == [
        [
            reference,
            name,
            born.isoformat(),
            *[states[p] for p in PURPOSES],
            expires.date().isoformat() if expires else "",
            method,
            status,
        ]
        for reference, name, born, states, expires, status, method in expected
    ]


@pytest.mark.django_db
@pytest.mark.parametrize("query", [{}, {"state": "given"}])
def test_a_page_past_the_end_shows_the_last_and_a_page_that_is_no_number_the_first(
    client, coordinator, varied, monkeypatch, query
):
    monkeypatch.setattr("consents.views.REGISTER_PAGE_SIZE", 3)
    expected = _reference_register(coordinator, **query)
    client.force_login(coordinator)
    last = client.get(REGISTER, {**query, "page": 99}).context["page"]
    assert last.number == last.paginator.num_pages == math.ceil(len(expected) / 3)
    assert [_comparable(row) for row in last.object_list] == expected[(last.number - 1) * 3 :]
    assert client.get(REGISTER, {**query, "page": "x"}).context["page"].number == 1


@pytest.mark.django_db
def test_the_register_has_a_row_in_every_state_and_orders_children_of_the_same_name_by_id(client, coordinator, varied):
    client.force_login(coordinator)
    response = client.get(REGISTER)
    rows = response.context["rows"]
    assert [row.child_name for row in rows] == [
        "Finn Brown",
        "Ivy Brown",
        "Jay Brown",
        "Kit Brown",  # FIG-BROWN before FIG-JONES
        "Ava Jones",
        "Ben Jones",
        "Cara Jones",
        "Dan Jones",
        "Eve Jones",
        "Eve Jones",
        "Fay Jones",
        "Gus Jones",
    ]
    eves = [row for row in rows if row.child_name == "Eve Jones"]
    assert eves[0].child_id < eves[1].child_id
    assert eves[0].states["print"] == State.REFUSED and eves[1].states["print"] == State.GIVEN
    by_name = {row.child_name: row for row in rows if row.child_name != "Eve Jones"}
    assert by_name["Ava Jones"].states["photographed"] == State.OUTDATED
    assert by_name["Fay Jones"].states["photographed"] == State.EXPIRED
    assert by_name["Gus Jones"].states["photographed"] == State.PENDING
    assert by_name["Ivy Brown"].states["photographed"] == State.REFUSED
    assert by_name["Ivy Brown"].states["stored"] == State.GIVEN
    assert by_name["Jay Brown"].states["photographed"] == State.NONE
    assert by_name["Jay Brown"].request_status == "expired"
    assert by_name["Ben Jones"].states["online"] == State.WITHDRAWN


# --- query counts -------------------------------------------------------------------------


def _bulk_families(coordinator, *, children: int, per_family: int = 5) -> None:
    """`children` children in families of `per_family`, all assigned to `coordinator`: one carer with
    parental responsibility each; every other child consented, every third with a pending request."""
    version = form_version_current()
    families = Family.objects.bulk_create(
        [Family(reference=f"FIG-B{i:05d}") for i in range((children + per_family - 1) // per_family)]
    )
    permission = Permission.objects.get(codename="manage_family")
    FamilyUserObjectPermission.objects.bulk_create(
        [FamilyUserObjectPermission(content_object=f, user=coordinator, permission=permission) for f in families]
    )
    carers = Carer.objects.bulk_create(
        [
            Carer(
                family=f,
                full_name=f"Carer {f.reference}",
                email=f"{f.reference.lower()}@example.org",
                relationship="mother",
                has_parental_responsibility=True,
            )
            for f in families
        ]
    )
    kids = Child.objects.bulk_create(
        [
            Child(
                family=families[i // per_family],
                first_name=f"Child{i:04d}",
                last_name="Bulk",
                date_of_birth=timezone.localdate() - timedelta(days=2000 + i),
            )
            for i in range(children)
        ]
    )
    now = timezone.now()
    ConsentRecord.objects.bulk_create(
        [
            ConsentRecord(
                child=kid,
                carer=carers[i // per_family],
                kind=ConsentRecord.Kind.GIVEN,
                method=ConsentRecord.Method.PHONE,
                identified_by=ConsentRecord.IdentifiedBy.STAFF,
                form_version=version,
                answers=all_answers(),
                confirmed_parental_responsibility=True,
                signed_at=now - timedelta(days=1),
                evidence_sha256="0" * 64,
            )
            for i, kid in enumerate(kids)
            if i % 2 == 0
        ]
    )
    ConsentRequest.objects.bulk_create(
        [
            ConsentRequest(
                child=kid, carer=carers[i // per_family], form_version=version, expires_at=now + timedelta(days=14)
            )
            for i, kid in enumerate(kids)
            if i % 3 == 0
        ]
    )


@pytest.mark.django_db
@pytest.mark.parametrize("children", [10, 500])
def test_the_register_needs_the_same_number_of_queries_for_10_and_500_children(
    client, coordinator, django_assert_num_queries, children
):
    _bulk_families(coordinator, children=children)
    client.force_login(coordinator)
    client.get(reverse("consents:family_list"))  # the first request creates the usersession row
    # + the count of the children (visible families in a subquery); the page's children with their
    # family, latest request, latest consent form and whether a request is open; their consent
    # positions (children's families, carers with PR, re-consent cutoff, records); the children whose
    # consent runs out within 30 days (none here: their positions are not asked for).
    with django_assert_num_queries(STAFF_REQUEST_QUERIES + 7):
        response = client.get(REGISTER)
    assert response.status_code == 200
    assert response.context["total"] == children
    assert len(response.context["rows"]) == min(children, 100)  # the screen shows 100 a page
    states = {row.states["photographed"] for row in response.context["rows"]}
    assert states == {State.GIVEN, State.PENDING, State.NONE}


@pytest.mark.django_db
@pytest.mark.parametrize("children", [10, 500])
@pytest.mark.parametrize("query", [{"state": "given"}, {"state": "pending"}, {"purpose": "online", "state": "none"}])
def test_the_state_filtered_register_needs_the_same_number_of_queries_for_10_and_500_children(
    client, coordinator, django_assert_num_queries, children, query
):
    _bulk_families(coordinator, children=children)
    client.force_login(coordinator)
    client.get(reverse("consents:family_list"))
    # + every visible child's id and whether a request is open (values only); their consent positions
    # (four, as above); then the page's children with their family, latest request and consent form;
    # the children whose consent runs out within 30 days (none here).
    with django_assert_num_queries(STAFF_REQUEST_QUERIES + 7):
        response = client.get(REGISTER, query)
    assert response.status_code == 200
    expected = _reference_register(coordinator, **query)
    assert expected
    assert response.context["total"] == len(expected)
    assert [_comparable(row) for row in response.context["rows"]] == expected[:100]


@pytest.mark.django_db
@pytest.mark.parametrize("children", [10, 500])
def test_the_csv_export_needs_the_same_number_of_queries_for_10_and_500_children(
    client, coordinator, django_assert_num_queries, children
):
    _bulk_families(coordinator, children=children)
    client.force_login(coordinator)
    client.get(reverse("consents:family_list"))
    # + every child (as a page's children, no count), their consent positions (four), and the
    # insert of the audit row.
    with django_assert_num_queries(STAFF_REQUEST_QUERIES + 6):
        response = client.get(REGISTER, {"format": "csv"})
    assert len(_csv(response)) == children + 1
    # With a state filter: + the ids and open requests of every child first (values only).
    with django_assert_num_queries(STAFF_REQUEST_QUERIES + 7):
        response = client.get(REGISTER, {"format": "csv", "state": "given"})
    assert len(_csv(response)) == 1 + len(_reference_register(coordinator, state="given"))


@pytest.mark.django_db
@pytest.mark.parametrize("families", [1, 60])
def test_the_family_list_needs_a_fixed_number_of_queries(client, coordinator, django_assert_num_queries, families):
    _bulk_families(coordinator, children=families * 2, per_family=2)
    client.force_login(coordinator)
    client.get(REGISTER)
    # + the families with their counts of children and carers (one query).
    with django_assert_num_queries(STAFF_REQUEST_QUERIES + 1):
        response = client.get(reverse("consents:family_list"))
    assert response.status_code == 200
    assert len(response.context["families"]) == families
    assert response.context["families"][0].child_count == 2 and response.context["families"][0].carer_count == 1


@pytest.mark.django_db
def test_the_register_pages_the_screen_but_exports_every_row(client, coordinator):
    from tests.consents import factories as cf

    family, _child, _carers = cf.family_with_child(coordinator=coordinator)
    for _ in range(120):
        cf.ChildFactory(family=family)
    client.force_login(coordinator)
    first = client.get(REGISTER)
    assert len(first.context["rows"]) == 100 and first.context["total"] == 121
    second = client.get(REGISTER, {"page": 2, "family": family.reference})
    assert len(second.context["rows"]) == 21
    assert b"Previous page" in second.content and f"family={family.reference}".encode() in second.content
    csv_rows = client.get(REGISTER, {"format": "csv"}).content.decode().strip().splitlines()
    assert len(csv_rows) == 1 + 121
