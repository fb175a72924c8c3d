"""The inbox's unit of work becomes the conversation: the old one-message rows are renamed, and
0012 gives each its messages."""

from django.conf import settings
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("consents", "0005_lapse_notices"),
        ("social", "0010_policy_terms_phrases_exceptions_context"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RenameModel("InboxMessage", "Conversation"),
    ]
