"""Group photos (issue 13, point 1): one photo may tag children of several families. It is seen by the
coordinators of every tagged child's family and nobody else, may only be used as every tagged child's
consent allows, and each family's withdrawal, export and coordinators' view follow it."""

from __future__ import annotations

import json
from datetime import timedelta
from io import StringIO

import pytest
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from consents.models import Purpose
from photos.models import Photo, PhotoTag
from photos.selectors import families_of_photos, gallery_photos, in_families, photos_visible_to, uses_for_photos
from photos.services import UploadError, photo_confirm_unidentifiable, photo_keep, photo_retag
from tests import factories
from tests.conftest import says
from tests.consents.factories import assign, withdraw
from tests.photos import images
from tests.photos.fixtures import consented_child, ready_photo, unique_jpeg

pytestmark = pytest.mark.django_db


@pytest.fixture
def photographer(db):
    return factories.staff_user("photographer", email="photographer@example.org")


@pytest.fixture
def coordinators(db):
    """Coordinators of family A, of family B, and of a third family C."""
    return tuple(factories.staff_user("coordinator", email=f"coordinator-{x}@example.org") for x in "abc")


@pytest.fixture
def group(photographer, coordinators):
    """A photo uploaded for family A tagging Ava (A) and Cara (B, whose parent said no to print and to a
    recognisable face online); family C has a child too, not in the photo."""
    coord_a, coord_b, coord_c = coordinators
    family_a, ava, carer_a = consented_child(coordinator=coord_a)
    family_b, cara, carer_b = consented_child(coordinator=coord_b, print=False, face_online=False)
    family_c, _ = consented_child(coordinator=coord_c)[:2]
    ava.first_name, ava.last_name = "Ava", "Alpha"
    ava.save()
    cara.first_name, cara.last_name = "Cara", "Bravo"
    cara.save()
    photo = ready_photo(family_a, [ava, cara], photographer)
    return {
        "photo": photo,
        "a": (family_a, ava, carer_a),
        "b": (family_b, cara, carer_b),
        "c": family_c,
    }


def _export(reference: str, by: str, out) -> None:
    call_command("vault_export", "--family", reference, "--out", str(out), "--by", by, stdout=StringIO())


def test_a_group_photo_belongs_to_the_family_of_each_tagged_child(group):
    photo = group["photo"]
    family_a, family_b = group["a"][0], group["b"][0]
    assert sorted(f.pk for f in families_of_photos([photo])[photo.pk]) == sorted([family_a.pk, family_b.pk])
    assert list(Photo.objects.filter(in_families([family_b.pk]))) == [photo]
    assert not Photo.objects.filter(in_families([group["c"].pk])).exists()


def test_it_is_visible_to_both_coordinators_and_404_to_a_third(client, group, coordinators):
    photo = group["photo"]
    coord_a, coord_b, coord_c = coordinators
    for coordinator in (coord_a, coord_b):
        assert list(photos_visible_to(coordinator)) == [photo]
        client.force_login(coordinator)
        assert client.get(reverse("photos:detail", args=[photo.public_id])).status_code == 200
        assert client.get(reverse("photos:image", args=[photo.public_id, "thumbnail"])).status_code == 200
        gallery = client.get(reverse("photos:gallery"))
        assert [card["photo"] for card in gallery.context["cards"]] == [photo]
    assert not photos_visible_to(coord_c).exists()
    client.force_login(coord_c)
    for name, args in (("detail", []), ("image", ["thumbnail"]), ("image", ["full"]), ("access_log", [])):
        assert client.get(reverse(f"photos:{name}", args=[photo.public_id, *args])).status_code == 404
    assert client.get(reverse("photos:gallery")).context["cards"] == []


def test_the_family_filter_finds_it_under_either_family(group, coordinators):
    coord_a, coord_b, _ = coordinators
    family_b = group["b"][0]
    # Coordinator B filters by their own family: the photo uploaded "for" family A is there.
    assert list(gallery_photos(coord_b, family=family_b.reference.lower())) == [group["photo"]]
    # Coordinator A filtering by family B sees only what they could see anyway: the shared photo.
    assert list(gallery_photos(coord_a, family=family_b.reference)) == [group["photo"]]


