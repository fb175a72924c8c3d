"""Admin for consents: reference data is visible; signed records are read-only."""

from django.contrib import admin

from consents.models import ConsentFormVersion, ConsentRecord, ConsentRequest, Family
from staff.admin import ReadOnlyAdmin as ReadOnly


@admin.register(Family)
class FamilyAdmin(ReadOnly):
    list_display = ["reference", "created_at"]
    search_fields = ["reference"]


@admin.register(ConsentFormVersion)
class ConsentFormVersionAdmin(ReadOnly):
    list_display = ["number", "published_at", "requires_reconsent"]


@admin.register(ConsentRequest)
class ConsentRequestAdmin(ReadOnly):
    list_display = ["pk", "status", "created_at", "expires_at"]
    list_filter = ["status"]


@admin.register(ConsentRecord)
class ConsentRecordAdmin(ReadOnly):
    list_display = ["pk", "kind", "method", "signed_at"]
    list_filter = ["kind", "method"]
