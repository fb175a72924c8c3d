"""Social media views: the Meta webhook now; the inbox pages are added beside it."""

from __future__ import annotations

import json

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from social import services
from social.meta import parse, signature_valid


@csrf_exempt  # Meta cannot send a CSRF token; every POST is checked by its HMAC signature instead
@require_http_methods(["GET", "POST"])
def meta_webhook(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        token = settings.FIG_META_VERIFY_TOKEN
        if (request.GET.get("hub.mode") == "subscribe" and token
                and _same(request.GET.get("hub.verify_token", ""), token)):
            return HttpResponse(request.GET.get("hub.challenge", ""), content_type="text/plain")
        return HttpResponseForbidden("Verification failed.")
    body = request.body
    if not signature_valid(body, request.headers.get("X-Hub-Signature-256"), settings.FIG_META_APP_SECRET):
        return HttpResponseForbidden("Bad signature.")
    try:
        payload = json.loads(body)
        items = parse(payload if isinstance(payload, dict) else {})
    except (ValueError, KeyError, TypeError):
        return HttpResponse(status=400)
    for item in items:
        services.message_ingest(item)
    return HttpResponse("EVENT_RECEIVED", content_type="text/plain")


def _same(given: str, expected: str) -> bool:
    import hmac

    return hmac.compare_digest(given.encode(), expected.encode())


# Placeholders so notification links resolve; the inbox pages replace them.
def inbox(request: HttpRequest) -> HttpResponse:  # pragma: no cover - replaced by the inbox pages
    return HttpResponse(status=404)


def message_detail(request: HttpRequest, pk: int) -> HttpResponse:  # pragma: no cover
    return HttpResponse(status=404)


def takedowns(request: HttpRequest) -> HttpResponse:  # pragma: no cover
    return HttpResponse(status=404)
