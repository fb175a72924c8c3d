"""Operator commands: vault_import (same checks as the web upload, no worker), vault_export (subject access
requests) and vault_rotate_key (its output and errors; the rotation itself is in test_storage.py)."""

from __future__ import annotations

import hashlib
import io
import json
import os
import stat
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import ManagementUtility, call_command
from django.core.management.base import CommandError
from PIL import Image

from consents.models import ConsentRecord, Purpose
from consents.services import signing as consent_services
from fig_safety.vault import vault_read
from photos.models import Photo, PhotoAccess, UploadBatch
from photos.selectors import uses_for_photos
from photos.services import photo_access_record, photo_delete, photo_upload
from staff.models import AuditEvent
from tests import factories
from tests.consents.factories import (
    EVIDENCE,
    CarerFactory,
    ChildFactory,
    all_answers,
    assign,
    family_with_child,
    give,
    request_for,
    sign,
    withdraw,
)
from tests.photos import images
from tests.photos.fixtures import consented_child, ready_photo, unique_jpeg, vault_files


@pytest.fixture
def photographer(db):
    return factories.staff_user("photographer", email="photographer@example.org")


@pytest.fixture
def demo(db):
    """Family with Ava Demo and Ben Demo, both consented by their mother."""
    family, ava, carer = consented_child()
    ava.first_name, ava.last_name = "Ava", "Demo"
    ava.save()
    _family, ben, _carer = consented_child(family=family)
    ben.first_name, ben.last_name = "Ben", "Demo"
    ben.save()
    return family, ava, ben, carer


def write(folder: Path, name: str, data: bytes) -> Path:
    path = folder / name
    path.write_bytes(data)
    return path


def run_import(*args: str) -> str:
    out = StringIO()
    call_command("vault_import", *args, stdout=out)
    return out.getvalue()


# --- vault_import ----------------------------------------------------------------------------


def test_it_imports_files_synchronously_through_the_same_checks(
    demo, photographer, tmp_path, monkeypatch, django_capture_on_commit_callbacks
):
    family, ava, ben, _carer = demo
    monkeypatch.setattr("photos.tasks.process_photo.delay", lambda *a: pytest.fail("queued to a worker"))
    first = write(tmp_path, "Ava-Demo-at-the-park.jpg", images.jpeg(320, 240, exif_gps=True, orientation=6))
    second = write(tmp_path, "IMG_0001.HEIC", images.heic())

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        output = run_import(
            "--family",
            family.reference,
            "--child",
            "Ava Demo",
            "--child",
            str(ben.pk),
            "--taken-by",
            "PHOTOGRAPHER@example.org",
            str(first),
            str(second),
        )

    assert callbacks == []  # nothing left for a worker
    photos = list(Photo.objects.order_by("pk"))
    assert [p.status for p in photos] == ["ready", "ready"]
    lines = output.strip().splitlines()
    assert lines[0] == f"STORED   {first}: photo {photos[0].public_id}, 240 × 320, 0 face(s) found"  # stored upright
    assert lines[1] == f"STORED   {second}: photo {photos[1].public_id}, 64 × 48, 0 face(s) found"
    assert lines[2] == f"2 of 2 file(s) stored for family {family.reference}."
    for photo in photos:
        assert photo.uploaded_by == photographer and photo.family == family
        assert set(photo.tags.values_list("child_id", flat=True)) == {ava.pk, ben.pk}
        assert "Ava" not in photo.original_blob and "IMG_0001" not in photo.original_blob
        assert b"Exif" not in vault_read(name=photo.original_blob, key_id=photo.original_key_id)
    assert UploadBatch.objects.count() == 1
    assert AuditEvent.objects.filter(action="photo.uploaded", actor=photographer).count() == 1


def test_a_child_can_be_named_loosely(demo, photographer, tmp_path):
    family, ava, _ben, _carer = demo
    run_import(
        "--family",
        family.reference.lower(),
        "--child",
        "  ava   DEMO ",
        "--taken-by",
        photographer.email,
        str(write(tmp_path, "a.jpg", images.jpeg())),
    )
    assert list(Photo.objects.get().tags.values_list("child_id", flat=True)) == [ava.pk]


