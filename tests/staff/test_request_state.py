"""What every signed-in request needs to know about its user, loaded in one query, and the session
list kept up to date without a write on every request."""

from __future__ import annotations

import pytest
from allauth.mfa.models import Authenticator
from allauth.usersessions.models import UserSession
from django.urls import reverse

from staff.backends import load_request_user
from staff.middleware import has_second_factor
from staff.roles import Role, user_roles
from staff.selectors import policy_pending
from staff.services import user_set_roles
from tests import factories

pytestmark = pytest.mark.django_db


def _state(user_id) -> tuple[frozenset[str], bool, bool]:
    user = load_request_user(user_id)
    return user_roles(user), has_second_factor(user), policy_pending(user)


def test_the_user_comes_with_roles_second_factor_and_policy_in_one_query(django_assert_num_queries):
    factories.PolicyVersionFactory()
    user = factories.staff_user("coordinator", "photographer")
    with django_assert_num_queries(1):
        assert _state(user.pk) == (frozenset({"coordinator", "photographer"}), True, False)


@pytest.mark.parametrize(
    ("policies", "acknowledged", "pending"),
    [
        (0, False, False),  # nothing published: nothing to acknowledge
        (1, True, False),
        (1, False, True),
        (2, True, False),
    ],
)
def test_a_policy_is_pending_until_its_latest_version_is_acknowledged(policies, acknowledged, pending):
    for _ in range(policies):
        factories.PolicyVersionFactory()
    user = factories.staff_user("staff", acknowledged=acknowledged)
    assert _state(user.pk)[2] is pending


def test_a_newer_policy_or_a_lost_authenticator_shows_on_the_next_load():
    factories.PolicyVersionFactory()
    user = factories.staff_user("staff")
    assert _state(user.pk) == (frozenset({"staff"}), True, False)
    factories.PolicyVersionFactory()  # version 2, not yet read
    Authenticator.objects.filter(user=user).delete()
    assert _state(user.pk) == (frozenset({"staff"}), False, True)


def test_a_parent_has_no_roles_and_an_inactive_user_is_not_signed_in(client):
    parent = factories.parent_user()
    assert _state(parent.pk)[0] == frozenset()
    client.force_login(parent)
    parent.is_active = False
    parent.save()
    assert client.get(reverse("consents:my_children")).status_code == 302  # back to sign-in


def test_a_role_taken_away_takes_effect_on_the_next_request(client):
    admin = factories.staff_user("social_admin")
    client.force_login(admin)
    assert client.get(reverse("social:inbox")).status_code == 200
    user_set_roles(user=admin, roles=[Role.STAFF], by=None)
    assert client.get(reverse("social:inbox")).status_code in (403, 404)


def test_a_new_policy_sends_staff_to_read_it_on_their_next_request(client):
    factories.PolicyVersionFactory()
    user = factories.staff_user("staff")
    client.force_login(user)
    assert client.get(reverse("home")).status_code == 200
    factories.PolicyVersionFactory()
    response = client.get(reverse("home"))
    assert response.status_code == 302 and response["Location"] == reverse("staff:policy")


# --- the session list ---------------------------------------------------------------------------


def _session_row(client) -> UserSession:
    return UserSession.objects.get(session_key=client.session.session_key)


def _age_activity_stamp(client, seconds: int) -> None:
    session = client.session
    session["fig_activity"][0] -= seconds
    session.save()


def test_the_session_list_is_written_once_a_minute_not_on_every_request(client):
    user = factories.staff_user("staff")
    client.force_login(user)
    client.get(reverse("home"))
    first_seen = _session_row(client).last_seen_at

    client.get(reverse("home"))
    assert _session_row(client).last_seen_at == first_seen  # the same minute: not written

    _age_activity_stamp(client, 61)
    client.get(reverse("home"))
    assert _session_row(client).last_seen_at > first_seen


def test_a_session_seen_from_another_address_or_browser_is_updated_at_once(client):
    user = factories.staff_user("staff")
    client.force_login(user)
    client.get(reverse("home"), HTTP_USER_AGENT="Firefox on a laptop", REMOTE_ADDR="192.0.2.10")
    row = _session_row(client)
    assert (row.user_agent, row.ip) == ("Firefox on a laptop", "192.0.2.10")

    client.get(reverse("home"), HTTP_USER_AGENT="Safari on a phone", REMOTE_ADDR="192.0.2.10")
    assert _session_row(client).user_agent == "Safari on a phone"
    client.get(reverse("home"), HTTP_USER_AGENT="Safari on a phone", REMOTE_ADDR="198.51.100.7")
    assert _session_row(client).ip == "198.51.100.7"


def test_the_session_list_shows_when_each_session_was_last_used(client):
    user = factories.staff_user("staff")
    client.force_login(user)
    client.get(reverse("home"))
    response = client.get(reverse("usersessions_list"))
    assert response.status_code == 200
    assert response.context["show_last_seen_at"] is True
