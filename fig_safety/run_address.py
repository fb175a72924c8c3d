"""The address `make run` serves (FIG_RUN_ADDR) as a URL: where its emailed links point unless FIG_SITE_URL says."""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured

DEFAULT_RUN_ADDR = "127.0.0.1:8000"


def site_url_served_at(addr: str) -> str:
    """runserver's HOST:PORT or PORT as a URL without a trailing slash.

    An address on all interfaces (0.0.0.0) is reached as 127.0.0.1 on this machine; a phone or another
    computer needs FIG_SITE_URL (and DJANGO_ALLOWED_HOSTS) set to an address it can reach.
    """
    host, _, port = addr.strip().rpartition(":")
    if not port.isdecimal():
        raise ImproperlyConfigured(f"FIG_RUN_ADDR must be HOST:PORT or PORT, not {addr!r}.")
    if host in {"", "0", "0.0.0.0", "[::]"}:  # noqa: S104 (reading the address, not binding to it)
        host = "127.0.0.1"
    return f"http://{host}:{port}"
