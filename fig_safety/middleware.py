"""Checks every request and response passes: a size limit, readable addresses, and no caching of pages."""

from __future__ import annotations

import re
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.cache import add_never_cache_headers, patch_cache_control


class RequestSizeLimitMiddleware:
    """Answers 413 to a request that says it is too large, without reading its body.

    Django limits form fields (DATA_UPLOAD_MAX_MEMORY_SIZE) but not files, which it streams to disk
    whatever their size. This runs before any view or process_view (the CSRF check parses the body),
    so the files are never parsed; after AuthenticationMiddleware, so the page can show who is signed in.
    Without a Content-Length the WSGI server hands Django no body at all.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        limit = settings.FIG_REQUEST_MAX_BYTES
        if length <= limit:
            return self.get_response(request)
        message = (
            f"That is more than can be sent in one go ({limit // 1_000_000} MB). "
            "If you were uploading photos, send fewer at a time."
        )
        if request.headers.get("Accept") == "application/json":
            return JsonResponse({"errors": [message]}, status=413)
        return render(request, "413.html", {"message": message}, status=413)


# Characters no form or link of ours sends, and a person cannot type into an address: NUL (PostgreSQL
# refuses it in text), the other C0 controls but tab and line breaks, DEL, and lone surrogates.
_UNREADABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
UNREADABLE_ADDRESS = "This address has characters we cannot read"


def unreadable(text: str) -> bool:
    return _UNREADABLE.search(text) is not None


class UnreadableAddressMiddleware:
    """Answers 400 to an address whose path or query string holds characters we cannot read, before any view.

    Views read the query string in many small ways (a filter, a page number, a family reference) and pass
    it on to the database, which answered a NUL with a 500. Refusing the address here covers every view,
    and those to come, at once. Form bodies are not read here (the webhook reads its body itself, and an
    upload's size is checked first): form fields refuse NUL, and views that read a value directly clean it.
    It sits after AuthenticationMiddleware, so the page shows who is signed in; nothing before it reads the
    query string.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if unreadable(request.path_info) or any(
            unreadable(key) or any(unreadable(value) for value in values) for key, values in request.GET.lists()
        ):
            if request.headers.get("Accept") == "application/json":
                return JsonResponse({"errors": [UNREADABLE_ADDRESS + "."]}, status=400)
            return render(request, "400.html", {"message": UNREADABLE_ADDRESS}, status=400)
        return self.get_response(request)


class PrivatePagesMiddleware:
    """Keeps the pages out of every cache: `Cache-Control: private, no-store` on what Django answers.

    Nearly every page shows a child, a family, a message or a signing link, and the few that do not (the
    sign-in pages) are small. So the rule is simple rather than a list to keep up: every response gets
    Django's never-cache headers (private, no-store, no-cache, must-revalidate, max-age=0), except that
    - a response that already says no-store is left as its view wrote it (private is added for a signed-in
      person), so a view may state exactly what it needs;
    - an anonymous response whose view set its own Cache-Control keeps it (the single-use image address a
      platform fetches says just no-store; a public page may one day choose to be cached).
    It sits after WhiteNoise, which answers static files (long-cached, and safe to be) before reaching it.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        user = getattr(request, "user", None)
        signed_in = user is not None and user.is_authenticated
        chosen = response.get("Cache-Control", "")
        if "no-store" in chosen:
            if signed_in:
                patch_cache_control(response, private=True)
        elif signed_in or not chosen:
            add_never_cache_headers(response)
        return response
