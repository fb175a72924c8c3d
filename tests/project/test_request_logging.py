"""Issue 18.1: an expected 403 or 404 is one log line; a 500 keeps its traceback.

Access helpers answer outsiders with 404 and read-only users with 403 by raising Http404 and
PermissionDenied, which Django logs with the exception attached; the console printed a traceback for
each, which buried the real errors.
"""

from __future__ import annotations

import logging

import pytest
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest
from django.test import Client
from django.urls import include, path

from fig_safety.logging import RedactSecretsFilter


def _not_yours(request: HttpRequest):
    raise Http404("No family of yours")


def _read_only(request: HttpRequest):
    raise PermissionDenied("Read-only")


def _broken(request: HttpRequest):
    raise RuntimeError("a real bug")


urlpatterns = [
    path("not-yours/", _not_yours),
    path("read-only/", _read_only),
    path("broken/", _broken),
    path("", include("fig_safety.urls")),  # the error pages link to these
]


def _printed(record: logging.LogRecord) -> str:
    """What the console prints for this record: the root's redacting handler, as settings.LOGGING makes it."""
    [console] = [h for h in logging.getLogger().handlers if any(isinstance(f, RedactSecretsFilter) for f in h.filters)]
    return console.format(record)


@pytest.mark.django_db
@pytest.mark.urls(__name__)
@pytest.mark.parametrize(
    ("url", "status", "line"),
    [
        ("/not-yours/", 404, "Not Found: /not-yours/"),
        ("/read-only/", 403, "Forbidden (Permission denied): /read-only/"),
    ],
)
def test_an_expected_403_or_404_is_one_line(caplog, url, status, line):
    with caplog.at_level(logging.INFO, logger="django.request"):
        assert Client().get(url).status_code == status
    [record] = [r for r in caplog.records if r.name == "django.request"]
    assert record.levelno == logging.WARNING
    assert record.exc_info is None
    assert _printed(record) == line


@pytest.mark.django_db
@pytest.mark.urls(__name__)
def test_a_500_keeps_its_traceback(caplog):
    with caplog.at_level(logging.INFO, logger="django.request"):
        assert Client(raise_request_exception=False).get("/broken/").status_code == 500
    [record] = [r for r in caplog.records if r.name == "django.request"]
    assert record.levelno == logging.ERROR
    assert record.exc_info[0] is RuntimeError
    printed = _printed(record)
    assert printed.startswith("Internal Server Error: /broken/\nTraceback (most recent call last):")
    assert printed.endswith("RuntimeError: a real bug")
