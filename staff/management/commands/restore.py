"""python manage.py restore DIR: put a backup back into an empty database and vault storage.

Checks everything first and changes nothing if a check fails; then loads, writes the blobs and runs the
retention and erasure sweeps before the site opens (fig_safety/backup.py). The drill: docs/production.md.
"""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from fig_safety.backup import BackupError, backup_restore


class Command(BaseCommand):
    help = (
        "Restore a backup made by `manage.py backup` into an empty database (no tables: do not migrate first) "
        "and a vault storage holding none of its blobs. Every file is checked against the manifest and every "
        "blob must open with FIG_VAULT_KEYS before anything is changed. Afterwards the retention and erasure "
        "sweeps run, so nothing past its time comes back."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "source", type=Path, metavar="DIR", help="The backup folder (the one holding manifest.json)."
        )

    def handle(self, *args, source: Path, **options) -> None:
        try:
            report = backup_restore(source=source)
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"Restored the backup made at {report.created_at}.")
        self.stdout.write(f"Database: {sum(report.rows.values())} rows. Vault: {report.blobs} blobs.")
        for item in report.missing:
            self.stderr.write(
                f"Missing when the backup was made, so not restored: {item['blob']} ({item['where']}): "
                f"{item['problem']}"
            )
        for name, count in report.sweeps.items():
            self.stdout.write(f"After the restore: {name}: {count}")
        self.stdout.write("The site can be started.")
