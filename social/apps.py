from django.apps import AppConfig


class SocialConfig(AppConfig):
    name = "social"
    verbose_name = "Social media"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from consents.hooks import register_withdrawal_handler
        from social.inbox.selectors import dashboard_changed
        from social.models import Conversation, Takedown
        from social.posts.services import posts_on_consent_withdrawn

        register_withdrawal_handler(posts_on_consent_withdrawn)
        for model in (Conversation, Takedown):
            post_save.connect(dashboard_changed, sender=model, dispatch_uid=f"dashboard-{model.__name__}-saved")
            post_delete.connect(dashboard_changed, sender=model, dispatch_uid=f"dashboard-{model.__name__}-deleted")