def test_its_uses_are_those_every_tagged_child_allows(group):
    photo = group["photo"]
    uses = uses_for_photos([photo])[photo.pk]
    assert Purpose.PRINT not in uses and Purpose.FACE_ONLINE not in uses  # Cara's parent said no
    assert {Purpose.PHOTOGRAPHED, Purpose.STORED, Purpose.TRAINING, Purpose.ONLINE} <= uses


@pytest.mark.parametrize("which", ["a", "b"])
def test_either_familys_withdrawal_narrows_it(group, which):
    photo = group["photo"]
    _, child, carer = group[which]
    withdraw(child, carer, [Purpose.TRAINING])
    assert Purpose.TRAINING not in uses_for_photos([photo])[photo.pk]
    photo.refresh_from_db()
    assert photo.deletion_due_at is None
    withdraw(child, carer, [Purpose.STORED])
    photo.refresh_from_db()
    assert photo.deletion_due_at is not None


def test_only_a_coordinator_of_the_withdrawing_family_may_keep_it(group, coordinators):
    photo = group["photo"]
    coord_a, coord_b, _ = coordinators
    _, cara, carer_b = group["b"]
    withdraw(cara, carer_b, [Purpose.STORED])
    with pytest.raises(UploadError, match=f"Only a coordinator of family {group['b'][0].reference}"):
        photo_keep(photo=photo, reason="Needed for a safeguarding record.", by=coord_a)
    photo.refresh_from_db()
    assert photo.deletion_due_at is not None and not photo.keep_reason
    photo_keep(photo=photo, reason="Needed for a safeguarding record.", by=coord_b)
    photo.refresh_from_db()
    assert photo.deletion_due_at is None and photo.keep_reason


def test_a_coordinator_cannot_take_another_familys_child_out_of_it(group, coordinators):
    """Untagging Cara would drop her parents' refusals from the photo and hide it from her coordinators."""
    photo = group["photo"]
    coord_a = coordinators[0]
    _, ava, _ = group["a"]
    _, cara, _ = group["b"]
    photo_retag(photo=photo, children=[ava], no_child_identifiable=False, by=coord_a)
    assert set(photo.tags.values_list("child_id", flat=True)) == {ava.pk, cara.pk}
    # Nor by ticking "no child can be identified" with no child left of their own.
    photo_retag(photo=photo, children=[], no_child_identifiable=True, by=coord_a)
    assert set(photo.tags.values_list("child_id", flat=True)) == {cara.pk}
    assert not Photo.objects.get(pk=photo.pk).no_child_identifiable


def test_a_forged_retag_post_cannot_add_a_child_of_a_family_the_coordinator_does_not_manage(
    client, group, coordinators
):
    photo = group["photo"]
    coord_a = coordinators[0]
    _, ava, _ = group["a"]
    _, stranger, _ = consented_child()
    client.force_login(coord_a)
    response = client.post(reverse("photos:retag", args=[photo.public_id]), {"children": [ava.pk, stranger.pk]})
    assert response.status_code == 302
    assert not PhotoTag.objects.filter(photo=photo, child=stranger).exists()
    with pytest.raises(UploadError, match="not in a family you may upload photos for"):
        photo_retag(photo=photo, children=[ava, stranger], no_child_identifiable=False, by=coord_a)


def test_each_coordinator_sees_only_their_own_familys_child_by_name(client, group, coordinators):
    photo = group["photo"]
    coord_a, coord_b, _ = coordinators
    client.force_login(coord_a)
    page = client.get(reverse("photos:detail", args=[photo.public_id])).content.decode()
    assert "Ava Alpha" in page and not says(page, "Cara") and "A child from another family" in page
    gallery = client.get(reverse("photos:gallery")).content.decode()
    assert "Ava Alpha" in gallery and not says(gallery, "Cara") and "a child from another family" in gallery
    client.force_login(coord_b)
    page = client.get(reverse("photos:detail", args=[photo.public_id])).content.decode()
    assert "Cara Bravo" in page and not says(page, "Ava")
    gallery = client.get(reverse("photos:gallery")).content.decode()
    assert "Cara Bravo" in gallery and not says(gallery, "Ava")


