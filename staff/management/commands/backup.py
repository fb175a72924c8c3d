"""python manage.py backup --out DIR: the database and every vault blob (still sealed), with a manifest.

How it is made and what it holds: fig_safety/backup.py. When to run it, where to keep it and how long, and
the restore drill: docs/production.md.
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from fig_safety.backup import BackupError, backup_write


class Command(BaseCommand):
    help = (
        "Back up the database and every vault blob into DIR (a new folder), with a manifest of checksums. "
        "Blobs stay encrypted; no vault key is written. Backups are kept FIG_BACKUP_KEEP_DAYS (30 by default): "
        "with --prune, older ones beside DIR are deleted once this one is complete. A restore runs the retention "
        "and erasure sweeps before the site opens. Exits non-zero if a blob the database "
        "names could not be copied (the rest is still written)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--out", required=True, type=Path, metavar="DIR", help="A new (or empty) folder for this backup."
        )
        parser.add_argument(
            "--prune",
            action="store_true",
            help="Then delete the backups in DIR's parent folder made more than FIG_BACKUP_KEEP_DAYS days ago.",
        )

    def handle(self, *args, out: Path, prune: bool, **options) -> None:
        try:
            report = backup_write(out=out, prune_after_days=settings.FIG_BACKUP_KEEP_DAYS if prune else None)
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"Database: {sum(report.rows.values())} rows from {len(report.rows)} tables.")
        self.stdout.write(
            f"Vault: {report.blobs} blobs ({report.blob_bytes / 1_000_000:.1f} MB), sealed with key(s) "
            f"{', '.join(report.key_ids) or '(none)'}: keep a copy of those keys apart from the backups."
        )
        for folder in report.pruned:
            self.stdout.write(f"Deleted an old backup: {folder}")
        if report.missing:
            for problem in report.missing:
                self.stderr.write(problem)
            raise CommandError(
                f"{len(report.missing)} blob(s) the database names could not be copied; the rest is in {report.out}, "
                "and its manifest lists them. Old backups were kept."
            )
        self.stdout.write(f"Backup written to {report.out}.")
