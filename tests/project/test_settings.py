"""Configuration from the environment, production checks and security headers."""

from __future__ import annotations

import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.mail import EmailMessage
from django.urls import reverse

from fig_safety.env import env_bool, env_int, parse_email_url, parse_vault_keys
from tests import factories
from tests.processes import fresh_environment

ROOT = Path(settings.BASE_DIR)


def _production_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = fresh_environment(
        DJANGO_SETTINGS_MODULE="fig_safety.settings",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(64),
        DJANGO_ALLOWED_HOSTS="fig.example.org",
        EMAIL_URL="smtp://mailer:pw@smtp.example.org:587",
        DATABASE_URL=f"sqlite:///{tmp_path}/prod.sqlite3",
        FIG_VAR_DIR=str(tmp_path),
    )
    env.update(extra)
    return env


def _manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_it_passes_check_deploy_with_production_settings(tmp_path):
    result = _manage(_production_env(tmp_path), "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_fails_when_debug_is_left_on(tmp_path):
    result = _manage(_production_env(tmp_path, DJANGO_DEBUG="1"), "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode != 0
    assert "DEBUG" in result.stdout + result.stderr


def test_it_refuses_to_start_without_a_secret_key(tmp_path):
    env = _production_env(tmp_path)
    del env["DJANGO_SECRET_KEY"]
    result = _manage(env, "check")
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY must be set" in result.stderr


def test_check_deploy_passes_with_only_a_secret_key_and_allowed_hosts(tmp_path):
    # The words: debug unset, a strong secret key and allowed hosts set. FIG_VAR_DIR only
    # keeps the default SQLite file out of the checkout.
    env = fresh_environment(
        DJANGO_SETTINGS_MODULE="fig_safety.settings",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(64),
        DJANGO_ALLOWED_HOSTS="fig.example.org",
        FIG_VAR_DIR=str(tmp_path),
    )
    result = _manage(env, "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_without_email_settings_production_hands_mail_to_smtp_on_this_host(tmp_path):
    env = _production_env(tmp_path)
    del env["EMAIL_URL"]
    result = _manage(
        env, "shell", "-c", "from django.conf import settings as s; print(s.EMAIL_BACKEND, s.EMAIL_HOST, s.EMAIL_PORT)"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1].split() == ["django.core.mail.backends.smtp.EmailBackend", "localhost", "25"]


def test_it_refuses_an_unknown_storage(tmp_path):
    result = _manage(_production_env(tmp_path, FIG_STORAGE="ftp"), "check")
    assert result.returncode != 0
    assert "FIG_STORAGE must be 'local' or 's3'" in result.stderr


def test_it_configures_s3_through_django_storages(tmp_path):
    env = _production_env(
        tmp_path,
        FIG_STORAGE="s3",
        FIG_S3_BUCKET="fig-vault",
        FIG_S3_ENDPOINT_URL="http://minio:9000",
        FIG_S3_ACCESS_KEY_ID="id",
        FIG_S3_SECRET_ACCESS_KEY="secret",
    )
    code = "from django.conf import settings as s; v = s.STORAGES['vault']; print(v['BACKEND'], v['OPTIONS']['bucket_name'], v['OPTIONS']['default_acl'])"
    result = _manage(env, "shell", "--no-imports", "-c", code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["storages.backends.s3.S3Storage", "fig-vault", "private"]


@pytest.mark.django_db
def test_it_sends_the_security_headers(client):
    response = client.get("/", secure=True)
    assert response["Strict-Transport-Security"].startswith("max-age=31536000")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    csp = response["Content-Security-Policy"]
    script_src = re.search(r"script-src ([^;]*)", csp).group(1)
    assert script_src.strip() == "'self'"
    assert "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp


@pytest.mark.django_db
def test_its_pages_have_no_inline_script_or_style(client, member_of_staff, parent):
    pages = [
        ("/", None),
        (reverse("account_login"), None),
        (reverse("account_request_login_code"), None),
        ("/", member_of_staff),
        ("/staff/breaches/new/", member_of_staff),
        ("/", parent),
    ]
    for url, user in pages:
        client.logout()
        if user:
            client.force_login(user)
        html = client.get(url).content.decode()
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), url
        assert " style=" not in html, url
        assert "onclick=" not in html, url


@pytest.mark.django_db
def test_it_marks_session_and_csrf_cookies_secure(client, member_of_staff):
    response = client.get(reverse("account_login"))
    assert response.cookies["csrftoken"]["secure"]
    response = client.post(reverse("account_login"), {"login": member_of_staff.email, "password": factories.PASSWORD})
    assert response.cookies["sessionid"]["secure"]
    assert response.cookies["sessionid"]["httponly"]


@pytest.mark.django_db
def test_it_serves_its_own_static_files(client):
    response = client.get("/static/css/fig.css")
    assert response.status_code == 200
    assert b"--brand" in b"".join(response.streaming_content) if response.streaming else response.content


def test_the_staff_idle_timeout_defaults_to_thirty_minutes(tmp_path):
    result = _manage(
        _production_env(tmp_path),
        "shell",
        "--no-imports",
        "-c",
        "from django.conf import settings as s; print(s.FIG_STAFF_IDLE_MINUTES)",
    )
    assert result.stdout.strip() == "30"
    result = _manage(
        _production_env(tmp_path, FIG_STAFF_IDLE_MINUTES="10"),
        "shell",
        "--no-imports",
        "-c",
        "from django.conf import settings as s; print(s.FIG_STAFF_IDLE_MINUTES)",
    )
    assert result.stdout.strip() == "10"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("consolemail://", {"EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend"}),
        (
            "filemail:///var/mail/fig",
            {"EMAIL_BACKEND": "fig_safety.mail.FilePerMessageBackend", "EMAIL_FILE_PATH": "/var/mail/fig"},
        ),
    ],
)
def test_it_parses_email_urls(url, expected):
    assert parse_email_url(url) == expected


def test_it_parses_smtp_urls():
    parsed = parse_email_url("smtp://user%40x:p%40ss@smtp.example.org:587")
    assert parsed["EMAIL_HOST"] == "smtp.example.org"
    assert parsed["EMAIL_PORT"] == 587
    assert parsed["EMAIL_HOST_USER"] == "user@x"
    assert parsed["EMAIL_HOST_PASSWORD"] == "p@ss"
    assert parsed["EMAIL_USE_TLS"] is True
    implicit = parse_email_url("smtps://u:p@smtp.example.org")
    assert implicit["EMAIL_PORT"] == 465 and implicit["EMAIL_USE_SSL"] and not implicit["EMAIL_USE_TLS"]


@pytest.mark.parametrize("url", ["http://x", "filemail://", "smtp://"])
def test_it_rejects_bad_email_urls(url):
    with pytest.raises(ImproperlyConfigured):
        parse_email_url(url)


def test_it_fails_loudly_on_bad_values(monkeypatch):
    monkeypatch.setenv("X_FLAG", "maybe")
    with pytest.raises(ImproperlyConfigured):
        env_bool("X_FLAG")
    monkeypatch.setenv("X_NUMBER", "ten")
    with pytest.raises(ImproperlyConfigured):
        env_int("X_NUMBER", 1)
    monkeypatch.setenv("X_NUMBER", "0")
    with pytest.raises(ImproperlyConfigured):
        env_int("X_NUMBER", 1, minimum=1)


def test_it_parses_vault_keys():
    key = "k2:" + "B" * 43 + ",k1:" + "A" * 43
    keys = parse_vault_keys(key)
    assert list(keys) == ["k2", "k1"]
    assert all(len(raw) == 32 for raw in keys.values())
    for bad in ["k1", "k1:short", "k1:" + "A" * 43 + ",k1:" + "B" * 43, "bad id:" + "A" * 43]:
        with pytest.raises(ImproperlyConfigured):
            parse_vault_keys(bad)


def test_filemail_writes_one_file_per_message(tmp_path, settings):
    from fig_safety.mail import FilePerMessageBackend

    backend = FilePerMessageBackend(file_path=str(tmp_path))
    sent = backend.send_messages(
        [EmailMessage("One", "first", to=["a@example.org"]), EmailMessage("Two", "second", to=["b@example.org"])]
    )
    files = sorted(tmp_path.glob("*.eml"))
    assert sent == 2 and len(files) == 2
    bodies = sorted(f.read_text() for f in files)
    assert "Subject: One" in bodies[0] and "Subject: Two" in bodies[1]
