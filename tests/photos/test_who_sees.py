"""Nobody sees more than the consent form promises (issue 13, point 5).

The vault's image view, persona by persona: the family's coordinators get every size; the photographer who
took the photo sees, while fixing its tags, the thumbnail and a screen-size preview of it, inline and never
cached, and never the full-size original or a download; everyone else gets 404 (anonymous people are sent to
sign in). The form's words say exactly that (consents.formtext), and the form-versions page warns when the
current version does not.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import timedelta
from html import escape

import pytest
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from consents.formtext import (
    DEFAULT_PURPOSE_TEXTS,
    WHO_SEES_ONLINE,
    default_closing,
    default_purpose_texts,
    who_sees_problems,
    who_sees_stored,
)
from consents.models import ConsentFormVersion, Purpose
from consents.services.form_versions import form_version_current, form_version_publish
from fig_safety.vault import vault_read
from photos.models import Photo, PhotoAccess
from photos.preview import PREVIEW_SIZE
from photos.processing import THUMBNAIL_SIZE
from staff.models import User
from tests import factories
from tests.consents.factories import publish_version
from tests.photos.fixtures import consented_child, ready_photo
from tests.photos.images import group, jpeg

SIZES = ["thumbnail", "full", "download", "unidentifiable", "unidentifiable-thumbnail", "unidentifiable-download"]
DOWNLOADS = {"download", "unidentifiable-download"}
# What each size is made from, as stored in the vault (blob field, key field).
BLOBS = {
    "thumbnail": ("thumbnail_blob", "thumbnail_key_id"),
    "full": ("original_blob", "original_key_id"),
    "download": ("original_blob", "original_key_id"),
    "unidentifiable": ("unidentifiable_blob", "unidentifiable_key_id"),
    "unidentifiable-thumbnail": ("unidentifiable_thumbnail_blob", "unidentifiable_thumbnail_key_id"),
    "unidentifiable-download": ("unidentifiable_blob", "unidentifiable_key_id"),
}


@dataclass
class World:
    photo: Photo  # 1536 x 512, three faces found and blurred; uploaded by `photographer` just now
    people: dict[str, User]


@pytest.fixture
def world(db) -> World:
    photographer = factories.staff_user("photographer", email="photographer@example.org")
    coordinator = factories.staff_user("coordinator", email="coordinator@example.org")
    family, child, carer = consented_child(coordinator=coordinator)
    photo = ready_photo(family, [child], photographer, data=group())
    assert photo.unidentifiable_blob and max(photo.width, photo.height) > PREVIEW_SIZE
    other_coordinator = factories.staff_user("coordinator", email="other.coordinator@example.org")
    consented_child(coordinator=other_coordinator)
    people = {
        "parent": factories.parent_user(email=carer.email),
        "volunteer": factories.staff_user("staff", email="volunteer@example.org"),
        "photographer": photographer,
        "other_photographer": factories.staff_user("photographer", email="other.photographer@example.org"),
        "coordinator": coordinator,
        "other_coordinator": other_coordinator,
        "writer": factories.staff_user("staff", "post_writer", email="writer@example.org"),
        "social_admin": factories.staff_user("social_admin", email="admin@example.org"),
        "ceo": factories.staff_user("ceo", email="ceo@example.org"),
    }
    return World(photo=photo, people=people)


def _url(photo: Photo, size: str) -> str:
    return reverse("photos:image", args=[photo.public_id, size])


def _stored(photo: Photo, size: str) -> bytes:
    blob, key = BLOBS[size]
    return vault_read(name=getattr(photo, blob), key_id=getattr(photo, key))


def _longest_side(data: bytes) -> int:
    return max(Image.open(io.BytesIO(data)).size)


# --- the access matrix of the image view ----------------------------------------------------------------

NOBODY = ["parent", "volunteer", "other_photographer", "other_coordinator", "writer", "social_admin", "ceo"]


@pytest.mark.django_db
@pytest.mark.parametrize("size", SIZES)
def test_it_sends_anonymous_people_to_sign_in(client, world, size):
    response = client.get(_url(world.photo, size))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


@pytest.mark.django_db
@pytest.mark.parametrize("persona", NOBODY)
@pytest.mark.parametrize("size", SIZES)
def test_it_shows_nothing_to_anyone_else(client, world, persona, size):
    client.force_login(world.people[persona])
    response = client.get(_url(world.photo, size))
    assert response.status_code == 404
    assert b"\xff\xd8\xff" not in response.content
    assert not PhotoAccess.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("size", SIZES)
def test_the_familys_coordinator_keeps_every_size(client, world, size):
    coordinator = world.people["coordinator"]
    client.force_login(coordinator)
    response = client.get(_url(world.photo, size))
    assert response.status_code == 200
    assert response.content == _stored(world.photo, size)  # the stored image itself, full size for full
    assert response["Content-Disposition"].startswith("attachment;" if size in DOWNLOADS else "inline;")
    assert PhotoAccess.objects.filter(photo=world.photo, user=coordinator).count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("size", ["thumbnail", "unidentifiable-thumbnail"])
def test_the_photographer_sees_their_uploads_thumbnails(client, world, size):
    photographer = world.people["photographer"]
    client.force_login(photographer)
    response = client.get(_url(world.photo, size))
    assert response.status_code == 200
    assert response.content == _stored(world.photo, size)
    assert _longest_side(response.content) <= max(THUMBNAIL_SIZE)
    assert response["Content-Disposition"].startswith("inline;")
    assert "no-store" in response["Cache-Control"]


@pytest.mark.django_db
@pytest.mark.parametrize("size", ["full", "unidentifiable"])
def test_the_photographer_sees_a_screen_size_preview_never_the_original(client, world, size):
    photographer = world.people["photographer"]
    client.force_login(photographer)
    response = client.get(_url(world.photo, size))
    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    assert response["Content-Disposition"].startswith("inline;")
    assert "no-store" in response["Cache-Control"]
    assert response.content != _stored(world.photo, size)
    assert _longest_side(response.content) == PREVIEW_SIZE < max(world.photo.width, world.photo.height)
    access = PhotoAccess.objects.get(photo=world.photo, user=photographer)
    assert access.action == PhotoAccess.Action.VIEW


@pytest.mark.django_db
@pytest.mark.parametrize("size", sorted(DOWNLOADS))
def test_the_photographer_cannot_download_their_upload(client, world, size):
    client.force_login(world.people["photographer"])
    response = client.get(_url(world.photo, size))
    assert response.status_code == 404
    assert b"\xff\xd8\xff" not in response.content
    assert not PhotoAccess.objects.exists()


@pytest.mark.django_db
def test_the_photographers_window_closes(client, world):
    Photo.objects.filter(pk=world.photo.pk).update(uploaded_at=timezone.now() - timedelta(hours=25))
    client.force_login(world.people["photographer"])
    for size in ("thumbnail", "full"):
        assert client.get(_url(world.photo, size)).status_code == 404


@pytest.mark.django_db
def test_a_coordinator_who_uploaded_for_their_own_family_keeps_every_size(client, world):
    coordinator = world.people["coordinator"]
    photo = ready_photo(world.photo.family, [world.photo.children.get()], coordinator, data=jpeg(2000, 1500))
    client.force_login(coordinator)
    assert client.get(_url(photo, "full")).content == _stored(photo, "full")
    assert client.get(_url(photo, "download")).status_code == 200


# --- the photo page offers no download to the photographer ------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(("persona", "offered"), [("photographer", False), ("coordinator", True)])
def test_the_photo_page_offers_a_download_only_to_the_coordinators(client, world, persona, offered):
    client.force_login(world.people[persona])
    response = client.get(reverse("photos:detail", args=[world.photo.public_id]))
    assert response.status_code == 200
    body = response.content.decode()
    assert (_url(world.photo, "download") in body) is offered
    assert (">Download<" in body) is offered


# --- the form says exactly that --------------------------------------------------------------------------


def test_the_default_words_say_who_sees_the_photos(settings):
    settings.FIG_PHOTO_FIX_TAGS_HOURS = 24
    texts = default_purpose_texts()
    assert texts[Purpose.STORED] == (
        "FiG may keep the photos in its secure, encrypted photo store. Only your family's Family Service "
        "Coordinators can see them (and, for a photo that also shows children from other families, those "
        "families' coordinators). The member of staff who took a photo can see a smaller copy of it, but not "
        "download it, for 24 hours after they upload it, to say who is in it."
    )
    assert texts[Purpose.ONLINE].endswith(WHO_SEES_ONLINE)
    assert "small copy" in WHO_SEES_ONLINE and "approve" in WHO_SEES_ONLINE
    # Volunteers do not see them: only the staff given the "Post writer" role (and the
    # administrators), as social.posts.selectors.POST_PHOTO_VIEWERS says.
    assert "chosen to write FiG's posts" in WHO_SEES_ONLINE and "volunteer" not in WHO_SEES_ONLINE
    assert dict(DEFAULT_PURPOSE_TEXTS) == texts


def test_the_words_follow_the_fix_tags_window(settings):
    settings.FIG_PHOTO_FIX_TAGS_HOURS = 1
    assert "for 1 hour after" in who_sees_stored()
    assert "for 1 hour after" in DEFAULT_PURPOSE_TEXTS[Purpose.STORED]
    settings.FIG_PHOTO_FIX_TAGS_HOURS = 48
    assert "for 48 hours after" in DEFAULT_PURPOSE_TEXTS[Purpose.STORED]


@pytest.mark.django_db
def test_a_new_install_gets_the_new_words():
    version = form_version_current()
    assert version.number == 1
    assert who_sees_stored() in version.purpose_texts[Purpose.STORED]
    assert WHO_SEES_ONLINE in version.purpose_texts[Purpose.ONLINE]
    assert who_sees_problems(version.purpose_texts) == []


# What version 1 said before issue 13 (what parents signed then): only the coordinators, nothing about the
# photographer or about the people who write and approve posts.
OLD_TEXTS = {
    **{str(k): v for k, v in default_purpose_texts().items()},
    Purpose.STORED: "FiG may keep the photos in its secure, encrypted photo store. Only your family's Family "
    "Service Coordinators can see them.",
    Purpose.ONLINE: "FiG may publish the photos on FiG's website and FiG's social media pages (for example "
    "Facebook and Instagram).",
}


def _old_version() -> ConsentFormVersion:
    return form_version_publish(
        introduction="What parents signed.",
        purpose_texts={str(k): v for k, v in OLD_TEXTS.items()},
        closing=default_closing(),
        requires_reconsent=False,
        by=None,
    )


@pytest.mark.django_db
@pytest.mark.parametrize("persona", ["coordinator", "ceo"])
def test_the_form_page_warns_when_the_current_version_does_not_say_who_sees_the_photos(client, persona):
    old = _old_version()
    user = factories.staff_user(persona)
    client.force_login(user)
    page = client.get(reverse("consents:form_versions")).content.decode()
    assert f"Version {old.number} does not say exactly who sees the photos" in page
    assert escape(WHO_SEES_ONLINE) in page and escape(who_sees_stored()) in page
    if persona == "coordinator":
        assert "Publish a new version whose explanations say this" in page
    else:
        assert "Ask a Family Service Coordinator to publish a new version" in page
    old.refresh_from_db()
    assert old.purpose_texts[Purpose.STORED] == OLD_TEXTS[Purpose.STORED]  # what parents signed stays as it was


@pytest.mark.django_db
def test_the_warning_goes_once_a_version_with_the_new_words_is_published(client, coordinator):
    _old_version()
    publish_version()  # the default words, as they are now
    client.force_login(coordinator)
    page = client.get(reverse("consents:form_versions")).content.decode()
    assert "does not say exactly who sees the photos" not in page


@pytest.mark.django_db
def test_the_form_page_warns_when_the_fix_tags_window_changes(client, coordinator, settings):
    settings.FIG_PHOTO_FIX_TAGS_HOURS = 24
    form_version_current()
    client.force_login(coordinator)
    assert (
        "does not say exactly who sees the photos" not in client.get(reverse("consents:form_versions")).content.decode()
    )
    settings.FIG_PHOTO_FIX_TAGS_HOURS = 48
    page = client.get(reverse("consents:form_versions")).content.decode()
    assert "Version 1 does not say exactly who sees the photos" in page
    assert "for 48 hours after they upload it" in page


# What the first issue-13 version said about the small copies: staff and volunteers alike, before volunteers
# were kept out by the "post_writer" role.
VOLUNTEERS_TOO = (
    "Before a photo is published, the FiG staff and volunteers who write FiG's posts and the social media "
    "administrators who approve them see a small copy of it, with every face blurred where your answers "
    "ask for that."
)


@pytest.mark.django_db
def test_the_form_page_warns_when_the_current_version_still_says_volunteers_see_the_photos(client, coordinator):
    texts = {str(k): v for k, v in default_purpose_texts().items()}
    texts[Purpose.ONLINE] = texts[Purpose.ONLINE].replace(WHO_SEES_ONLINE, VOLUNTEERS_TOO)
    assert [label for label, _ in who_sees_problems(texts)] == [Purpose.ONLINE.label]
    version = form_version_publish(
        introduction="What parents signed.",
        purpose_texts=texts,
        closing=default_closing(),
        requires_reconsent=False,
        by=None,
    )
    client.force_login(coordinator)
    page = client.get(reverse("consents:form_versions")).content.decode()
    assert f"Version {version.number} does not say exactly who sees the photos" in page
    assert escape(WHO_SEES_ONLINE) in page


def test_it_compares_words_not_spacing_or_capitals():
    texts = {
        Purpose.STORED: "Intro.\n" + who_sees_stored().upper().replace(" ", "  "),
        Purpose.ONLINE: WHO_SEES_ONLINE.replace("'", "\u2019"),
    }
    assert who_sees_problems(texts) == []
    assert [label for label, _ in who_sees_problems({Purpose.ONLINE: WHO_SEES_ONLINE})] == [Purpose.STORED.label]


@pytest.mark.django_db
def test_a_new_version_starts_from_the_current_words_with_who_sees_the_photos_added(client):
    """A coordinator publishing a new version is not left to type the sentences about who sees the photos:
    the form starts with them added to the current words (which are kept), once each."""
    from consents.formtext import default_closing, who_sees_statements
    from consents.models import PURPOSES

    coordinator = factories.staff_user("coordinator", email="form-coordinator@example.org")
    form_version_publish(
        introduction="Hello.",
        purpose_texts={p: f"Old words for {p}." for p in PURPOSES},
        closing=default_closing(),
        requires_reconsent=False,
        by=None,
    )
    client.force_login(coordinator)
    form = client.get(reverse("consents:form_version_new")).context["form"]
    says = who_sees_statements()
    for purpose in PURPOSES:
        text = form.initial[f"text_{purpose}"]
        assert text.startswith(f"Old words for {purpose}.")
        if purpose in says:
            assert text.count(says[purpose]) == 1
        else:
            assert text == f"Old words for {purpose}."
    assert Purpose.STORED in says and Purpose.ONLINE in says
