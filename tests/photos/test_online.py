"""'May this photo go online?' has one rule (consents.uses.purposes_to_publish) read two ways: in SQL for the
photos a post may offer (photos_allowed_online) and photo by photo to say why not (online_consent_problems,
behind the post consent gate). The two must always agree."""

from __future__ import annotations

import pytest

from consents.models import Purpose
from photos.models import Photo
from photos.selectors import online_consent_problems, photos_allowed_online
from tests.consents.factories import ChildFactory, all_answers, give, withdraw
from tests.photos.fixtures import consented_child, ready_photo

pytestmark = pytest.mark.django_db


def test_the_sql_filter_and_the_explanation_agree_on_every_kind_of_photo(coordinator):
    family, face_ok, carer = consented_child(coordinator=coordinator)
    online_only = ChildFactory(family=family)
    give(online_only, carer, answers=all_answers(True, face_online=False))
    offline = ChildFactory(family=family)
    give(offline, carer, answers=all_answers(True, online=False, face_online=False))
    withdrawn = ChildFactory(family=family)
    give(withdrawn, carer)
    withdraw(withdrawn, carer, [Purpose.ONLINE])

    groups = {
        "no one tagged": [],
        "face allowed": [face_ok],
        "online without a face": [online_only],
        "not online": [offline],
        "withdrawn": [withdrawn],
        "face allowed with online only": [face_ok, online_only],
        "face allowed with not online": [face_ok, offline],
    }
    made = {}
    for name, children in groups.items():
        for unidentifiable in (False, True):
            photo = ready_photo(family, children, coordinator)
            Photo.objects.filter(pk=photo.pk).update(marked_unidentifiable=unidentifiable)
            made[(name, unidentifiable)] = photo.pk

    photos = Photo.objects.filter(pk__in=made.values())
    allowed_in_sql = set(photos_allowed_online(photos).values_list("pk", flat=True))
    refused = {photo.pk for photo, _child, _missing in online_consent_problems(photos)}
    assert allowed_in_sql == set(made.values()) - refused  # one rule, read two ways

    expected_allowed = {
        ("no one tagged", False),
        ("no one tagged", True),
        ("face allowed", False),
        ("face allowed", True),
        ("online without a face", True),  # its face is blurred: online consent is enough
        ("face allowed with online only", True),
    }
    assert allowed_in_sql == {made[key] for key in expected_allowed}
    why = {(photo.pk, child.pk): missing for photo, child, missing in online_consent_problems(photos)}
    assert why[(made[("online without a face", False)], online_only.pk)] == {Purpose.FACE_ONLINE}
    assert why[(made[("withdrawn", True)], withdrawn.pk)] == {Purpose.ONLINE}
    assert why[(made[("not online", False)], offline.pk)] == {Purpose.ONLINE, Purpose.FACE_ONLINE}


def test_a_recorded_version_is_checked_as_recorded(coordinator):
    """A post approved with the photo as taken is not waved through on its blurred version, and the other way
    round: the gate checks the image the post will send."""
    from photos.selectors import ORIGINAL, UNIDENTIFIABLE, online_versions
    from photos.services import photo_confirm_unidentifiable
    from tests.photos.images import astronaut

    family, child, carer = consented_child(coordinator=coordinator)
    photo = ready_photo(family, [child], coordinator, data=astronaut())
    photo_confirm_unidentifiable(photo=photo, confirmed=True, by=coordinator)
    photo.refresh_from_db()
    assert online_versions([photo])[photo.pk] == ORIGINAL
    assert online_consent_problems([photo], {str(photo.pk): ORIGINAL}) == []
    assert online_consent_problems([photo], {str(photo.pk): UNIDENTIFIABLE}) == []

    give(child, carer, answers=all_answers(True, face_online=False))
    assert online_versions([photo])[photo.pk] == UNIDENTIFIABLE
    [(_, who, missing)] = online_consent_problems([photo], {str(photo.pk): ORIGINAL})
    assert (who, missing) == (child, {Purpose.FACE_ONLINE})
    assert online_consent_problems([photo], {str(photo.pk): UNIDENTIFIABLE}) == []
