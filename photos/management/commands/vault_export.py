"""python manage.py vault_export: one family's photos, consents with their evidence, access logs, the posts
that used its photos with their takedowns, and its audit events.

What a subject access request needs (photos.export writes it; coordinators download the same as a zip
from the family page). The export itself is recorded in each photo's access log and in the audit trail.
"""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from consents.models import Family
from photos.export import FolderTarget, family_export
from staff.models import User


class Command(BaseCommand):
    help = (
        "Export one family's photos (decrypted, processed JPEGs), consent records with their evidence, consent "
        "requests, each photo's allowed uses and access log, the posts that used its photos, removal requests, "
        "takedowns and the family's audit events into DIR, with a manifest.json. For subject access requests."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--family", required=True, metavar="REF", help="The family's reference.")
        parser.add_argument(
            "--out", required=True, type=Path, metavar="DIR", help="A new or empty folder to write the export into."
        )
        parser.add_argument(
            "--by", metavar="EMAIL", default="", help="The member of staff the export is made by, for the access log."
        )

    def handle(self, *args, family: str, out: Path, by: str, **options) -> None:
        the_family = Family.objects.filter(reference__iexact=family.strip()).first()
        if the_family is None:
            raise CommandError(f"There is no family with the reference {family!r}.")
        user = None
        if by:
            user = User.objects.filter(email__iexact=by.strip(), is_active=True).first()
            if user is None:
                raise CommandError(f"There is no active user with the email {by!r}.")
        if out.exists() and (not out.is_dir() or any(out.iterdir())):
            raise CommandError(f"{out} already exists and is not an empty folder; choose a new one.")
        try:
            (out / "photos").mkdir(parents=True, mode=0o700, exist_ok=True)
            (out / "unidentifiable").mkdir(mode=0o700, exist_ok=True)
            (out / "consents").mkdir(mode=0o700, exist_ok=True)
            out.chmod(0o700)
        except OSError as exc:
            raise CommandError(f"Cannot create {out}: {exc.strerror or exc}") from exc

        export = family_export(family=the_family, into=FolderTarget(out), by=user, where=str(out.resolve()))

        self.stdout.write(
            f"Exported family {the_family.reference} to {out}: {export.photos_written} photo(s), "
            f"{len(export.manifest['consent_records'])} consent record(s), manifest.json."
        )
        if export.problems:
            for problem in export.problems:
                self.stderr.write(problem)
            raise CommandError(
                f"The export is incomplete: {len(export.problems)} file(s) could not be read from the vault."
            )
