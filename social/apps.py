from django.apps import AppConfig


class SocialConfig(AppConfig):
    name = "social"
    verbose_name = "Social media"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from consents.hooks import register_withdrawal_handler
        from photos.hooks import register_photos_deleted
        from social.inbox.selectors import dashboard_changed
        from social.models import Conversation, Takedown
        from social.posts.services import (
            posts_on_consent_withdrawn,
            posts_on_photos_deleted,
            posts_photos_deleted_preview,
        )

        register_withdrawal_handler(posts_on_consent_withdrawn)
        register_photos_deleted(handler=posts_on_photos_deleted, preview=posts_photos_deleted_preview)
        for model in (Conversation, Takedown):
            post_save.connect(dashboard_changed, sender=model, dispatch_uid=f"dashboard-{model.__name__}-saved")
            post_delete.connect(dashboard_changed, sender=model, dispatch_uid=f"dashboard-{model.__name__}-deleted")