def test_a_refused_file_gets_its_line_and_a_non_zero_exit(demo, photographer, tmp_path):
    family, ava, _ben, _carer = demo
    good = write(tmp_path, "good.jpg", images.jpeg())
    disguised = write(tmp_path, "holiday.jpg", images.svg())
    broken = write(tmp_path, "broken.jpg", images.truncated_jpeg())
    before = vault_files()
    out = StringIO()

    with pytest.raises(CommandError, match="1 of 3 file\\(s\\) stored .* 2 refused"):
        call_command(
            "vault_import",
            "--family",
            family.reference,
            "--child",
            str(ava.pk),
            "--taken-by",
            photographer.email,
            str(good),
            str(disguised),
            str(broken),
            stdout=out,
        )

    lines = out.getvalue().strip().splitlines()
    assert lines[0].startswith(f"STORED   {good}: photo ")
    assert lines[1] == f"REFUSED  {disguised}: This is not a JPEG, PNG, WebP or HEIC photo."
    assert lines[2] == f"REFUSED  {broken}: The file is damaged or incomplete, so it cannot be read as a photo."
    assert len(vault_files() - before) == 2  # the good photo's original and thumbnail only


def test_the_command_line_exits_non_zero_when_a_file_is_refused(demo, photographer, tmp_path, capsys):
    family, ava, _ben, _carer = demo
    bomb = write(tmp_path, "bomb.png", images.bomb_png(20000, 20000))

    with pytest.raises(SystemExit) as exit_status:
        ManagementUtility(
            [
                "manage.py",
                "vault_import",
                "--family",
                family.reference,
                "--child",
                "Ava Demo",
                "--taken-by",
                photographer.email,
                str(bomb),
            ]
        ).execute()

    assert exit_status.value.code == 1
    captured = capsys.readouterr()
    assert f"REFUSED  {bomb}: The image has too many pixels" in captured.out
    assert "0 of 1 file(s) stored" in captured.err


def test_a_file_over_the_size_limit_is_refused_without_reading_it(demo, photographer, tmp_path, settings):
    settings.FIG_PHOTO_MAX_BYTES = 2000
    family, ava, _ben, _carer = demo
    big = write(tmp_path, "big.jpg", images.jpeg(300, 300, noise=True))
    small = write(tmp_path, "small.jpg", images.jpeg(16, 16))
    out = StringIO()

    with pytest.raises(CommandError, match="1 of 2"):
        call_command(
            "vault_import",
            "--family",
            family.reference,
            "--child",
            "Ava Demo",
            "--taken-by",
            photographer.email,
            str(big),
            str(small),
            stdout=out,
        )

    assert f"REFUSED  {big}: The file is larger than 0 MB." in out.getvalue()
    assert Photo.objects.get().status == Photo.Status.READY


def test_a_duplicate_of_a_photo_in_the_family_is_refused(demo, photographer, tmp_path):
    family, ava, _ben, _carer = demo
    data = images.jpeg(colour=(12, 34, 56))
    ready_photo(family, [ava], photographer, data=data)
    out = StringIO()

    with pytest.raises(CommandError):
        call_command(
            "vault_import",
            "--family",
            family.reference,
            "--child",
            "Ava Demo",
            "--taken-by",
            photographer.email,
            str(write(tmp_path, "again.jpg", data)),
            stdout=out,
        )
    assert "REFUSED" in out.getvalue() and "already in the vault" in out.getvalue()


