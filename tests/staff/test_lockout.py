"""Lockout cannot be forced: failed sign-ins are limited per account and address, and more slowly per
account from anywhere except the browsers that account has fully signed in from before. A stranger
guessing a member of staff's password cannot keep the owner out of their own computer."""

from __future__ import annotations

import pytest
from django.contrib.auth import SESSION_KEY
from django.test import Client, RequestFactory
from django.urls import reverse

from staff.adapters import KNOWN_DEVICE_COOKIE, KNOWN_DEVICE_SALT
from tests import factories

pytestmark = pytest.mark.django_db

ATTACKER = "203.0.113.66"
OWNER = "198.51.100.7"
TOO_MANY = b"Too many failed login attempts"


def _password(client: Client, email: str, password: str, address: str):
    return client.post(reverse("account_login"), {"login": email, "password": password}, REMOTE_ADDR=address)


def _sign_in_fully(client: Client, user, address: str, code_offset: int = 0) -> None:
    response = _password(client, user.email, factories.PASSWORD, address)
    assert response.status_code == 302 and response["Location"] == reverse("mfa_authenticate"), response.content
    response = client.post(
        reverse("mfa_authenticate"), {"code": factories.totp_code(user.totp_secret, code_offset)}, REMOTE_ADDR=address
    )
    assert response.status_code == 302
    assert int(client.session[SESSION_KEY]) == user.pk


def test_guessing_from_one_address_is_stopped_there(member_of_staff):
    attacker = Client()
    for _ in range(5):
        assert TOO_MANY not in _password(attacker, member_of_staff.email, "wrong password", ATTACKER).content
    refused = _password(attacker, member_of_staff.email, factories.PASSWORD, ATTACKER)
    assert TOO_MANY in refused.content
    assert SESSION_KEY not in attacker.session


def test_the_owner_elsewhere_still_signs_in_with_password_and_code(member_of_staff):
    attacker = Client()
    for _ in range(8):
        _password(attacker, member_of_staff.email, "wrong password", ATTACKER)
    _sign_in_fully(Client(), member_of_staff, OWNER)


def test_guesses_spread_over_many_addresses_meet_the_slower_account_limit(member_of_staff, settings):
    settings.FIG_LOGIN_FAILED_ACCOUNT_RATE = "6/h/key"
    for number in range(6):
        response = _password(Client(), member_of_staff.email, "wrong password", f"203.0.113.{number + 1}")
        assert TOO_MANY not in response.content
    # A seventh address, even with the right password, is held back now...
    refused = _password(Client(), member_of_staff.email, factories.PASSWORD, "203.0.113.99")
    assert TOO_MANY in refused.content
    # ...and other accounts are not affected.
    other = factories.staff_user("coordinator", email="other.staff@example.org")
    _sign_in_fully(Client(), other, "203.0.113.99")


def test_the_owners_own_browser_gets_in_while_strangers_exhaust_the_account_limit(member_of_staff, settings):
    settings.FIG_LOGIN_FAILED_ACCOUNT_RATE = "6/h/key"
    desk = Client()
    _sign_in_fully(desk, member_of_staff, OWNER)
    assert desk.cookies[KNOWN_DEVICE_COOKIE]["httponly"]
    desk.post(reverse("account_logout"))
    assert SESSION_KEY not in desk.session

    for number in range(10):
        _password(Client(), member_of_staff.email, "wrong password", f"203.0.113.{number + 1}")
    assert TOO_MANY in _password(Client(), member_of_staff.email, factories.PASSWORD, OWNER).content  # new browser

    settings.MFA_TOTP_TOLERANCE = 1  # a code is used once: the second sign-in takes the next one
    _sign_in_fully(desk, member_of_staff, OWNER, code_offset=1)


def test_a_remembered_browser_still_meets_the_per_address_limit(member_of_staff):
    desk = Client()
    _sign_in_fully(desk, member_of_staff, OWNER)
    desk.post(reverse("account_logout"))
    for _ in range(5):
        _password(desk, member_of_staff.email, "wrong password", OWNER)
    assert TOO_MANY in _password(desk, member_of_staff.email, factories.PASSWORD, OWNER).content


@pytest.mark.parametrize("forged", ["tampered", "other account", "unsigned"])
def test_a_forged_or_borrowed_known_device_cookie_is_not_honoured(member_of_staff, settings, forged):
    settings.FIG_LOGIN_FAILED_ACCOUNT_RATE = "3/h/key"
    other = factories.staff_user("coordinator", email="other.staff@example.org")
    browser = Client()
    _sign_in_fully(browser, other, OWNER)  # remembered for the other account only
    browser.post(reverse("account_logout"))
    cookie = browser.cookies[KNOWN_DEVICE_COOKIE].value
    if forged == "tampered":
        browser.cookies[KNOWN_DEVICE_COOKIE] = cookie.replace("other.staff", "staff")
    elif forged == "unsigned":
        browser.cookies[KNOWN_DEVICE_COOKIE] = f'["testserver:{member_of_staff.email}"]'
    for number in range(3):
        _password(Client(), member_of_staff.email, "wrong password", f"203.0.113.{number + 1}")
    assert TOO_MANY in _password(browser, member_of_staff.email, factories.PASSWORD, OWNER).content


def test_a_correct_password_takes_its_attempt_back(member_of_staff, settings):
    settings.FIG_LOGIN_FAILED_ACCOUNT_RATE = "3/h/key"
    for _ in range(5):
        browser = Client()
        response = _password(browser, member_of_staff.email, factories.PASSWORD, f"203.0.113.{_ + 1}")
        assert response["Location"] == reverse("mfa_authenticate")


def test_the_cookie_names_no_one_but_the_account(member_of_staff):
    desk = Client()
    _sign_in_fully(desk, member_of_staff, OWNER)
    request = RequestFactory().get("/")
    request.COOKIES[KNOWN_DEVICE_COOKIE] = desk.cookies[KNOWN_DEVICE_COOKIE].value
    assert request.get_signed_cookie(KNOWN_DEVICE_COOKIE, salt=KNOWN_DEVICE_SALT) == (
        f'["testserver:{member_of_staff.email}"]'
    )
