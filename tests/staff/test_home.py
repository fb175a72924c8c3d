"""Home pages: after sign-in every role lands on `/` with what it needs, and every link there works.

"Link only to features that exist": each test follows every link on the page
as the same person and expects a page, not an error or a redirect.
Personas: one member of staff per role, a superuser administrator, a parent and
an anonymous visitor.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
from django.contrib.auth import SESSION_KEY
from django.core import mail
from django.urls import reverse

from staff import services
from staff.models import PolicyAcknowledgement, PolicyVersion
from tests import factories
from tests.query_counts import STAFF_REQUEST_QUERIES

ROLES = ["coordinator", "photographer", "staff", "social_admin", "ceo"]
CONSENT_ROLES = {"coordinator", "social_admin", "ceo"}


class _Links(HTMLParser):
    """Every <a href> on a page. Forms (the sign-out button) are not links and are left out."""

    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        href = dict(attrs).get("href")
        if tag == "a" and href:
            self.hrefs.append(href)


def _links(response) -> list[str]:
    parser = _Links()
    parser.feed(response.content.decode())
    return parser.hrefs


def _paths(response) -> set[str]:
    """The site's own pages linked from the page (skip-links to an anchor on the page are left out)."""
    paths = set()
    for href in _links(response):
        parts = urlsplit(href)
        assert not parts.netloc, f"unexpected external link {href}"
        if parts.path:
            paths.add(parts.path)
    return paths


def _assert_every_link_works(client, response) -> None:
    broken = {}
    for path in sorted(_paths(response)):
        followed = client.get(path)
        if followed.status_code != 200:
            broken[path] = (followed.status_code, followed.get("Location"))
    assert not broken, f"links that do not lead to a page: {broken}"


@pytest.fixture
def administrator(db):
    user = factories.UserFactory(roles=[], is_superuser=True, is_staff=True, email="admin@example.org")
    user.totp_secret = factories.add_totp(user)
    for version in PolicyVersion.objects.all():
        PolicyAcknowledgement.objects.create(user=user, version=version)
    return user


def _user_for(role: str):
    return factories.staff_user(role, email=f"{role}.home@example.org")


# --- signing in lands on / -----------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
def test_it_lands_staff_on_their_home_page_after_signing_in(client, policy, role):
    user = _user_for(role)
    response = client.post(reverse("account_login"), {"login": user.email, "password": factories.PASSWORD})
    assert response["Location"] == reverse("mfa_authenticate")

    response = client.post(reverse("mfa_authenticate"), {"code": factories.totp_code(user.totp_secret)})

    assert response.status_code == 302
    assert response["Location"] == "/"
    response = client.get("/")
    assert response.status_code == 200
    assert [t.name for t in response.templates][0] == "staff/home.html"
    assert f"Hello, {user.get_short_name()}".encode() in response.content


@pytest.mark.django_db
def test_it_lands_a_parent_on_the_parent_home_after_signing_in(client, policy, parent):
    client.post(reverse("account_request_login_code"), {"email": parent.email})
    code = re.search(r"^\s*([A-Z0-9]{3,}(?:-[A-Z0-9]{3,})*)\s*$", mail.outbox[-1].body, re.MULTILINE).group(1)

    response = client.post(reverse("account_confirm_login_code"), {"code": code})

    assert int(client.session[SESSION_KEY]) == parent.pk
    assert response["Location"] == "/"
    response = client.get("/")
    assert [t.name for t in response.templates][0] == "staff/parent_home.html"


# --- what each home page offers ------------------------------------------------------------------


@pytest.mark.django_db
def test_it_gives_the_ceo_the_breach_list_and_the_policy_register(client, policy, ceo, member_of_staff):
    unread = factories.staff_user("staff", acknowledged=False)
    factories.BreachReportFactory(reporter=member_of_staff)
    factories.BreachReportFactory(reporter=unread)
    factories.BreachReportFactory(reporter=member_of_staff, status="closed", outcome="Done.")
    client.force_login(ceo)

    response = client.get("/")

    paths = _paths(response)
    assert {reverse("staff:breach_list"), reverse("staff:policy_register"), reverse("staff:policy_publish")} <= paths
    html = response.content.decode()
    assert "For the CEO" in html
    assert "2 open" in html
    assert "1 not yet acknowledged" in html


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["coordinator", "photographer", "staff", "social_admin"])
def test_it_gives_other_staff_no_ceo_links(client, policy, role):
    user = _user_for(role)
    factories.BreachReportFactory()  # someone else's report: not counted, not linked
    client.force_login(user)

    response = client.get("/")

    assert response.status_code == 200
    paths = _paths(response)
    assert reverse("staff:policy_register") not in paths
    assert reverse("staff:policy_publish") not in paths
    assert b"For the CEO" not in response.content
    assert b"Review breach reports" not in response.content
    assert b"open)" not in response.content  # no count of anyone's reports
    assert (reverse("consents:register") in paths) == (role in CONSENT_ROLES)