def test_unidentifiable_photos_need_the_flag(demo, photographer, tmp_path):
    family, _ava, _ben, _carer = demo
    path = str(write(tmp_path, "crowd.jpg", images.jpeg()))

    with pytest.raises(CommandError, match="confirm that no child can be identified"):
        run_import("--family", family.reference, "--taken-by", photographer.email, path)
    assert Photo.objects.count() == 0

    run_import("--family", family.reference, "--no-child-identifiable", "--taken-by", photographer.email, path)
    assert Photo.objects.get().no_child_identifiable is True


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"--family": "FIG-NOPE99"}, "There is no family with the reference 'FIG-NOPE99'."),
        ({"--child": "Zed Demo"}, "There is no child called 'Zed Demo' in a family you may upload photos for."),
        ({"--child": "999999"}, "There is no child with id 999999 in a family you may upload photos for."),
        ({"--taken-by": "nobody@example.org"}, "There is no active user with the email 'nobody@example.org'."),
    ],
    ids=["family", "child-name", "child-id", "user"],
)
def test_unknown_family_child_or_user_is_a_clear_error_and_stores_nothing(
    demo, photographer, tmp_path, change, message
):
    family, _ava, _ben, _carer = demo
    options = {"--family": family.reference, "--child": "Ava Demo", "--taken-by": photographer.email, **change}
    before = vault_files()

    with pytest.raises(CommandError) as error:
        run_import(*[part for pair in options.items() for part in pair], str(write(tmp_path, "a.jpg", images.jpeg())))

    assert str(error.value).startswith(message)
    assert Photo.objects.count() == 0 and UploadBatch.objects.count() == 0
    assert vault_files() == before


def test_two_children_with_the_same_name_must_be_given_by_id(demo, photographer, tmp_path):
    family, ava, _ben, _carer = demo
    twin = ChildFactory(family=family, first_name="Ava", last_name="Demo")
    with pytest.raises(
        CommandError,
        match=f"More than one child .* use the id \\({ava.pk} in family {family.reference}, {twin.pk} in family",
    ):
        run_import(
            "--family",
            family.reference,
            "--child",
            "Ava Demo",
            "--taken-by",
            photographer.email,
            str(write(tmp_path, "a.jpg", images.jpeg())),
        )


def test_a_child_without_consent_is_a_clear_error_and_stores_nothing(demo, photographer, tmp_path):
    family, _ava, _ben, carer = demo
    ChildFactory(family=family, first_name="Cara", last_name="Demo")  # nobody has consented for Cara
    before = vault_files()

    with pytest.raises(CommandError) as error:
        run_import(
            "--family",
            family.reference,
            "--child",
            "Ava Demo",
            "--child",
            "Cara Demo",
            "--taken-by",
            photographer.email,
            str(write(tmp_path, "a.jpg", images.jpeg())),
        )

    assert str(error.value) == (
        "No current consent for Cara Demo to be photographed and kept in the vault, so they cannot be tagged."
    )
    assert Photo.objects.count() == 0 and UploadBatch.objects.count() == 0
    assert vault_files() == before


def test_a_withdrawn_consent_is_a_clear_error(demo, photographer, tmp_path):
    family, ava, _ben, carer = demo
    withdraw(ava, carer, [Purpose.STORED])
    with pytest.raises(CommandError, match="No current consent for Ava Demo"):
        run_import(
            "--family",
            family.reference,
            "--child",
            "Ava Demo",
            "--taken-by",
            photographer.email,
            str(write(tmp_path, "a.jpg", images.jpeg())),
        )
    assert Photo.objects.count() == 0


@pytest.mark.parametrize("role", ["staff", "social_admin", "coordinator", None], ids=lambda r: str(r))
def test_only_photographers_and_the_familys_coordinators_may_import(demo, tmp_path, role):
    family, _ava, _ben, _carer = demo
    person = factories.staff_user(role) if role else factories.parent_user()
    with pytest.raises(CommandError, match=f"may not upload photos for family {family.reference}"):
        run_import(
            "--family",
            family.reference,
            "--child",
            "Ava Demo",
            "--taken-by",
            person.email,
            str(write(tmp_path, "a.jpg", images.jpeg())),
        )
    assert Photo.objects.count() == 0


def test_the_familys_coordinator_may_import(demo, tmp_path):
    family, _ava, _ben, _carer = demo
    coordinator = factories.staff_user("coordinator")
    assign(coordinator, family)
    run_import(
        "--family",
        family.reference,
        "--child",
        "Ava Demo",
        "--taken-by",
        coordinator.email,
        str(write(tmp_path, "a.jpg", images.jpeg())),
    )
    assert Photo.objects.get().uploaded_by == coordinator


