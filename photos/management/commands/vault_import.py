"""python manage.py vault_import: bring photo files into the vault through the same checks as the web upload.

Runs synchronously (no worker needed): the files are uploaded as one batch, then
each is processed at once. One result line per file; exits non-zero if any was refused.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db.models import Value
from django.db.models.functions import Concat
from django.utils import timezone

from consents.models import Child, Family
from fig_safety.times import LONDON
from photos.models import Photo
from photos.selectors import can_upload_for
from photos.services import UploadError, photo_process, photo_upload
from staff.models import User


class Command(BaseCommand):
    help = (
        "Import photo files for one family, tagged with the children in them (of any families: a group photo), "
        "through the same consent checks and processing as the web upload. A child is given by id or by full "
        'name, e.g. --child "Ava Demo".'
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("files", nargs="+", type=Path, metavar="FILE")
        parser.add_argument("--family", required=True, metavar="REF", help="The family's reference, e.g. FIG-ABC123.")
        parser.add_argument(
            "--child",
            action="append",
            default=[],
            metavar="CHILD",
            help="A child in the photos, by id or full name (unique among the families you may upload for), of "
            "this family or another one (a group photo). Repeat for each child.",
        )
        parser.add_argument(
            "--no-child-identifiable",
            action="store_true",
            help="No child can be identified in these photos (needed when no --child is given). A photo in "
            "which faces are found is refused, unless --blur-faces is given too.",
        )
        parser.add_argument(
            "--blur-faces",
            action="store_true",
            help="With --no-child-identifiable: keep only a version with every face found blurred; the original "
            "bytes are never kept.",
        )
        parser.add_argument(
            "--taken-at",
            metavar="DATE",
            help='When the photos were really taken, if the camera\'s clock was wrong: "2026-06-03 14:30" (UK time). '
            "Recorded with who stated it; the photos are checked against the consent in force then.",
        )
        parser.add_argument(
            "--taken-by",
            required=True,
            metavar="EMAIL",
            help="The photographer or coordinator the photos are uploaded as.",
        )

    def handle(
        self,
        *args,
        files: list[Path],
        family: str,
        child: list[str],
        no_child_identifiable: bool,
        taken_by: str,
        blur_faces: bool = False,
        taken_at: str | None = None,
        **options,
    ) -> None:
        if blur_faces and not no_child_identifiable:
            raise CommandError(
                "--blur-faces goes with --no-child-identifiable (for photos in which no child is tagged)."
            )
        stated = self._taken_at(taken_at) if taken_at else None
        the_family = Family.objects.filter(reference__iexact=family.strip()).first()
        if the_family is None:
            raise CommandError(f"There is no family with the reference {family!r}.")
        user = User.objects.filter(email__iexact=taken_by.strip(), is_active=True).first()
        if user is None:
            raise CommandError(f"There is no active user with the email {taken_by!r}.")
        if not can_upload_for(user).filter(pk=the_family.pk).exists():
            raise CommandError(
                f"{user.email} may not upload photos for family {the_family.reference}: "
                "only photographers and the family's coordinators may."
            )
        children = [self._child(can_upload_for(user), given) for given in child]
        contents = [self._read(path) for path in files]

        accepted = [(path, data) for path, data in zip(files, contents, strict=True) if data is not None]
        refused = 0
        for path, data in zip(files, contents, strict=True):
            if data is None:
                refused += 1
                self.stdout.write(
                    f"REFUSED  {path}: The file is larger than {settings.FIG_PHOTO_MAX_BYTES // 1_000_000} MB."
                )
        if accepted:
            try:
                batch = photo_upload(
                    family=the_family,
                    children=children,
                    files=[data for _path, data in accepted],
                    no_child_identifiable=no_child_identifiable,
                    blur_faces=blur_faces,
                    taken_at=stated,
                    by=user,
                    queue=False,
                )
            except UploadError as exc:
                raise CommandError(str(exc)) from exc
            # The batch's photos were created in the order of the files.
            for (path, _data), photo_id in zip(
                accepted, batch.photos.order_by("pk").values_list("pk", flat=True), strict=True
            ):
                photo = photo_process(photo_id=photo_id)
                if photo.status == Photo.Status.READY:
                    faces = f", {photo.face_count} face(s) found" + (", blurred" if photo.blurred_only else "")
                    self.stdout.write(
                        f"STORED   {path}: photo {photo.public_id}, {photo.width} × {photo.height}{faces}"
                    )
                else:
                    refused += 1
                    self.stdout.write(f"REFUSED  {path}: {photo.refusal_reason}")
        stored = len(files) - refused
        summary = f"{stored} of {len(files)} file(s) stored for family {the_family.reference}."
        if refused:
            raise CommandError(f"{summary} {refused} refused.")
        self.stdout.write(summary)

    @staticmethod
    def _child(families, given: str) -> Child:
        """A child of any family in `families` (those the uploader may upload for): a group photo may show
        children of several families. By id, or by full name (any case) where exactly one child has it."""
        given = given.strip()
        children = Child.objects.filter(family__in=families).select_related("family")
        if given.isdecimal():
            found = children.filter(pk=int(given)).first()
            if found is None:
                raise CommandError(f"There is no child with id {given} in a family you may upload photos for.")
            return found
        full_name = " ".join(given.split())
        matches = list(
            children.annotate(full_name=Concat("first_name", Value(" "), "last_name"))
            .filter(full_name__iexact=full_name)
            .order_by("pk")  # the same message every time
        )
        if not matches:
            raise CommandError(f"There is no child called {given!r} in a family you may upload photos for.")
        if len(matches) > 1:
            found = ", ".join(f"{c.pk} in family {c.family.reference}" for c in matches)
            raise CommandError(f"More than one child is called {given!r}: use the id ({found}).")
        return matches[0]

    @staticmethod
    def _taken_at(given: str) -> datetime:
        """A date and time on London's clock, "2026-06-03 14:30" (or with a T, or with seconds)."""
        for pattern in ("%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S"):
            try:
                return timezone.make_aware(datetime.strptime(given.strip(), pattern), LONDON)
            except ValueError:
                continue
        raise CommandError(f'--taken-at needs a date and time, like "2026-06-03 14:30", not {given!r}.')

    @staticmethod
    def _read(path: Path) -> bytes | None:
        """The file's bytes, or None when it is over the size limit (refused without reading it)."""
        try:
            if path.stat().st_size > settings.FIG_PHOTO_MAX_BYTES:
                return None
            return path.read_bytes()
        except OSError as exc:
            raise CommandError(f"Cannot read {path}: {exc.strerror or exc}") from exc
