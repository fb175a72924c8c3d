"""Access logs never carry the single-use tokens of password and consent links (runserver and gunicorn)."""

from __future__ import annotations

import logging
import secrets
import subprocess
import sys
import time
import urllib.request
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

from django.conf import settings

from fig_safety.gunicorn_conf import RedactingLogger
from fig_safety.logging import redact
from tests.processes import free_port, fresh_environment

ROOT = Path(settings.BASE_DIR)
RESET_PATH = "/accounts/password/reset/key/3-dijvh6-676ff6ba0c1e2d3f4a5b/"
SIGN_PATH = "/consents/sign/eyJyIjo0Mn0:1tWxyz:Q2hpbGRyZW4tYXJlLXNhZmU/"
SECRETS_IN_PATHS = ["3-dijvh6-676ff6ba0c1e2d3f4a5b", "eyJyIjo0Mn0:1tWxyz:Q2hpbGRyZW4tYXJlLXNhZmU"]


def test_redact_removes_the_token_from_password_and_consent_links_and_keeps_the_rest():
    line = f'"GET {RESET_PATH} HTTP/1.1" 302 0 "https://fig.example.org{SIGN_PATH}"'
    cleaned = redact(line)
    for secret in SECRETS_IN_PATHS:
        assert secret not in cleaned
    assert "/accounts/password/reset/key/[redacted]/" in cleaned
    assert "/consents/sign/[redacted]/" in cleaned
    assert redact("GET /photos/5d0c7a4e-1b1f-4a57-9d4a-0c1e2d3f4a5b/ HTTP/1.1") == (
        "GET /photos/5d0c7a4e-1b1f-4a57-9d4a-0c1e2d3f4a5b/ HTTP/1.1"
    )


def test_runservers_access_log_goes_through_the_redacting_handler():
    logger = logging.getLogger("django.server")
    assert logger.handlers and not logger.propagate
    record = logger.makeRecord(
        "django.server", logging.INFO, __file__, 1, '"%s" %s %s', (f"GET {SIGN_PATH} HTTP/1.1", "200", "512"), None
    )
    for handler in logger.handlers:
        assert handler.filter(record)
        written = handler.format(record)
        assert "/consents/sign/[redacted]/" in written
        assert SECRETS_IN_PATHS[1] not in written


def test_gunicorns_access_line_has_no_token_in_the_request_line_the_referer_or_the_cookie(tmp_path):
    from gunicorn.config import Config

    config = Config()
    config.set("accesslog", str(tmp_path / "access.log"))
    config.set("access_log_format", '%(h)s "%(r)s" %(s)s "%(f)s" %(U)s %({cookie}i)s')
    logger = RedactingLogger(config)
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": SIGN_PATH,
        "PATH_INFO": SIGN_PATH,
        "QUERY_STRING": "",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "192.0.2.1",
        "HTTP_REFERER": f"https://fig.example.org{RESET_PATH}",
    }
    request = SimpleNamespace(headers=[("COOKIE", "sessionid=s3ss10n-v4lue")])
    response = SimpleNamespace(status="200 OK", sent=512, headers=[])
    logger.access(response, request, environ, timedelta(milliseconds=5))
    for handler in logger.access_log.handlers:
        handler.flush()
    written = (tmp_path / "access.log").read_text()
    assert "192.0.2.1" in written and "/consents/sign/[redacted]/" in written
    for secret in [*SECRETS_IN_PATHS, "s3ss10n-v4lue"]:
        assert secret not in written


def test_gunicorn_started_as_the_dockerfile_starts_it_writes_a_redacted_access_log(tmp_path):
    port = free_port()
    env = fresh_environment(
        DJANGO_SETTINGS_MODULE="fig_safety.settings",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(64),
        DJANGO_ALLOWED_HOSTS="127.0.0.1",
        DJANGO_SECURE_SSL_REDIRECT="0",
        FIG_VAR_DIR=str(tmp_path),
        GUNICORN_WORKERS="1",
    )
    gunicorn = Path(sys.executable).with_name("gunicorn")
    # The Dockerfile's command, with the address moved to a free loopback port (the command line wins).
    server = subprocess.Popen(
        [str(gunicorn), "-c", "python:fig_safety.gunicorn_conf", "--bind", f"127.0.0.1:{port}", "fig_safety.wsgi"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                request = urllib.request.Request(
                    f"http://127.0.0.1:{port}{SIGN_PATH}", headers={"Referer": f"http://127.0.0.1:{port}{RESET_PATH}"}
                )
                urllib.request.urlopen(request, timeout=5)  # noqa: S310 - loopback
                break
            except urllib.error.HTTPError:
                break  # any answer from Django will do: the line is logged all the same
            except OSError:
                assert time.monotonic() < deadline, "gunicorn did not start"
                time.sleep(0.2)
    finally:
        server.terminate()
        output = server.communicate(timeout=30)[0]
    assert "/consents/sign/[redacted]/" in output, output
    for secret in SECRETS_IN_PATHS:
        assert secret not in output


def _routes(patterns=None, prefix: str = "") -> list[str]:
    """Every route, regex pieces included, as one string (allauth's key links are regex patterns)."""
    from django.urls import URLResolver, get_resolver

    routes = []
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        piece = str(pattern.pattern).removeprefix("^").removesuffix("$")
        route = prefix + piece
        routes.extend(_routes(pattern.url_patterns, route) if isinstance(pattern, URLResolver) else [route])
    return routes


def test_every_url_that_carries_a_token_or_key_is_redacted():
    import re

    secret = "S3cr3tT0k3n-abc:def_42"
    parameter = re.compile(r"<(?:\w+:)?(\w+)>|\(\?P<(\w+)>[^)]*\)")
    carrying = [route for route in _routes() if {"token", "key"} & {a or b for a, b in parameter.findall(route)}]
    # The consent sign and review links, allauth's password (invitation) and email-confirmation keys.
    assert len(carrying) >= 5, carrying
    for route in carrying:
        path = "/" + parameter.sub(lambda m: secret if (m[1] or m[2]) in {"token", "key"} else "1", route)
        assert secret not in redact(f'"GET {path} HTTP/1.1" 200'), path


def test_gunicorns_error_log_is_redacted_too(tmp_path):
    from gunicorn.config import Config

    config = Config()
    config.set("errorlog", str(tmp_path / "error.log"))
    logger = RedactingLogger(config)
    logger.error("Error handling request %s", SIGN_PATH)
    for handler in logger.error_log.handlers:
        handler.flush()
    written = (tmp_path / "error.log").read_text()
    assert "Error handling request /consents/sign/[redacted]/" in written
    assert SECRETS_IN_PATHS[1] not in written


def test_with_debug_on_a_request_error_on_a_token_url_is_logged_redacted_once(tmp_path):
    # make run: Django's "django" logger has a console handler of its own in debug; it must not print the token.
    env = fresh_environment(DJANGO_SETTINGS_MODULE="fig_safety.settings", DJANGO_DEBUG="1", FIG_VAR_DIR=str(tmp_path))
    script = (
        "import django, logging; django.setup(); "
        f"logging.getLogger('django.request').warning('Not Found: %s', {SIGN_PATH!r})"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("Not Found: /consents/sign/[redacted]/") == 1, result.stderr
    assert SECRETS_IN_PATHS[1] not in result.stderr + result.stdout