def test_an_unreadable_file_stops_the_import_before_anything_is_stored(demo, photographer, tmp_path):
    family, _ava, _ben, _carer = demo
    good = write(tmp_path, "good.jpg", images.jpeg())
    before = vault_files()

    with pytest.raises(CommandError, match="Cannot read .*missing.jpg"):
        run_import(
            "--family",
            family.reference,
            "--child",
            "Ava Demo",
            "--taken-by",
            photographer.email,
            str(good),
            str(tmp_path / "missing.jpg"),
        )
    assert Photo.objects.count() == 0 and vault_files() == before


# --- vault_export ------------------------------------------------------------------------------


@pytest.fixture
def coordinator(db):
    return factories.staff_user("coordinator", email="coordinator@example.org")


@pytest.fixture
def family_file(coordinator, photographer):
    """A family with a history: an online signature, a paper scan, a withdrawal, photos viewed, one deleted."""
    family, ava, [mum] = family_with_child(coordinator)
    ava.first_name, ava.last_name = "Ava", "Demo"
    ava.save()
    ben = ChildFactory(family=family, first_name="Ben", last_name="Demo")
    dad = CarerFactory(family=family, full_name="Dan Demo", relationship="father")
    signed = sign(request_for(ava, mum), all_answers())
    scanned = consent_services.consent_record_offline(
        child=ben,
        carer=dad,
        answers=all_answers(),
        method=ConsentRecord.Method.PAPER,
        taken_by="A. Coordinator",
        by=coordinator,
        scan=(images.pdf(), "application/pdf"),
        evidence=EVIDENCE,
    )
    solo = ready_photo(family, [ava], photographer)
    group = ready_photo(family, [ava, ben], photographer)
    gone = ready_photo(family, [ben], photographer)
    photo_delete(photo_id=gone.pk, reason="Retention period over.", by=None)
    refused = photo_upload(
        family=family, children=[ava], files=[images.svg()], no_child_identifiable=False, by=photographer
    ).photos.get()
    from photos.services import photo_process

    photo_process(photo_id=refused.pk)
    photo_access_record(photo=solo, user=coordinator, action=PhotoAccess.Action.VIEW)
    withdraw(ben, dad, [Purpose.ONLINE, Purpose.FACE_ONLINE])  # the group photo can no longer go online

    # Another family that must not appear anywhere in the export.
    other, other_child, [other_carer] = family_with_child(coordinator)
    give(other_child, other_carer)
    ready_photo(other, [other_child], photographer)
    return {
        "family": family,
        "ava": ava,
        "ben": ben,
        "mum": mum,
        "dad": dad,
        "signed": signed,
        "scanned": scanned,
        "solo": solo,
        "group": group,
        "gone": gone,
        "refused": refused,
        "other": other,
    }


def export(family, out: Path, *extra: str) -> str:
    stdout = StringIO()
    call_command("vault_export", "--family", family.reference, "--out", str(out), *extra, stdout=stdout)
    return stdout.getvalue()


