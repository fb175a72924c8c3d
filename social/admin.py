"""Django admin for the inbox and the post checks' term lists: read-only, because every change goes through
the services and their audit (the term lists are edited on their own page, /social/policy-terms/)."""

from __future__ import annotations

from django.contrib import admin

from social.models import Conversation, DigestSent, PolicyTerm, Takedown
from staff.admin import ReadOnlyAdmin


@admin.register(Conversation)
class InboxMessageAdmin(ReadOnlyAdmin):
    list_display = ["pk", "platform", "kind", "sender_name", "received_at", "due_at", "status", "urgent"]
    list_filter = ["status", "platform", "kind", "urgent"]
    search_fields = ["text", "sender_name", "sender_id", "thread"]
    date_hierarchy = "received_at"
    raw_id_fields = ["assignee", "passed_to", "responded_by", "closed_by", "added_by"]
    filter_horizontal = ["flagged_families"]


@admin.register(Takedown)
class TakedownAdmin(ReadOnlyAdmin):
    list_display = ["pk", "message", "post", "status", "opened_at", "due_at", "removed_at", "how"]
    list_filter = ["status", "how"]
    list_select_related = ["message", "post"]
    raw_id_fields = ["message", "post", "opened_by", "removed_by", "requested_by"]


@admin.register(DigestSent)
class DigestSentAdmin(ReadOnlyAdmin):
    list_display = ["day", "sent_at"]


@admin.register(PolicyTerm)
class PolicyTermAdmin(ReadOnlyAdmin):
    list_display = ["term", "category", "kind", "is_active"]
    list_filter = ["category", "kind", "is_active"]
    search_fields = ["term"]
