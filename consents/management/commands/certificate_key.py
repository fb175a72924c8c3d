"""python manage.py certificate_key FOLDER: make the key and self-signed certificate that seal consent
certificates, for FIG_CERTIFICATE_SIGNING_KEY and FIG_CERTIFICATE_SIGNING_CERT. Never overwrites a key."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from consents.certificate_seal import write_key_pair


class Command(BaseCommand):
    help = "Make a key and self-signed certificate for sealing consent certificates."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "folder", type=Path, help="where to write key.pem (readable by its owner only) and cert.pem"
        )

    def handle(self, *args, folder: Path, **options) -> None:
        try:
            paths = write_key_pair(folder)
        except FileExistsError as exc:
            raise CommandError(f"{exc.filename} exists already; refusing to replace it.") from exc
        self.stdout.write(f"FIG_CERTIFICATE_SIGNING_KEY={paths.key.resolve()}")
        self.stdout.write(f"FIG_CERTIFICATE_SIGNING_CERT={paths.cert.resolve()}")
        self.stdout.write("Keep both, and back up the key somewhere safe: without it no new certificate can be sealed.")