def test_it_exports_photos_consents_evidence_uses_and_access_logs(family_file, coordinator, tmp_path):
    family, solo, group = family_file["family"], family_file["solo"], family_file["group"]
    out = tmp_path / "sar"

    output = export(family, out, "--by", coordinator.email)

    assert output.strip() == (
        f"Exported family {family.reference} to {out}: 2 photo(s), 3 consent record(s), manifest.json."
    )
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["family"]["reference"] == family.reference
    assert manifest["exported_by"] == coordinator.email
    assert manifest["problems"] == []
    assert {(c["first_name"], c["last_name"]) for c in manifest["children"]} == {("Ava", "Demo"), ("Ben", "Demo")}
    assert {c["full_name"] for c in manifest["carers"]} == {family_file["mum"].full_name, "Dan Demo"}

    # Photos: decrypted, processed JPEGs, exactly what the vault holds.
    by_id = {p["id"]: p for p in manifest["photos"]}
    assert set(by_id) == {str(solo.public_id), str(group.public_id), str(family_file["gone"].public_id)}
    for photo in (solo, group):
        entry = by_id[str(photo.public_id)]
        data = (out / entry["file"]).read_bytes()
        assert data == vault_read(name=photo.original_blob, key_id=photo.original_key_id)
        assert Image.open(io.BytesIO(data)).format == "JPEG"
        assert entry["sha256"] == hashlib.sha256(data).hexdigest()
        assert entry["uploaded_by"] == "photographer@example.org"
    assert sorted(c["name"] for c in by_id[str(group.public_id)]["tagged_children"]) == ["Ava Demo", "Ben Demo"]
    gone = by_id[str(family_file["gone"].public_id)]
    assert gone["file"] is None and gone["status"] == "deleted" and gone["deletion_reason"] == "Retention period over."

    # Uses now, from the one consent function, least permissive wins.
    uses = uses_for_photos([solo, group])
    assert by_id[str(solo.public_id)]["allowed_uses_now"] == sorted(uses[solo.pk])
    assert by_id[str(group.public_id)]["allowed_uses_now"] == sorted(uses[group.pk])
    assert "online" in uses[solo.pk] and "online" not in uses[group.pk]

    # Access log, including this export.
    solo_log = by_id[str(solo.public_id)]["access_log"]
    assert [(a["action"], a["user"]) for a in solo_log] == [("view", coordinator.email), ("export", coordinator.email)]

    # Consents with their evidence and the exact text shown.
    records = {r["id"]: r for r in manifest["consent_records"]}
    assert len(records) == 3
    online = records[family_file["signed"].pk]
    signed = family_file["signed"]
    assert online["method"] == "online" and online["kind"] == "given"
    assert online["typed_name"] == family_file["mum"].full_name
    assert online["text_shown"] == signed.text_shown and "Ava" in online["text_shown"]
    assert online["text_sha256"] == hashlib.sha256(online["text_shown"].encode()).hexdigest() == signed.text_sha256
    assert online["evidence_sha256"] == signed.evidence_sha256
    assert online["answers"] == signed.answers
    assert online["signed_at"] == signed.signed_at.isoformat()
    assert online["identified_by"] == signed.identified_by
    assert online["ip_address"] == EVIDENCE.ip_address and online["user_agent"] == EVIDENCE.user_agent
    signature = (out / online["signature"]["path"]).read_bytes()
    assert signature.startswith(b"\x89PNG") and online["signature"]["sha256"] == hashlib.sha256(signature).hexdigest()
    paper = records[family_file["scanned"].pk]
    assert paper["method"] == "paper" and paper["recorded_by"] == coordinator.email
    assert paper["scan"]["path"].endswith(".pdf")
    scan = (out / paper["scan"]["path"]).read_bytes()
    assert scan.startswith(b"%PDF")
    assert scan == vault_read(name=family_file["scanned"].scan_blob, key_id=family_file["scanned"].scan_key_id)
    withdrawal = [r for r in records.values() if r["kind"] == "withdrawal"]
    assert len(withdrawal) == 1 and withdrawal[0]["answers"] == {"online": False, "face_online": False}
    ben = next(c for c in manifest["children"] if c["first_name"] == "Ben")
    assert ben["consent_now"]["online"] == "withdrawn"

    # Nothing of the other family.
    text = (out / "manifest.json").read_text()
    assert family_file["other"].reference not in text
    assert len(list((out / "photos").iterdir())) == 2


def test_the_export_is_recorded_in_the_access_log_and_the_audit_trail(family_file, coordinator, tmp_path):
    family = family_file["family"]

    export(family, tmp_path / "sar", "--by", coordinator.email)

    exported = PhotoAccess.objects.filter(action=PhotoAccess.Action.EXPORT)
    assert sorted(exported.values_list("photo_id", flat=True)) == sorted(
        [family_file["solo"].pk, family_file["group"].pk]
    )
    assert set(exported.values_list("user_id", flat=True)) == {coordinator.pk}
    event = AuditEvent.objects.get(action="family.exported")
    assert event.actor == coordinator
    assert event.target_id == str(family.pk)
    assert event.details["photos"] == 2


