"""python manage.py inbox_sweep: run the inbox deadline sweep once (the same code beat runs)."""

from django.core.management.base import BaseCommand

from social.inbox.sweeps import inbox_sweep


class Command(BaseCommand):
    help = "Send due reminders, escalations, the daily digest and takedown escalations, once each."

    def handle(self, *args, **options) -> None:
        result = inbox_sweep()
        self.stdout.write(", ".join(f"{key.replace('_', ' ')}: {value}" for key, value in result.items()))
