"""Run only by test_services.py in a child pytest, with the services pointed at closed ports.

Its name does not start with test_, so the main run never collects it.
"""

import pytest


@pytest.mark.postgres
def test_needs_postgresql():
    pass


@pytest.mark.redis
def test_needs_redis():
    pass


@pytest.mark.browser
def test_needs_chromium():
    pass


def test_needs_nothing():
    pass


def test_needs_the_redis_server_program(private_redis):
    pass