@pytest.mark.django_db
def test_it_links_staff_to_their_own_open_reports(client, policy, member_of_staff):
    factories.BreachReportFactory(reporter=member_of_staff)
    client.force_login(member_of_staff)
    response = client.get("/")
    assert b"Your reports (1 open)" in response.content


@pytest.mark.django_db
def test_it_gives_a_superuser_the_admin_and_the_register_but_no_count_of_others_reports(client, policy, administrator):
    factories.BreachReportFactory()  # confidential to its reporter and the CEO
    client.force_login(administrator)
    response = client.get("/")
    paths = _paths(response)
    assert {reverse("admin:index"), reverse("staff:policy_register"), reverse("staff:policy_publish")} <= paths
    # Breach reports are the CEO's alone: a superuser gets no breach card and no count.
    assert b"Review breach reports" not in response.content
    assert "open_reports" not in response.context


@pytest.mark.django_db
def test_it_gives_a_parent_no_staff_links(client, policy, parent):
    client.force_login(parent)
    response = client.get("/")
    assert response.status_code == 200
    paths = _paths(response)
    assert reverse("consents:my_children") in paths
    staff_paths = {p for p in paths if p.startswith(("/staff/", "/admin/", "/accounts/2fa/"))}
    assert staff_paths == {reverse("staff:visit_guidance")}  # the families' guidance is public
    assert reverse("consents:register") not in paths
    assert b"Breach" not in response.content


@pytest.mark.django_db
def test_it_welcomes_anonymous_visitors(client, policy):
    response = client.get("/")
    assert [t.name for t in response.templates][0] == "staff/landing.html"
    assert {reverse("account_login"), reverse("account_request_login_code"), reverse("staff:visit_guidance")} <= _paths(
        response
    )


@pytest.mark.django_db
def test_it_refuses_the_wrong_method_for_home(client, member_of_staff):
    client.force_login(member_of_staff)
    assert client.post("/").status_code == 405


# --- every link works -----------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
def test_every_link_on_a_staff_home_page_works(client, policy, role):
    user = _user_for(role)
    factories.BreachReportFactory(reporter=user)  # so the "your reports" link is there too
    client.force_login(user)
    response = client.get("/")
    assert len(_paths(response)) >= 8
    _assert_every_link_works(client, response)


@pytest.mark.django_db
def test_every_link_on_the_superusers_home_page_works(client, policy, administrator):
    client.force_login(administrator)
    response = client.get("/")
    assert reverse("admin:index") in _paths(response)
    _assert_every_link_works(client, response)


@pytest.mark.django_db
def test_every_link_on_the_parents_home_page_works(client, policy, parent):
    client.force_login(parent)
    response = client.get("/")
    assert len(_paths(response)) >= 3
    _assert_every_link_works(client, response)


@pytest.mark.django_db
def test_every_link_on_the_landing_page_works(client, policy):
    response = client.get("/")
    _assert_every_link_works(client, response)


@pytest.mark.django_db
def test_the_ceos_home_page_takes_the_same_number_of_queries_for_any_number_of_staff(
    client, ceo, django_assert_num_queries
):
    version = services.policy_publish(text="The rules.", by=None)
    services.policy_acknowledge(user=ceo, version=version)
    client.force_login(ceo)
    client.get("/")  # the first request creates the usersession row
    counts = []
    for extra in (2, 12):
        for n in range(extra):
            factories.BreachReportFactory(reporter=factories.staff_user("staff", acknowledged=n % 2 == 0))
        # + the view's current policy, my open reports, everyone's open reports, the register
        # (staff users, their acknowledgements).
        with django_assert_num_queries(STAFF_REQUEST_QUERIES + 5):
            counts.append(client.get("/").context["ack_outstanding"])
    assert counts == [1, 7]
