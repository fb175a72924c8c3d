from django.apps import AppConfig


class SocialConfig(AppConfig):
    name = "social"
    verbose_name = "Social media"

    def ready(self) -> None:
        from consents.hooks import register_withdrawal_handler
        from social.posts import posts_on_consent_withdrawn

        register_withdrawal_handler(posts_on_consent_withdrawn)
