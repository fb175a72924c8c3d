from django.apps import AppConfig


class StaffConfig(AppConfig):
    name = "staff"
    verbose_name = "Staff, roles and audit"

    def ready(self) -> None:
        # Audit receivers for sign-in, MFA and password events sent by Django and allauth.
        from staff import receivers  # noqa: F401
