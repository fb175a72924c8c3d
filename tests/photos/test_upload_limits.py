"""How big an upload may be: each photo is checked on its size before anything reads it, a request
too large is refused before it is parsed, and large files wait in a private folder while they arrive."""

from __future__ import annotations

import io
import os
import stat
from pathlib import Path

import pytest
from django.conf import settings
from django.core import mail
from django.core.files.uploadedfile import TemporaryUploadedFile, UploadedFile
from django.urls import reverse

from fig_safety.env import ensure_private_dir
from photos.models import Photo, PhotoTag, UploadBatch
from staff.models import AuditEvent
from tests import factories
from tests.photos.fixtures import consented_child, unique_jpeg, vault_files

UPLOAD = reverse("photos:upload")


@pytest.fixture
def photographer(db):
    return factories.staff_user("photographer", email="photographer@example.org")


@pytest.fixture
def family_and_child(coordinator):
    family, child, _ = consented_child(coordinator=coordinator)
    return family, child


@pytest.fixture
def never_read(monkeypatch):
    """Uploaded files that fail the test if anything reads them (the size check must not need to)."""

    def refuse(self, *args, **kwargs):
        raise AssertionError(f"{self.name} was read")

    for method in ("read", "chunks", "readline", "readlines"):
        monkeypatch.setattr(UploadedFile, method, refuse, raising=False)


def _file(data: bytes, name: str) -> io.BytesIO:
    """A file for the test client to send (a BytesIO, so that sending it does not go through UploadedFile)."""
    out = io.BytesIO(data)
    out.name = name
    return out


def _big(size: int) -> bytes:
    return unique_jpeg() + os.urandom(size)


def _state() -> dict:
    return {
        "batches": UploadBatch.objects.count(),
        "photos": Photo.objects.count(),
        "tags": PhotoTag.objects.count(),
        "audit": AuditEvent.objects.count(),
        "vault": vault_files(),
        "mail": len(mail.outbox),
    }


@pytest.mark.django_db
@pytest.mark.parametrize("json", [False, True])
def test_an_over_size_photo_is_refused_on_its_size_without_being_read(
    client, photographer, family_and_child, settings, never_read, django_capture_on_commit_callbacks, json
):
    settings.FIG_PHOTO_MAX_BYTES = 1_000_000
    family, child = family_and_child
    client.force_login(photographer)
    before = _state()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client.post(
            UPLOAD,
            {
                "family": family.reference,
                "children": [child.pk],
                "files": [_file(unique_jpeg(), "IMG_1.jpg"), _file(_big(1_500_000), "IMG_2.jpg")],
            },
            headers={"Accept": "application/json"} if json else {},
        )

    assert response.status_code == 400
    message = "IMG_2.jpg is 1.5 MB, more than the 1 MB a photo may be. Nothing was uploaded"
    if json:
        assert len(response.json()["errors"]) == 1 and response.json()["errors"][0].startswith(message)
    else:
        assert message in response.content.decode()
        assert "IMG_1.jpg" not in response.content.decode()  # the photo that was small enough is not named
    assert callbacks == [] and _state() == before  # nothing stored, nothing queued


@pytest.mark.django_db
def test_a_large_upload_waits_in_the_private_folder_not_the_system_temp_folder(
    client, photographer, family_and_child, settings, never_read, monkeypatch
):
    settings.FIG_PHOTO_MAX_BYTES = 2_000_000
    assert settings.FILE_UPLOAD_MAX_MEMORY_SIZE < 3_000_000  # so this one goes to a temporary file
    family, child = family_and_child
    waited_in = []
    real_init = TemporaryUploadedFile.__init__

    def spy(self, *args, **kwargs):
        real_init(self, *args, **kwargs)
        waited_in.append(Path(self.temporary_file_path()).parent)

    monkeypatch.setattr(TemporaryUploadedFile, "__init__", spy)
    client.force_login(photographer)
    before = _state()
    response = client.post(
        UPLOAD, {"family": family.reference, "children": [child.pk], "files": [_file(_big(3_000_000), "IMG_3.jpg")]}
    )

    assert response.status_code == 400
    assert "IMG_3.jpg is 3 MB, more than the 2 MB a photo may be." in response.content.decode()
    assert waited_in == [Path(settings.FILE_UPLOAD_TEMP_DIR)]
    assert _state() == before


def test_the_upload_folder_is_private_and_in_the_var_folder():
    folder = Path(settings.FILE_UPLOAD_TEMP_DIR)
    assert folder.parent == Path(settings.VAR_DIR)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700


def test_an_existing_folder_is_made_private(tmp_path):
    folder = tmp_path / "uploads"
    folder.mkdir(mode=0o755)
    folder.chmod(0o755)
    assert ensure_private_dir(folder) == folder
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700


@pytest.mark.django_db
@pytest.mark.parametrize("json", [False, True])
def test_a_request_too_large_is_refused_before_it_is_parsed(client, photographer, family_and_child, settings, json):
    settings.FIG_REQUEST_MAX_BYTES = 1_000_000
    family, child = family_and_child
    client.force_login(photographer)
    before = _state()
    response = client.post(
        UPLOAD,
        {
            "family": family.reference,
            "children": [child.pk],
            "files": [_file(_big(600_000), "IMG_1.jpg"), _file(_big(600_000), "IMG_2.jpg")],  # each within the limit
        },
        headers={"Accept": "application/json"} if json else {},
    )

    assert response.status_code == 413
    message = "That is more than can be sent in one go (1 MB). If you were uploading photos, send fewer at a time."
    if json:
        assert response.json() == {"errors": [message]}
    else:
        assert message in response.content.decode()
        assert "Too much to send at once" in response.content.decode()
    assert "_files" not in response.wsgi_request.__dict__  # the body was never parsed
    assert _state() == before


@pytest.mark.django_db
def test_a_request_within_the_limit_goes_through(
    client, photographer, family_and_child, settings, django_capture_on_commit_callbacks
):
    settings.FIG_REQUEST_MAX_BYTES = 1_000_000
    family, child = family_and_child
    client.force_login(photographer)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            UPLOAD, {"family": family.reference, "children": [child.pk], "files": [_file(unique_jpeg(), "IMG_1.jpg")]}
        )
    assert response.status_code == 302
    assert Photo.objects.get().status == Photo.Status.READY