def test_its_photographer_sees_every_name_while_fixing_tags(client, group, photographer):
    client.force_login(photographer)
    page = client.get(reverse("photos:detail", args=[group["photo"].public_id])).content.decode()
    assert "Ava Alpha" in page and "Cara Bravo" in page


def test_the_upload_page_offers_children_of_another_family_and_tags_both(
    client, photographer, coordinators, django_capture_on_commit_callbacks
):
    family_a, ava, _ = consented_child(coordinator=coordinators[0])
    family_b, cara, _ = consented_child(coordinator=coordinators[1])
    client.force_login(photographer)
    page = client.get(reverse("photos:upload"), {"family": family_a.reference, "add_family": family_b.reference})
    body = page.content.decode()
    assert f"Family {family_b.reference}" in body and str(cara) in body and str(ava) in body
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("photos:upload"),
            {
                "family": family_a.reference,
                "also": [family_b.reference],
                "children": [ava.pk, cara.pk],
                "files": [images.upload(unique_jpeg(), name="IMG_1.jpg")],
            },
        )
    assert response.status_code == 302, response.content.decode()[:2000]
    photo = Photo.objects.get()
    assert set(photo.tags.values_list("child_id", flat=True)) == {ava.pk, cara.pk}
    assert photo.status == Photo.Status.READY


def test_a_coordinator_cannot_add_a_family_they_do_not_coordinate_on_the_upload_page(client, coordinators):
    family_a, ava, _ = consented_child(coordinator=coordinators[0])
    family_b, cara, _ = consented_child(coordinator=coordinators[1])
    client.force_login(coordinators[0])
    body = client.get(
        reverse("photos:upload"), {"family": family_a.reference, "add_family": family_b.reference}
    ).content.decode()
    assert str(ava) in body and str(cara) not in body and family_b.reference not in body


def test_a_child_without_consent_in_the_other_family_cannot_be_tagged(photographer):
    family_a, ava, _ = consented_child()
    _, cara, _ = consented_child(**{Purpose.STORED: False})
    with pytest.raises(UploadError, match="No current consent for"):
        ready_photo(family_a, [ava, cara], photographer)


def test_each_familys_export_includes_it_naming_only_its_own_children(group, coordinators, tmp_path):
    photo = group["photo"]
    for key, coordinator, own, other in (
        ("a", coordinators[0], group["a"][1], group["b"][1]),
        ("b", coordinators[1], group["b"][1], group["a"][1]),
    ):
        out = tmp_path / key
        _export(group[key][0].reference, coordinator.email, out)
        manifest = json.loads((out / "manifest.json").read_text())
        [exported] = manifest["photos"]
        assert exported["id"] == str(photo.public_id)
        assert [c["id"] for c in exported["tagged_children"]] == [own.pk]
        assert exported["children_of_other_families"] == 1
        assert other.first_name not in (out / "manifest.json").read_text()
    out = tmp_path / "c"
    _export(group["c"].reference, coordinators[2].email, out)
    assert json.loads((out / "manifest.json").read_text())["photos"] == []


def test_vault_import_tags_a_child_of_another_family_by_name(photographer, tmp_path):
    family_a, ava, _ = consented_child()
    family_b, cara, _ = consented_child()
    ava.first_name, ava.last_name = "Ava", "Demo"
    ava.save()
    cara.first_name, cara.last_name = "Cara", "Demo"
    cara.save()
    path = tmp_path / "group.jpg"
    path.write_bytes(unique_jpeg())
    call_command(
        "vault_import",
        str(path),
        "--family",
        family_a.reference.lower(),
        "--child",
        "ava demo",
        "--child",
        "Cara  Demo",
        "--taken-by",
        photographer.email,
        stdout=StringIO(),
    )
    photo = Photo.objects.get()
    assert set(photo.tags.values_list("child_id", flat=True)) == {ava.pk, cara.pk}
    assert photo.family == family_a


