"""python manage.py verify_certificate FILE: whether a PDF is a FiG Safety consent certificate, unchanged
since it was sealed. Prints a plain verdict; exits 0 only for an unchanged certificate (1 otherwise)."""

from __future__ import annotations

import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from consents.certificate_seal import Verdict, load_certificate, seal_paths, verify_pdf
from fig_safety.times import LONDON


class Command(BaseCommand):
    help = "Say whether a PDF is a FiG Safety consent certificate and unchanged since it was sealed."

    def add_arguments(self, parser) -> None:
        parser.add_argument("file", type=Path, help="the PDF to check")
        parser.add_argument(
            "--cert",
            type=Path,
            action="append",
            default=[],
            help="check against this certificate (PEM or DER) instead of the configured one; repeat for"
            " several, for example the one used before a key change",
        )
        parser.add_argument("--why", action="store_true", help="also say what was found")

    def handle(self, *args, file: Path, cert: list[Path], why: bool, **options) -> None:
        try:
            data = file.read_bytes()
            certificates = [load_certificate(path) for path in cert or [seal_paths().cert]]
        except (OSError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        result = verify_pdf(data, certificates=certificates)
        if result.verdict == Verdict.UNCHANGED:
            local = timezone.localtime(result.sealed_at, LONDON)
            sealed = f"{local.day} {local:%B %Y at %H:%M:%S} (UK time)"
            self.stdout.write(f"This is a FiG Safety consent certificate, unchanged since it was sealed on {sealed}.")
        elif result.verdict == Verdict.CHANGED:
            self.stdout.write("This PDF has been changed after it was sealed.")
        else:
            self.stdout.write("This is not a FiG Safety certificate.")
        if why and result.why:
            self.stdout.write(f"Found: {result.why}.")
        if not result.ok:
            sys.exit(1)
