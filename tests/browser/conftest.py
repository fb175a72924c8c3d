"""Fixtures for the browser tests; the browser and the phone and desktop pages live in tests/conftest.py."""

from __future__ import annotations

import pytest


@pytest.fixture(params=["desktop", "phone"])
def viewport_page(request, transactional_db):
    """The same journey on a 1280px laptop and a 390px phone.

    Asks for transactional_db itself: the page fixture is looked up by name, so
    pytest-django cannot see that the test uses the live server. Tests that read
    `mailoutbox` must list it after this fixture, because setting up the database
    gives Django a fresh outbox list.
    """
    return request.getfixturevalue(f"{request.param}_page")