def test_vault_import_asks_for_the_id_when_a_name_is_in_two_families(photographer, tmp_path):
    family_a, ava, _ = consented_child()
    _, twin, _ = consented_child()
    for child in (ava, twin):
        child.first_name, child.last_name = "Sam", "Same"
        child.save()
    path = tmp_path / "group.jpg"
    path.write_bytes(unique_jpeg())
    with pytest.raises(CommandError, match="More than one child is called 'Sam Same': use the id"):
        call_command(
            "vault_import",
            str(path),
            "--family",
            family_a.reference,
            "--child",
            "Sam Same",
            "--taken-by",
            photographer.email,
            stdout=StringIO(),
        )
    assert not Photo.objects.exists()
    call_command(
        "vault_import",
        str(path),
        "--family",
        family_a.reference,
        "--child",
        str(twin.pk),
        "--taken-by",
        photographer.email,
        stdout=StringIO(),
    )
    assert list(Photo.objects.get().tags.values_list("child_id", flat=True)) == [twin.pk]


def test_vault_import_by_a_coordinator_refuses_a_child_of_a_family_they_do_not_coordinate(coordinators, tmp_path):
    family_a, ava, _ = consented_child(coordinator=coordinators[0])
    _, cara, _ = consented_child(coordinator=coordinators[1])
    path = tmp_path / "group.jpg"
    path.write_bytes(unique_jpeg())
    with pytest.raises(CommandError, match="no child with id"):
        call_command(
            "vault_import",
            str(path),
            "--family",
            family_a.reference,
            "--child",
            str(ava.pk),
            "--child",
            str(cara.pk),
            "--taken-by",
            coordinators[0].email,
            stdout=StringIO(),
        )
    assert not Photo.objects.exists()


def test_each_coordinator_finds_a_queued_group_photo_in_their_deletion_queue(client, group, coordinators, photographer):
    """A photo is on the deletion queue of every family it belongs to, and of no other (audit G1)."""
    photo = group["photo"]
    family_a, _, _ = group["a"]
    _, cara, carer_b = group["b"]
    only_cara = ready_photo(family_a, [cara], photographer)  # uploaded "for" A, but only B's child is in it
    withdraw(cara, carer_b, [Purpose.STORED])
    coord_a, coord_b, coord_c = coordinators
    for coordinator, expected in ((coord_a, [photo]), (coord_b, [photo, only_cara]), (coord_c, [])):
        client.force_login(coordinator)
        response = client.get(reverse("photos:deletion_queue"))
        assert sorted(p.pk for p in response.context["page"]) == sorted(p.pk for p in expected)
    client.force_login(coord_b)
    body = client.get(reverse("photos:deletion_queue")).content.decode()
    assert f"{family_a.reference}, {group['b'][0].reference}" in body or (
        f"{group['b'][0].reference}, {family_a.reference}" in body
    )


def test_a_coordinator_who_is_also_a_photographer_cannot_untag_another_familys_child(group):
    """Photographer rights reach every family only while fixing their own fresh upload (audit G2)."""
    photo = group["photo"]
    both = factories.staff_user("coordinator", "photographer", email="both@example.org")
    assign(both, group["a"][0])
    _, ava, _ = group["a"]
    _, cara, _ = group["b"]
    photo_retag(photo=photo, children=[ava], no_child_identifiable=False, by=both)
    assert set(photo.tags.values_list("child_id", flat=True)) == {ava.pk, cara.pk}
    _, stranger, _ = consented_child()
    with pytest.raises(UploadError, match="not in a family you may upload photos for"):
        photo_retag(photo=photo, children=[ava, stranger], no_child_identifiable=False, by=both)


def test_the_uploader_sees_other_families_names_only_while_fixing_the_tags(client, group, photographer):
    """After the fix-tags window its uploader, if they see it at all (a coordinator of one family), sees only
    their own family's children by name (audit G3)."""
    photo = group["photo"]
    assign(photographer, group["a"][0])
    photographer.groups.add(Group.objects.get_or_create(name="coordinator")[0])
    client.force_login(photographer)
    assert "Cara Bravo" in client.get(reverse("photos:detail", args=[photo.public_id])).content.decode()
    Photo.objects.filter(pk=photo.pk).update(uploaded_at=timezone.now() - timedelta(days=3))
    client.logout()
    photographer = type(photographer).objects.get(pk=photographer.pk)
    client.force_login(photographer)
    page = client.get(reverse("photos:detail", args=[photo.public_id])).content.decode()
    assert "Ava Alpha" in page and not says(page, "Cara")
    assert not says(client.get(reverse("photos:gallery")).content.decode(), "Cara")


