"""Small helpers that read configuration from the environment and fail loudly.

Every setting a person would change comes through one of these, so a typo in
a deployment stops the process at start-up instead of changing behaviour.
"""

from __future__ import annotations

import base64
import binascii
import os
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return default if value is None else value


def env_required(name: str, why: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        raise ImproperlyConfigured(f"{name} must be set ({why}).")
    return value


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be one of 1/0/true/false/yes/no, not {value!r}.")


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    try:
        number = int(value)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {value!r}.") from exc
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, not {number}.")
    return number


def env_list(name: str, default: list[str] | None = None) -> list[str]:
    value = os.environ.get(name)
    if value is None:
        return list(default or [])
    return [item.strip() for item in value.split(",") if item.strip()]


def parse_email_url(url: str) -> dict[str, object]:
    """Turn EMAIL_URL into Django email settings.

    smtp://user:pass@host:587        STARTTLS when the query says ?tls=1 or on port 587
    smtps://user:pass@host:465       implicit TLS
    filemail:///var/mail/fig         one file per message in that folder
    consolemail://                   print messages to the console
    """
    parsed = urlparse(url)
    scheme = parsed.scheme.lower()
    if scheme == "consolemail":
        return {"EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend"}
    if scheme == "filemail":
        path = unquote(parsed.path)
        if not path:
            raise ImproperlyConfigured("EMAIL_URL filemail:// needs a folder, e.g. filemail:///var/mail.")
        return {"EMAIL_BACKEND": "fig_safety.mail.FilePerMessageBackend", "EMAIL_FILE_PATH": path}
    if scheme in {"smtp", "smtps"}:
        if not parsed.hostname:
            raise ImproperlyConfigured("EMAIL_URL smtp:// needs a host.")
        query = {key: values[-1] for key, values in parse_qs(parsed.query).items()}
        port = parsed.port or (465 if scheme == "smtps" else 25)
        use_tls = query.get("tls", "1" if port == 587 else "0").lower() in _TRUE
        return {
            "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "EMAIL_HOST": parsed.hostname,
            "EMAIL_PORT": port,
            "EMAIL_HOST_USER": unquote(parsed.username or ""),
            "EMAIL_HOST_PASSWORD": unquote(parsed.password or ""),
            "EMAIL_USE_SSL": scheme == "smtps",
            "EMAIL_USE_TLS": use_tls and scheme != "smtps",
            "EMAIL_TIMEOUT": 20,
        }
    raise ImproperlyConfigured(
        f"EMAIL_URL scheme {scheme!r} is not supported; use smtp://, smtps://, filemail:// or consolemail://."
    )


def parse_vault_keys(value: str) -> dict[str, bytes]:
    """Parse FIG_VAULT_KEYS: comma-separated `key_id:base64-of-32-bytes`, newest first."""
    keys: dict[str, bytes] = {}
    for item in (part.strip() for part in value.split(",")):
        if not item:
            continue
        key_id, sep, encoded = item.partition(":")
        if not sep or not key_id.isalnum():
            raise ImproperlyConfigured("FIG_VAULT_KEYS entries look like 'k1:<base64 of 32 bytes>'.")
        try:
            raw = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
        except (binascii.Error, ValueError) as exc:
            raise ImproperlyConfigured(f"FIG_VAULT_KEYS key {key_id!r} is not valid base64.") from exc
        if len(raw) != 32:
            raise ImproperlyConfigured(f"FIG_VAULT_KEYS key {key_id!r} must be 32 bytes, not {len(raw)}.")
        if key_id in keys:
            raise ImproperlyConfigured(f"FIG_VAULT_KEYS names key {key_id!r} twice.")
        keys[key_id] = raw
    return keys


def ensure_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def ensure_private_dir(path: Path) -> Path:
    """The folder, made if need be, readable by this process's user alone (0700), even if it existed."""
    ensure_dir(path)
    path.chmod(0o700)
    return path
