"""python manage.py publish_policy FILE: publish a new version of the eSafety policy."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from staff.services import policy_publish


class Command(BaseCommand):
    help = "Publish FILE as a new version of the eSafety policy that every member of staff must acknowledge."

    def add_arguments(self, parser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--title", default="eSafety policy")
        parser.add_argument("--summary", default="", help="What has changed, shown to staff.")

    def handle(self, *args, file: Path, title: str, summary: str, **options) -> None:
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(f"Cannot read {file}: {exc}") from exc
        if not text.strip():
            raise CommandError(f"{file} is empty.")
        version = policy_publish(text=text, title=title, summary=summary, by=None)
        self.stdout.write(f"{version.title} version {version.number} is current (sha256 {version.sha256[:12]}…).")
