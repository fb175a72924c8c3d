from django.apps import AppConfig


class PhotosConfig(AppConfig):
    name = "photos"
    verbose_name = "Photo vault"

    def ready(self) -> None:
        from django.conf import settings
        from PIL import Image

        from consents.hooks import register_withdrawal_handler
        from photos.services import photos_on_consent_withdrawn

        # Pillow's own bomb guard at our limit (it refuses outright at twice this).
        Image.MAX_IMAGE_PIXELS = settings.FIG_PHOTO_MAX_PIXELS
        register_withdrawal_handler(photos_on_consent_withdrawn)
