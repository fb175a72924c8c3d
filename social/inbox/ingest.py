"""Meta webhook deliveries: read each event on its own and store it once.

A small delivery is ingested in the request. A large one is stored as it came (`WebhookDelivery`) and
ingested by a task, so Meta gets its answer at once; the inbox sweep finishes any whose task was lost.
The raw body is emptied once ingested: the messages themselves are what is kept.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from fig_safety.sweeps import claim_and_stamp
from social.inbox.meta import Delivery, load_body, parse_delivery
from social.inbox.services import event_ingest
from social.models import WebhookDelivery

logger = logging.getLogger(__name__)

# A stored delivery whose task has not started within this long is queued again; one started this long ago
# and not finished is ingested again (storing each event is idempotent).
REQUEUE_AFTER = timedelta(minutes=2)
RETRY_AFTER = timedelta(minutes=15)


def delivery_receive(body: bytes) -> Delivery | None:
    """Ingest a signed delivery now, or store it for the ingest task when it is large. Raises ValueError
    when the body is not a webhook delivery at all (the view answers 400). Returns what was ingested in the
    request, or None when it was stored for later."""
    delivery = parse_delivery(load_body(body))
    if delivery.skipped:
        logger.warning("Meta webhook: %s malformed item(s) skipped, %s stored", delivery.skipped, len(delivery.events))
    if len(delivery.events) <= settings.FIG_WEBHOOK_INLINE_EVENTS:
        for event in delivery.events:
            event_ingest(event)
        return delivery
    with transaction.atomic():
        stored = WebhookDelivery.objects.create(body=body, events=len(delivery.events), skipped=delivery.skipped)
        transaction.on_commit(lambda: _queue(stored.pk))
    return None


def _queue(delivery_id: int) -> None:
    from social.tasks import ingest_delivery

    ingest_delivery.delay(delivery_id)


def delivery_ingest(*, delivery_id: int) -> int:
    """Ingest a stored delivery (the ingest task); returns how many events it held. Idempotent."""
    with transaction.atomic():
        stored = WebhookDelivery.objects.select_for_update().filter(pk=delivery_id).first()
        if stored is None or stored.ingested_at is not None:
            return 0
        stored.ingest_started_at = timezone.now()
        stored.save(update_fields=["ingest_started_at"])
        body = bytes(stored.body)
    delivery = parse_delivery(load_body(body))
    events_ingest(delivery.events)
    WebhookDelivery.objects.filter(pk=delivery_id).update(ingested_at=timezone.now(), body=b"")
    return len(delivery.events)


def events_ingest(events) -> None:
    """Store many events, each once."""
    for event in events:
        event_ingest(event)


def resume_deliveries(now: datetime) -> int:
    """Stored deliveries whose task never started, or stopped part of the way, are queued again."""
    lost = WebhookDelivery.objects.filter(
        ingested_at__isnull=True, ingest_started_at__isnull=True, queued_at__lte=now - REQUEUE_AFTER
    )
    stopped = WebhookDelivery.objects.filter(ingested_at__isnull=True, ingest_started_at__lte=now - RETRY_AFTER)
    handle = lambda rows: [_queue(d.pk) for d in rows]  # noqa: E731
    return claim_and_stamp(lost, stamp="queued_at", now=now, handle=handle) + claim_and_stamp(
        stopped, stamp="ingest_started_at", now=now, handle=handle
    )
