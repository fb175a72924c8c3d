"""Refuse a request body larger than FIG_REQUEST_MAX_BYTES before anything reads it."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render


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
