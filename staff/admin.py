"""Django admin for accounts, roles, the audit trail (read-only) and reference data."""

from __future__ import annotations

from allauth.usersessions.admin import UserSessionAdmin as AllauthUserSessionAdmin
from allauth.usersessions.models import UserSession
from django import forms
from django.contrib import admin, messages
from django.http import HttpRequest

from staff import services
from staff.models import (
    ApprovedPlatform,
    AuditEvent,
    BreachReport,
    PolicyAcknowledgement,
    PolicyVersion,
    User,
    VirtualVisit,
)
from staff.roles import ROLE_CHOICES, user_roles


class UserAdminForm(forms.ModelForm):
    roles = forms.MultipleChoiceField(
        choices=ROLE_CHOICES,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Anyone with a role is staff and must use two-step sign-in. Leave empty for a parent or carer.",
    )

    class Meta:
        model = User
        fields = ["email", "full_name", "is_active"]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["roles"].initial = sorted(user_roles(self.instance))

    def clean_email(self) -> str:
        email = self.cleaned_data["email"].strip().lower()
        clash = User.objects.filter(email=email).exclude(pk=self.instance.pk)
        if clash.exists():
            raise forms.ValidationError("There is already an account with this email address.")
        return email


@admin.register(User)
class UserAdmin(admin.ModelAdmin):
    form = UserAdminForm
    list_display = ["email", "full_name", "role_list", "is_active", "last_login"]
    list_filter = ["is_active", "groups"]
    search_fields = ["email", "full_name"]
    ordering = ["email"]

    def get_queryset(self, request: HttpRequest):
        return super().get_queryset(request).prefetch_related("groups")

    @admin.display(description="roles")
    def role_list(self, obj: User) -> str:
        return ", ".join(sorted(group.name for group in obj.groups.all())) or "parent / carer"

    def get_fields(self, request, obj=None):
        return ["email", "full_name", "is_active", "roles"] if obj else ["email", "full_name", "roles"]

    def has_delete_permission(self, request, obj=None) -> bool:
        # Accounts are deactivated, not deleted, so the audit trail keeps its actors.
        return False

    def save_model(self, request, obj, form, change) -> None:
        roles = form.cleaned_data.get("roles", [])
        if change:
            obj.save(update_fields=["email", "full_name", "is_active"])
            services.user_set_roles(user=obj, roles=roles, by=request.user, request=request)
            services.audit_record(
                action="account.updated",
                actor=request.user,
                target=obj,
                request=request,
                details={"changed": form.changed_data},
            )
        else:
            created = services.staff_user_create(
                email=obj.email, full_name=obj.full_name, roles=roles, by=request.user, request=request
            )
            obj.pk = created.pk
            obj._state.adding = False
            messages.info(request, f"{created.email} has been emailed a link to choose a password.")

    def save_related(self, request, form, formsets, change) -> None:
        # Roles are saved by the services above; there are no other relations to save here.
        return None


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ["occurred_at", "action", "actor_email", "target_type", "target_repr", "ip_address"]
    list_filter = ["action", "target_type"]
    search_fields = ["actor_email", "target_repr", "target_id"]
    date_hierarchy = "occurred_at"
    list_select_related = False


@admin.register(PolicyVersion)
class PolicyVersionAdmin(ReadOnlyAdmin):
    list_display = ["number", "title", "published_at", "published_by"]


@admin.register(PolicyAcknowledgement)
class PolicyAcknowledgementAdmin(ReadOnlyAdmin):
    list_display = ["user", "version", "acknowledged_at"]
    list_select_related = ["user", "version"]


@admin.register(ApprovedPlatform)
class ApprovedPlatformAdmin(admin.ModelAdmin):
    list_display = ["name", "is_active"]


@admin.register(VirtualVisit)
class VirtualVisitAdmin(ReadOnlyAdmin):
    list_display = ["held_at", "family_reference", "staff_member", "platform"]
    list_select_related = ["staff_member", "platform"]


@admin.register(BreachReport)
class BreachReportAdmin(ReadOnlyAdmin):
    # Reports are confidential to the reporter and the CEO: the admin shows no content.
    list_display = ["pk", "status", "created_at"]
    fields = ["status", "created_at"]

    def has_view_permission(self, request, obj=None) -> bool:
        return request.user.is_superuser and obj is None


admin.site.unregister(UserSession)


@admin.register(UserSession)
class UserSessionAdmin(AllauthUserSessionAdmin):
    # allauth's searches by username, which these accounts do not have: every search was a 500.
    search_fields = ["user__email", "ip"]
