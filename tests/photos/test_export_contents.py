"""What a family's subject access export holds besides photos and consents (issue 18, point 5): the posts
that used its photos, with their channels and the image each used; parents' removal requests; the takedowns
of those posts and of comments naming the family; consent requests with their sent, reminder and answered
times; and the family's audit events. Nothing of another family: a group photo's other child is "another
child", another family's parent "a parent or carer of another child", and words written about something
another family shares are left out. Coordinators download the same as a zip from the family page, audited.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.urls import reverse

from photos.export import ANOTHER_CHILD, OTHER_PARENT, WITHHELD
from photos.models import PhotoAccess
from staff.models import AuditEvent
from staff.services import audit_record
from tests import factories
from tests.photos.subject_access import (
    A_AND_B_COMMENT,
    AVA_POST_TEXT,
    BEN_POST_TEXT,
    GROUP_POST_TEXT,
    ONLY_A_COMMENT,
    ONLY_B_COMMENT,
    PUBLISHED_URL,
    History,
    history,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(coordinator) -> History:
    return history(coordinator)


def export(world: History, out: Path) -> tuple[dict, str]:
    call_command(
        "vault_export",
        "--family",
        world.family_a.reference,
        "--out",
        str(out),
        "--by",
        world.coordinator.email,
        stdout=StringIO(),
    )
    text = (out / "manifest.json").read_text()
    return json.loads(text), text


def _word(text: str, word: str) -> bool:
    # "_" and "-" count as part of a word: random names and tokens (base64url) can hold "_Ben-" by chance.
    return re.search(rf"(?<![A-Za-z0-9_-]){re.escape(word)}(?![A-Za-z0-9_-])", text) is not None


def test_it_holds_the_posts_that_used_the_familys_photos_and_not_another_familys(world, tmp_path):
    manifest, _text = export(world, tmp_path / "sar")

    posts = {p["id"]: p for p in manifest["posts"]}
    assert set(posts) == {world.ava_post.pk, world.group_post.pk}
    ava_post = posts[world.ava_post.pk]
    assert ava_post["text"] == AVA_POST_TEXT
    assert ava_post["status"] == world.ava_post.status
    assert ava_post["published_at"] == world.ava_post.published_at.isoformat()
    assert ava_post["photos"] == [{"id": str(world.solo.public_id), "version": "original"}]
    assert ava_post["photos_of_other_families"] == 0
    [channel] = ava_post["channels"]
    assert channel["channel"] == "facebook" and channel["url"] == PUBLISHED_URL and channel["sent_at"]
    assert channel["state"] == world.ava_post.deliveries.get().state
    assert ava_post["author"] == "sam@example.org" and ava_post["reviewed_by"] == "rae@example.org"
    group_post = posts[world.group_post.pk]
    assert group_post["text"] == GROUP_POST_TEXT
    assert group_post["photos"] == [{"id": str(world.group.public_id), "version": "original"}]
    assert [c["state"] for c in group_post["channels"]] == ["taken_down"]
    assert group_post["channels"][0]["taken_down_at"] and group_post["taken_down_at"]


def test_it_holds_the_takedowns_of_its_posts_and_of_comments_naming_it(world, tmp_path):
    manifest, _text = export(world, tmp_path / "sar")

    takedowns = {t["id"]: t for t in manifest["takedowns"]}
    assert set(takedowns) == {world.ava_takedown.pk, world.group_takedown.pk, world.only_a.pk, world.a_and_b.pk}
    asked = takedowns[world.ava_takedown.pk]
    assert asked["post"] == world.ava_post.pk and asked["message"] is None
    assert asked["requested_by"] == world.mother.email
    assert asked["reason"] == world.ava_takedown.reason
    assert asked["opened_at"] == world.ava_takedown.opened_at.isoformat() and asked["due_at"]
    # Ben's father asked for the group post to come down; an administrator's notes name Ben.
    group = takedowns[world.group_takedown.pk]
    assert group["requested_by"] == OTHER_PARENT
    assert group["status"] == "removed" and group["removed_at"] and group["removed_by"] == "rae@example.org"
    assert group["notes"] == WITHHELD
    only_a = takedowns[world.only_a.pk]
    assert only_a["message"]["text"] == ONLY_A_COMMENT and only_a["message"]["platform"] == "facebook"
    assert only_a["reason"] == world.only_a.reason and only_a["opened_by"] == "rae@example.org"
    both = takedowns[world.a_and_b.pk]
    assert both["message"]["text"] == WITHHELD and both["message"]["names_another_family"] is True
    assert both["reason"] == WITHHELD


def test_it_holds_the_familys_removal_requests_only(world, tmp_path):
    manifest, _text = export(world, tmp_path / "sar")

    [hold] = manifest["removal_requests"]
    assert hold["photo"] == str(world.solo.public_id)
    assert hold["child"] == {"id": world.ava.pk, "name": "Ava Demo"}
    assert hold["post"] == world.ava_post.pk
    assert hold["requested_by"] == world.mother.email and hold["requested_at"] and hold["lifted_at"] is None


def test_it_holds_consent_requests_with_their_times(world, tmp_path):
    manifest, _text = export(world, tmp_path / "sar")

    [request] = manifest["consent_requests"]
    sent = world.request
    assert request["id"] == sent.pk and request["child"] == world.ava.pk
    assert request["carer"] == {"id": world.mo.pk, "full_name": world.mo.full_name}
    assert request["status"] == "signed"
    assert request["sent_at"] == sent.created_at.isoformat()
    assert request["sent_by"] == world.coordinator.email
    assert request["reminder_sent_at"] == sent.reminder_sent_at.isoformat()
    assert request["answered_at"] == sent.answered_at.isoformat()
    assert request["expires_at"] == sent.expires_at.isoformat()


def test_it_holds_the_familys_audit_events_only(world, tmp_path):
    manifest, _text = export(world, tmp_path / "sar")

    events = manifest["audit_events"]
    seen = {(e["action"], e["target"]["type"], e["target"]["id"]) for e in events}
    family = str(world.family_a.pk)
    assert ("family.exported", "consents.family", family) in seen  # this export itself
    assert ("consent.requested", "consents.consentrequest", str(world.request.pk)) in seen
    assert ("takedown.opened", "social.takedown", str(world.ava_takedown.pk)) in seen
    assert ("takedown.opened", "social.takedown", str(world.only_a.pk)) in seen
    assert ("post.removal_requested", "social.post", str(world.ava_post.pk)) in seen
    # Ben's father's request about the group post is his, not family A's.
    assert ("post.removal_requested", "social.post", str(world.group_post.pk)) not in seen
    theirs = {
        ("consents.family", str(world.family_b.pk)),
        ("social.takedown", str(world.ben_takedown.pk)),
        ("social.takedown", str(world.only_b.pk)),
        ("photos.photo", str(world.ben_solo.pk)),
        ("staff.user", str(world.father.pk)),
    }
    assert not {(t, i) for _action, t, i in seen} & theirs
    exported = next(e for e in events if e["action"] == "family.exported")
    assert exported["actor"] == {"name": world.coordinator.get_full_name(), "email": world.coordinator.email}
    asked = next(e for e in events if e["action"] == "post.removal_requested")
    assert asked["actor"]["email"] == world.mother.email
    assert [e["at"] for e in events] == sorted(e["at"] for e in events)


def test_an_event_about_a_group_photo_names_another_familys_child_only_as_another_child(world, coordinator, tmp_path):
    coordinator_b = factories.staff_user("coordinator", email="bea@example.org")
    audit_record(
        action="photo.retagged",
        actor=coordinator_b,
        target=world.group,
        details={"before": [world.ava.pk], "after": [world.ava.pk, world.ben.pk], "reason": "Ben Other is in it"},
    )
    audit_record(action="photo.kept", actor=coordinator, target=world.group, details={"reason": "Ava's prize"})

    manifest, _text = export(world, tmp_path / "sar")

    retagged = next(e for e in manifest["audit_events"] if e["action"] == "photo.retagged")
    assert retagged["details"] == {
        "before": [world.ava.pk],
        "after": [world.ava.pk, ANOTHER_CHILD],
        "reason": WITHHELD,
    }
    kept = next(e for e in manifest["audit_events"] if e["action"] == "photo.kept")
    assert kept["details"] == {"reason": "Ava's prize"}  # the family's own coordinator wrote it


def test_another_familys_parent_in_a_photos_access_log_is_not_named(world, tmp_path):
    PhotoAccess.objects.create(photo=world.group, user=world.father, action=PhotoAccess.Action.PARENT)
    PhotoAccess.objects.create(photo=world.group, user=world.mother, action=PhotoAccess.Action.PARENT)

    manifest, _text = export(world, tmp_path / "sar")

    [group] = [p for p in manifest["photos"] if p["id"] == str(world.group.public_id)]
    parents = [a["user"] for a in group["access_log"] if a["action"] == "parent"]
    assert parents == [OTHER_PARENT, world.mother.email]


def test_nothing_of_the_other_family_is_in_it(world, tmp_path):
    _manifest, text = export(world, tmp_path / "sar")

    for word in (
        "Ben",
        "Other",
        world.family_b.reference,
        world.dad.full_name,
        world.dad.email,
        BEN_POST_TEXT,
        ONLY_B_COMMENT,
        A_AND_B_COMMENT,
        str(world.ben_solo.public_id),
    ):
        assert not _word(text, word), word


def test_the_family_page_download_holds_it_all_and_is_audited(client, world):
    client.force_login(world.coordinator)
    before = AuditEvent.objects.filter(action="family.exported").count()

    response = client.get(reverse("consents:family_export", args=[world.family_a.reference]))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert response["Cache-Control"] == "private, no-store"
    with zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content))) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        names = set(archive.namelist())
    assert {p["id"] for p in manifest["posts"]} == {world.ava_post.pk, world.group_post.pk}
    assert world.ava_takedown.pk in {t["id"] for t in manifest["takedowns"]}
    assert f"photos/{world.solo.public_id}.jpg" in names
    assert AuditEvent.objects.filter(action="family.exported").count() == before + 1
    event = AuditEvent.objects.filter(action="family.exported").latest("occurred_at")
    assert event.actor == world.coordinator and event.target_id == str(world.family_a.pk)
    assert event.details["out"] == "download"
    listed = [e for e in manifest["audit_events"] if e["action"] == "family.exported"]
    assert [e["at"] for e in listed] == [event.occurred_at.isoformat()]  # the export lists its own download