def test_the_export_folder_and_files_are_private(family_file, tmp_path):
    out = tmp_path / "sar"
    export(family_file["family"], out)

    assert stat.S_IMODE(out.stat().st_mode) == 0o700
    for path in out.rglob("*"):
        assert stat.S_IMODE(path.stat().st_mode) == (0o700 if path.is_dir() else 0o600), path


def test_an_export_without_by_records_an_unattributed_export(family_file, tmp_path):
    export(family_file["family"], tmp_path / "sar")
    assert set(PhotoAccess.objects.filter(action="export").values_list("user_id", flat=True)) == {None}


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--family", "FIG-NOPE99"], "There is no family with the reference 'FIG-NOPE99'."),
        (["--by", "nobody@example.org"], "There is no active user with the email 'nobody@example.org'."),
    ],
    ids=["family", "user"],
)
def test_export_errors_are_clear_and_record_nothing(family_file, tmp_path, options, message):
    args = ["--family", family_file["family"].reference, "--out", str(tmp_path / "sar"), *options]
    with pytest.raises(CommandError, match=message.replace("(", "\\(").replace(")", "\\)")):
        call_command("vault_export", *args, stdout=StringIO())
    assert not (tmp_path / "sar").exists()
    assert not PhotoAccess.objects.filter(action="export").exists()
    assert not AuditEvent.objects.filter(action="family.exported").exists()


def test_an_export_never_writes_into_a_folder_that_has_something_in_it(family_file, tmp_path):
    out = tmp_path / "sar"
    out.mkdir()
    (out / "notes.txt").write_text("someone else's file")

    with pytest.raises(CommandError, match="is not an empty folder"):
        export(family_file["family"], out)

    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]
    assert not PhotoAccess.objects.filter(action="export").exists()


def test_an_existing_empty_folder_is_fine(family_file, tmp_path):
    out = tmp_path / "sar"
    out.mkdir()
    export(family_file["family"], out)
    assert (out / "manifest.json").exists()


def test_a_blob_missing_from_the_vault_makes_the_export_fail_loudly_but_complete(family_file, tmp_path):
    from django.core.files.storage import storages

    solo = family_file["solo"]
    storages["vault"].delete(solo.original_blob)
    out = tmp_path / "sar"
    err = StringIO()

    with pytest.raises(CommandError, match="incomplete: 1 file"):
        call_command(
            "vault_export",
            "--family",
            family_file["family"].reference,
            "--out",
            str(out),
            stdout=StringIO(),
            stderr=err,
        )

    manifest = json.loads((out / "manifest.json").read_text())
    assert len(manifest["problems"]) == 1 and str(solo.public_id) in manifest["problems"][0]
    entry = next(p for p in manifest["photos"] if p["id"] == str(solo.public_id))
    assert entry["file"] is None
    assert (out / "photos" / f"{family_file['group'].public_id}.jpg").exists()


# --- vault_rotate_key --------------------------------------------------------------------------


def test_rotate_prints_counts_per_kind(photographer, settings):
    settings.FIG_VAULT_KEYS = {"k1": os.urandom(32)}
    family, child, _carer = consented_child()
    ready_photo(family, [child], photographer, data=unique_jpeg())
    settings.FIG_VAULT_KEYS = {"k2": os.urandom(32), **settings.FIG_VAULT_KEYS}
    out = StringIO()

    call_command("vault_rotate_key", stdout=out)

    lines = out.getvalue().splitlines()
    assert lines[0] == "originals   re-sealed:      1   already on k2:      0"
    assert lines[1] == "thumbnails  re-sealed:      1   already on k2:      0"
    assert lines[-1] == "Re-sealed 2 blob(s) with key k2; 0 were already on it."


def test_rotate_without_any_key_is_a_clear_error(settings):
    settings.FIG_VAULT_KEYS = {}
    with pytest.raises(CommandError, match="FIG_VAULT_KEYS must be set"):
        call_command("vault_rotate_key", stdout=StringIO())
