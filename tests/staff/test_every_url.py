"""Every URL the project has, walked from the resolver: a staff member without a second factor reaches none of them."""

from __future__ import annotations

import re
import uuid

import pytest
from django.urls import URLResolver, get_resolver, reverse
from django.urls.resolvers import RegexPattern

from staff.middleware import MFA_SETUP_URL_NAMES
from tests import factories

_SAMPLES = {"int": "1", "uuid": str(uuid.UUID(int=1)), "str": "x", "slug": "x", "path": "x"}
_ROUTE_PARAMETER = re.compile(r"<(?:(?P<converter>[^>:]+):)?(?P<name>[^>]+)>")


def _fill_route(route: str) -> str:
    return _ROUTE_PARAMETER.sub(lambda m: _SAMPLES.get(m["converter"] or "str", "1"), route)


def _fill_regex(regex: str) -> str | None:
    """A concrete path for a regex pattern, or None when it needs values this walk cannot invent."""
    text = regex.removeprefix("^").removesuffix("$").removesuffix(r"\Z")
    text = re.sub(r"\(\?P<\w+>[^)]*\)", "1", text)
    return None if re.search(r"[\\()\[\]*+?|{}]", text) else text


def every_path() -> list[tuple[str, str | None]]:
    """(path, URL name) for every pattern, with sample values for its parameters."""
    found: list[tuple[str, str | None]] = []

    def walk(patterns, prefix: str) -> None:
        for pattern in patterns:
            if isinstance(pattern.pattern, RegexPattern):
                piece = _fill_regex(str(pattern.pattern))
            else:
                piece = _fill_route(str(pattern.pattern))
            if piece is None:
                continue
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, prefix + piece)
            else:
                found.append(("/" + prefix + piece, pattern.name))

    walk(get_resolver().url_patterns, "")
    return found


PATHS = every_path()


def test_only_the_pages_for_setting_up_a_second_factor_and_signing_out_are_exempt():
    # Pinned: a page added to the exemptions must be added here too, on purpose.
    assert {
        "mfa_activate_totp",
        "mfa_add_webauthn",
        "mfa_list_webauthn",
        "mfa_index",
        "mfa_view_recovery_codes",
        "mfa_generate_recovery_codes",
        "mfa_download_recovery_codes",
        "mfa_reauthenticate",
        "account_reauthenticate",
        "account_logout",
    } == MFA_SETUP_URL_NAMES


@pytest.mark.django_db
def test_a_parent_gets_404_on_every_two_step_sign_in_page(client, parent):
    client.force_login(parent)
    mfa_paths = [path for path, _ in PATHS if path.startswith("/accounts/2fa/")]
    assert len(mfa_paths) >= 8
    answers = {path: client.get(path).status_code for path in mfa_paths}
    assert set(answers.values()) == {404}, answers
    assert client.get("/consents/my/").status_code == 200  # the parent's own pages still open


def test_the_walk_finds_every_app():
    paths = [path for path, _ in PATHS]
    for prefix in ("/staff/", "/consents/", "/photos/", "/social/", "/accounts/", "/admin/"):
        assert sum(path.startswith(prefix) for path in paths) >= 3, prefix
    assert len(PATHS) > 150


@pytest.mark.django_db
def test_a_staff_member_without_a_second_factor_is_sent_to_set_one_up_from_every_url(client):
    user = factories.staff_user("coordinator", mfa=False)
    client.force_login(user)
    setup = reverse("mfa_activate_totp")
    let_through = []
    for path, name in PATHS:
        if path.startswith("/static/"):
            continue
        response = client.get(path)
        if name in MFA_SETUP_URL_NAMES:
            continue
        if response.status_code != 302 or response["Location"] != setup:
            let_through.append((path, name, response.status_code))
    assert let_through == []