def test_another_familys_keep_reason_is_not_in_a_familys_export(group, coordinators, tmp_path):
    """Free text a coordinator of family B wrote may name B's child: family A's export leaves it out (audit G5)."""
    photo = group["photo"]
    _, cara, carer_b = group["b"]
    withdraw(cara, carer_b, [Purpose.STORED])
    photo_keep(photo=photo, reason="Needed for Cara Bravo's safeguarding record.", by=coordinators[1])
    for key, coordinator, shown in (("a", coordinators[0], False), ("b", coordinators[1], True)):
        out = tmp_path / key
        _export(group[key][0].reference, coordinator.email, out)
        text = (out / "manifest.json").read_text()
        assert ("Cara Bravo" in text) is shown
        [exported] = json.loads(text)["photos"]
        assert exported["keep_reason"] == (
            "Needed for Cara Bravo's safeguarding record."
            if shown
            else "Recorded by a coordinator of another family in this group photo."
        )


def test_only_a_coordinator_of_the_child_without_face_consent_may_confirm_the_blurred_version(group, coordinators):
    """Cara's parent said no to a recognisable face online: confirming the blurred version decides whether her
    photo may go online, so it is for her family's coordinators, not Ava's (audit D4)."""
    photo = group["photo"]
    Photo.objects.filter(pk=photo.pk).update(unidentifiable_blob="x", unidentifiable_key_id="k")
    photo.refresh_from_db()
    with pytest.raises(UploadError, match=f"Only a coordinator of family {group['b'][0].reference} can confirm"):
        photo_confirm_unidentifiable(photo=photo, confirmed=True, by=coordinators[0])
    assert not Photo.objects.get(pk=photo.pk).marked_unidentifiable
    photo_confirm_unidentifiable(photo=photo, confirmed=True, by=coordinators[1])
    assert Photo.objects.get(pk=photo.pk).marked_unidentifiable


def test_a_child_whose_parent_signed_the_old_words_is_not_tagged_with_other_families(photographer, coordinators):
    """The old form said only the family's own coordinators see its photos: a parent who signed it is not bound
    by the new words about group photos (audit G7). Alone in a photo, their child is tagged as before."""
    from consents.formtext import default_closing, default_purpose_texts
    from consents.services.form_versions import form_version_current, form_version_publish

    form_version_current()
    old_words = default_purpose_texts()
    old_words[Purpose.STORED] = (
        "FiG may keep the photos in its secure, encrypted photo store. Only your family's Family Service "
        "Coordinators can see them."
    )
    form_version_publish(
        introduction="Photos at FiG.",
        purpose_texts=old_words,
        closing=default_closing(),
        requires_reconsent=False,
        by=None,
    )
    family_a, ava, _ = consented_child(coordinator=coordinators[0])  # signs the old words
    form_version_publish(
        introduction="Photos at FiG.",
        purpose_texts=default_purpose_texts(),
        closing=default_closing(),
        requires_reconsent=False,
        by=None,
    )
    family_b, cara, _ = consented_child(coordinator=coordinators[1])  # signs the current words
    with pytest.raises(UploadError, match=f"signed for {ava.first_name} {ava.last_name} says that only their own"):
        ready_photo(family_a, [ava, cara], photographer)
    assert not Photo.objects.exists()
    alone = ready_photo(family_a, [ava], photographer)
    with pytest.raises(UploadError, match="cannot be tagged in a photo with children of other families"):
        photo_retag(photo=alone, children=[ava, cara], no_child_identifiable=False, by=photographer)
    assert list(alone.tags.values_list("child_id", flat=True)) == [ava.pk]
    assert ready_photo(family_b, [cara], photographer).status == Photo.Status.READY
