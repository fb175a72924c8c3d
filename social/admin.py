"""Django admin for the inbox: read-only, because every change goes through the services and their audit."""

from __future__ import annotations

from django.contrib import admin

from social.models import DigestSent, InboxMessage, Takedown
from staff.admin import ReadOnlyAdmin


@admin.register(InboxMessage)
class InboxMessageAdmin(ReadOnlyAdmin):
    list_display = ["pk", "platform", "kind", "sender_name", "received_at", "due_at", "status", "urgent"]
    list_filter = ["status", "platform", "kind", "urgent"]
    search_fields = ["text", "sender_name", "sender_id", "platform_id"]
    date_hierarchy = "received_at"
    raw_id_fields = ["assignee", "passed_to", "responded_by", "closed_by", "added_by"]
    filter_horizontal = ["flagged_families"]


@admin.register(Takedown)
class TakedownAdmin(ReadOnlyAdmin):
    list_display = ["pk", "message", "status", "opened_at", "due_at", "removed_at", "how"]
    list_filter = ["status", "how"]
    list_select_related = ["message"]
    raw_id_fields = ["message", "opened_by", "removed_by"]


@admin.register(DigestSent)
class DigestSentAdmin(ReadOnlyAdmin):
    list_display = ["day", "sent_at"]
