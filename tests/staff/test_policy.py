"""The eSafety policy: publishing versions, staff acknowledging them, the CEO's register, reminders.

Personas: the CEO, a superuser administrator, staff in every other role, a
member of staff who has not yet read the current version, a parent and an
anonymous visitor.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.contrib.messages import get_messages
from django.core import mail
from django.template.defaultfilters import date as date_filter
from django.urls import reverse
from django.utils import timezone

from staff import services
from staff.models import AuditEvent, PolicyAcknowledgement, PolicyReminder, PolicyVersion
from staff.sweeps import policy_reminder_sweep
from tests import factories
from tests.query_counts import STAFF_REQUEST_QUERIES

ROLES = ["coordinator", "photographer", "staff", "social_admin", "ceo"]
NOT_CEO = ["coordinator", "photographer", "staff", "social_admin"]


@pytest.fixture
def administrator(db):
    """A superuser with no FiG role: may publish the policy, and must read it like everyone else."""
    user = factories.UserFactory(roles=[], is_superuser=True, is_staff=True, email="admin@example.org")
    factories.add_totp(user)
    for version in PolicyVersion.objects.all():
        PolicyAcknowledgement.objects.create(user=user, version=version)
    return user


def _messages(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def _publish_form(text: str, title: str = "eSafety policy", summary: str = "") -> dict[str, str]:
    return {"title": title, "text": text, "summary": summary}


# --- publishing -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_publishes_a_new_version_from_the_app(
    client, policy, ceo, member_of_staff, parent, django_capture_on_commit_callbacks
):
    client.force_login(ceo)
    assert client.get(reverse("staff:policy_publish")).status_code == 200

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("staff:policy_publish"),
            _publish_form("New rules for photos.\r\nSecond line.  ", summary="Photos section rewritten."),
        )

    assert response.status_code == 302
    assert response["Location"] == reverse("staff:policy_register")
    version = PolicyVersion.objects.get(number=policy.number + 1)
    assert version.text == "New rules for photos.\nSecond line.\n"
    assert version.sha256 == PolicyVersion.digest(version.text)
    assert version.published_by == ceo
    assert version.summary_of_changes == "Photos section rewritten."
    assert AuditEvent.objects.filter(action="policy.published", actor=ceo, target_id=str(version.pk)).count() == 1
    assert f"Version {version.number} is published. Staff will be asked to acknowledge it." in _messages(response)
    # Staff are told, one message each; the parent is not.
    recipients = sorted(address for message in mail.outbox for address in message.to)
    assert recipients == sorted([ceo.email, member_of_staff.email])
    assert all(len(message.to) == 1 for message in mail.outbox)
    assert f"version {version.number}" in mail.outbox[0].subject
    assert "Photos section rewritten." in mail.outbox[0].body
    assert reverse("staff:policy") in mail.outbox[0].body


@pytest.mark.django_db
def test_it_lets_a_superuser_publish(client, policy, administrator):
    client.force_login(administrator)
    response = client.post(reverse("staff:policy_publish"), _publish_form("Administrator's text."))
    assert response.status_code == 302
    assert PolicyVersion.objects.get(number=policy.number + 1).published_by == administrator


@pytest.mark.django_db
def test_it_makes_no_new_version_for_identical_text(client, ceo):
    version = services.policy_publish(text="The rules.\nAll of them.\n", by=ceo)
    services.policy_acknowledge(user=ceo, version=version)
    client.force_login(ceo)

    # Windows line endings and surrounding whitespace do not make a different policy.
    response = client.post(reverse("staff:policy_publish"), _publish_form("  The rules.\r\nAll of them.\r\n\r\n"))

    assert response.status_code == 302
    assert PolicyVersion.objects.count() == 1
    assert AuditEvent.objects.filter(action="policy.published").count() == 1
    assert "The text is the same as the current version, so nothing new was published." in _messages(response)


@pytest.mark.django_db
def test_it_never_edits_a_published_version(client, ceo, django_capture_on_commit_callbacks):
    first = services.policy_publish(text="Version one.", by=ceo, summary="First.")
    services.policy_acknowledge(user=ceo, version=first)
    client.force_login(ceo)

    client.post(reverse("staff:policy_publish"), _publish_form("Version two.", summary="Second."))

    first.refresh_from_db()
    assert (first.number, first.text, first.sha256, first.summary_of_changes) == (
        1,
        "Version one.\n",
        PolicyVersion.digest("Version one.\n"),
        "First.",
    )
    second = PolicyVersion.objects.get(number=2)
    assert second.text == "Version two.\n"
    assert second.pk != first.pk
    # Going back to the old wording is a change too: it is a third version, not an edit of the first.
    services.policy_acknowledge(user=ceo, version=second)
    client.post(reverse("staff:policy_publish"), _publish_form("Version one."))
    assert list(PolicyVersion.objects.values_list("number", "text")) == [
        (3, "Version one.\n"),
        (2, "Version two.\n"),
        (1, "Version one.\n"),
    ]


@pytest.mark.django_db
def test_it_refuses_an_empty_policy(client, policy, ceo):
    client.force_login(ceo)
    response = client.post(reverse("staff:policy_publish"), _publish_form("   \r\n  "))
    assert response.status_code == 200
    assert "This field is required." in response.context["form"].errors["text"]
    assert PolicyVersion.objects.count() == 1


@pytest.mark.django_db
def test_it_offers_the_current_text_to_start_from(client, ceo):
    version = services.policy_publish(text="Current <wording> & more.", title="FiG eSafety policy", by=ceo)
    services.policy_acknowledge(user=ceo, version=version)
    client.force_login(ceo)
    response = client.get(reverse("staff:policy_publish"))
    assert response.context["form"].initial == {"text": "Current <wording> & more.\n", "title": "FiG eSafety policy"}
    assert b"Current &lt;wording&gt; &amp; more." in response.content


@pytest.mark.django_db
def test_it_refuses_the_wrong_method_for_publishing(client, policy, ceo):
    client.force_login(ceo)
    assert client.put(reverse("staff:policy_publish")).status_code == 405
    assert client.delete(reverse("staff:policy_publish")).status_code == 405


@pytest.mark.django_db
@pytest.mark.parametrize("role", NOT_CEO)
def test_it_lets_no_other_role_publish(client, policy, role):
    user = factories.staff_user(role)
    client.force_login(user)
    assert client.get(reverse("staff:policy_publish")).status_code == 403
    assert client.post(reverse("staff:policy_publish"), _publish_form("Sneaky.")).status_code == 403
    assert PolicyVersion.objects.count() == 1


@pytest.mark.django_db
def test_it_lets_no_parent_publish(client, policy, parent):
    client.force_login(parent)
    assert client.post(reverse("staff:policy_publish"), _publish_form("Sneaky.")).status_code == 403
    assert PolicyVersion.objects.count() == 1


@pytest.mark.django_db
def test_it_sends_anonymous_publishers_to_sign_in(client, policy):
    response = client.post(reverse("staff:policy_publish"), _publish_form("Sneaky."))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login") + "?next=")
    assert PolicyVersion.objects.count() == 1


# --- being asked to acknowledge ------------------------------------------------------------------

OTHER_PAGES = [
    "home",
    "staff:breach_list",
    "staff:breach_new",
    "staff:visit_list",
    "staff:visit_new",
    "staff:visit_guidance",
    "staff:policy_register",
    "staff:policy_publish",
    "consents:register",
    "admin:index",
]


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("page", OTHER_PAGES)
def test_it_sends_staff_who_have_not_read_the_policy_to_it_from_every_other_page(client, policy, role, page):
    user = factories.staff_user(role, acknowledged=False)
    client.force_login(user)
    response = client.get(reverse(page))
    assert response.status_code == 302
    assert response["Location"] == reverse("staff:policy")


@pytest.mark.django_db
def test_it_sends_a_superuser_who_has_not_read_the_policy_to_it(client, administrator):
    factories.PolicyVersionFactory()  # published after the administrator read everything
    client.force_login(administrator)
    assert client.get(reverse("home"))["Location"] == reverse("staff:policy")


@pytest.mark.django_db
@pytest.mark.parametrize("url_name", ["staff:policy", "mfa_index", "usersessions_list", "account_change_password"])
def test_it_still_lets_them_read_the_policy_and_manage_their_account(client, policy, url_name):
    user = factories.staff_user("staff", acknowledged=False)
    client.force_login(user)
    assert client.get(reverse(url_name)).status_code == 200


@pytest.mark.django_db
def test_it_does_not_ask_staff_who_have_read_it(client, policy, member_of_staff):
    client.force_login(member_of_staff)
    assert client.get(reverse("home")).status_code == 200
    response = client.get(reverse("staff:policy"))
    assert response.context["acknowledged"] is True
    assert b"You have acknowledged this version." in response.content
    assert b'name="confirm"' not in response.content


@pytest.mark.django_db
def test_it_does_not_ask_parents(client, policy, parent):
    client.force_login(parent)
    assert client.get(reverse("home")).status_code == 200


@pytest.mark.django_db
def test_it_asks_nobody_before_a_policy_is_published(client, coordinator):
    client.force_login(coordinator)
    assert client.get(reverse("home")).status_code == 200
    response = client.get(reverse("staff:policy"))
    assert b"No version of the policy has been published yet." in response.content


@pytest.mark.django_db
def test_it_shows_the_policy_with_what_has_changed(client, ceo):
    version = services.policy_publish(text="Rule one.\nRule two.", summary="Rule two is new.", by=ceo)
    user = factories.staff_user("staff", acknowledged=False)
    client.force_login(user)
    response = client.get(reverse("staff:policy"))
    assert response.status_code == 200
    assert response.context["acknowledged"] is False
    assert b"Rule one.\nRule two." in response.content
    assert b"Rule two is new." in response.content
    assert f'name="version" value="{version.pk}"'.encode() in response.content


# --- acknowledging --------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
def test_it_records_an_acknowledgement(client, policy, role):
    user = factories.staff_user(role, acknowledged=False)
    client.force_login(user)

    response = client.post(reverse("staff:policy"), {"version": policy.pk, "confirm": "yes"}, REMOTE_ADDR="203.0.113.9")

    assert response.status_code == 302
    assert response["Location"] == reverse("home")
    ack = PolicyAcknowledgement.objects.get(user=user, version=policy)
    assert ack.ip_address == "203.0.113.9"
    assert timezone.now() - ack.acknowledged_at < timedelta(minutes=1)
    event = AuditEvent.objects.get(action="policy.acknowledged", actor=user)
    assert (event.target_type, event.target_id, event.ip_address) == (
        "staff.policyversion",
        str(policy.pk),
        "203.0.113.9",
    )
    assert f"Thank you. You acknowledged version {policy.number} of the policy." in _messages(response)
    assert client.get(reverse("home")).status_code == 200


@pytest.mark.django_db
def test_it_records_a_double_submit_once(client, policy):
    user = factories.staff_user("staff", acknowledged=False)
    client.force_login(user)
    for _ in range(2):
        response = client.post(reverse("staff:policy"), {"version": policy.pk, "confirm": "yes"})
        assert response.status_code == 302
    assert PolicyAcknowledgement.objects.filter(user=user).count() == 1
    assert AuditEvent.objects.filter(action="policy.acknowledged", actor=user).count() == 1


@pytest.mark.django_db
def test_it_changes_nothing_without_the_tick(client, policy):
    user = factories.staff_user("staff", acknowledged=False)
    client.force_login(user)

    response = client.post(reverse("staff:policy"), {"version": policy.pk}, follow=True)

    assert response.redirect_chain == [(reverse("staff:policy"), 302)]
    assert b"Tick the box to confirm you have read this version of the policy." in response.content
    assert not PolicyAcknowledgement.objects.filter(user=user).exists()
    assert not AuditEvent.objects.filter(action="policy.acknowledged").exists()
    assert client.get(reverse("home"))["Location"] == reverse("staff:policy")


@pytest.mark.django_db
def test_it_does_not_count_a_tick_given_to_an_older_version(client, ceo):
    old = services.policy_publish(text="Old rules.", by=ceo)
    new = services.policy_publish(text="New rules.", by=ceo)
    user = factories.staff_user("staff", acknowledged=False)
    client.force_login(user)

    response = client.post(reverse("staff:policy"), {"version": old.pk, "confirm": "yes"}, follow=True)

    assert response.redirect_chain == [(reverse("staff:policy"), 302)]
    assert (
        f"Version {new.number} of the policy has been published since you opened the page".encode() in response.content
    )
    assert not PolicyAcknowledgement.objects.filter(user=user).exists()


@pytest.mark.django_db
def test_it_refuses_the_wrong_method_for_acknowledging(client, policy, member_of_staff):
    client.force_login(member_of_staff)
    assert client.put(reverse("staff:policy"), {"version": policy.pk, "confirm": "yes"}).status_code == 405


@pytest.mark.django_db
def test_it_keeps_parents_and_anonymous_people_off_the_policy_page(client, policy, parent):
    response = client.post(reverse("staff:policy"), {"version": policy.pk, "confirm": "yes"})
    assert response["Location"].startswith(reverse("account_login") + "?next=")
    client.force_login(parent)
    assert client.get(reverse("staff:policy")).status_code == 403
    assert client.post(reverse("staff:policy"), {"version": policy.pk, "confirm": "yes"}).status_code == 403
    assert not PolicyAcknowledgement.objects.exists()


@pytest.mark.django_db
def test_it_asks_again_when_a_new_version_is_published(
    client, ceo, member_of_staff, coordinator, parent, django_capture_on_commit_callbacks
):
    first = services.policy_publish(text="First rules.", by=ceo)
    for user in (ceo, member_of_staff, coordinator):
        services.policy_acknowledge(user=user, version=first)
    gone = factories.staff_user("staff", email="left@example.org", is_active=False)
    client.force_login(member_of_staff)
    assert client.get(reverse("home")).status_code == 200

    with django_capture_on_commit_callbacks(execute=True):
        second = services.policy_publish(text="Second rules.", by=ceo)

    assert client.get(reverse("home"))["Location"] == reverse("staff:policy")
    assert sorted(message.to[0] for message in mail.outbox) == sorted(
        [ceo.email, member_of_staff.email, coordinator.email]
    )
    assert parent.email not in {message.to[0] for message in mail.outbox}
    assert gone.email not in {message.to[0] for message in mail.outbox}
    client.post(reverse("staff:policy"), {"version": second.pk, "confirm": "yes"})
    assert client.get(reverse("home")).status_code == 200
    assert PolicyAcknowledgement.objects.filter(user=member_of_staff).count() == 2


@pytest.mark.django_db
def test_it_shows_staff_any_published_version(client, ceo, member_of_staff):
    first = services.policy_publish(text="First rules.", by=ceo)
    services.policy_publish(text="Second rules.", by=ceo)
    for version in PolicyVersion.objects.all():
        services.policy_acknowledge(user=member_of_staff, version=version)
    client.force_login(member_of_staff)
    response = client.get(reverse("staff:policy_version", args=[first.number]))
    assert response.status_code == 200
    assert b"First rules." in response.content
    assert client.get(reverse("staff:policy_version", args=[99])).status_code == 404
    assert client.post(reverse("staff:policy_version", args=[first.number])).status_code == 405


@pytest.mark.django_db
def test_it_keeps_parents_off_old_versions(client, policy, parent):
    client.force_login(parent)
    assert client.get(reverse("staff:policy_version", args=[policy.number])).status_code == 403


# --- the CEO's register --------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_shows_the_ceo_who_has_and_has_not_acknowledged(client, ceo):
    old = factories.PolicyVersionFactory()
    current = factories.PolicyVersionFactory()
    PolicyAcknowledgement.objects.create(user=ceo, version=old)
    PolicyAcknowledgement.objects.create(user=ceo, version=current)
    read = factories.staff_user("coordinator", full_name="Rae Reader", acknowledged=False)
    read_at = timezone.now() - timedelta(days=2, hours=3)
    PolicyAcknowledgement.objects.create(user=read, version=old, acknowledged_at=read_at - timedelta(days=30))
    PolicyAcknowledgement.objects.create(user=read, version=current, acknowledged_at=read_at)
    behind = factories.staff_user("photographer", full_name="Bea Behind", acknowledged=False)
    PolicyAcknowledgement.objects.create(user=behind, version=old)
    factories.staff_user("staff", full_name="Nia Never", acknowledged=False)
    factories.staff_user("staff", full_name="Lee Left", acknowledged=False, is_active=False)
    factories.parent_user(full_name="Pat Parent")
    client.force_login(ceo)

    response = client.get(reverse("staff:policy_register"))

    assert response.status_code == 200
    rows = {row.user.full_name: row for row in response.context["rows"]}
    assert set(rows) == {ceo.full_name, "Rae Reader", "Bea Behind", "Nia Never"}  # not the parent, not the leaver
    assert rows["Rae Reader"].acknowledged_at == read_at
    assert rows["Rae Reader"].last_version_number == current.number
    assert (rows["Bea Behind"].acknowledged_at, rows["Bea Behind"].last_version_number) == (None, old.number)
    assert (rows["Nia Never"].acknowledged_at, rows["Nia Never"].last_version_number) == (None, None)
    # Who still has to read it comes first.
    names = [row.user.full_name for row in response.context["rows"]]
    assert names[:2] == ["Bea Behind", "Nia Never"]
    html = response.content.decode()
    assert date_filter(timezone.localtime(read_at), "j M Y, H:i") in html
    assert html.count("Not yet</span>") == 2
    assert html.index("Nia Never") < html.index("Rae Reader")
    assert reverse("staff:policy_version", args=[old.number]) in html


@pytest.mark.django_db
def test_it_lists_superusers_in_the_register(client, policy, ceo, administrator):
    client.force_login(ceo)
    response = client.get(reverse("staff:policy_register"))
    assert administrator in [row.user for row in response.context["rows"]]


@pytest.mark.django_db
def test_it_shows_an_empty_register_before_anything_is_published(client, ceo):
    client.force_login(ceo)
    response = client.get(reverse("staff:policy_register"))
    assert response.status_code == 200
    assert b"No policy has been published yet." in response.content


@pytest.mark.django_db
def test_it_shows_the_register_to_a_superuser(client, policy, administrator):
    client.force_login(administrator)
    assert client.get(reverse("staff:policy_register")).status_code == 200


@pytest.mark.django_db
def test_it_refuses_the_wrong_method_for_the_register(client, policy, ceo):
    client.force_login(ceo)
    assert client.post(reverse("staff:policy_register")).status_code == 405


@pytest.mark.django_db
@pytest.mark.parametrize("role", NOT_CEO)
def test_it_keeps_other_roles_out_of_the_register(client, policy, role):
    client.force_login(factories.staff_user(role))
    assert client.get(reverse("staff:policy_register")).status_code == 403


@pytest.mark.django_db
def test_it_keeps_parents_out_of_the_register(client, policy, parent):
    client.force_login(parent)
    assert client.get(reverse("staff:policy_register")).status_code == 403


@pytest.mark.django_db
def test_it_sends_anonymous_people_from_the_register_to_sign_in(client, policy):
    response = client.get(reverse("staff:policy_register"))
    assert response.status_code == 302
    assert response["Location"] == reverse("account_login") + "?next=" + reverse("staff:policy_register")


def _register_with_staff(count: int) -> None:
    for n in range(count):
        user = factories.staff_user(["coordinator", "staff", "photographer"][n % 3], acknowledged=n % 2 == 0)
        if n % 3 == 0:
            user.groups.add(Group.objects.get(name="social_admin"))  # two roles, listed once


@pytest.mark.django_db
@pytest.mark.parametrize("staff_count", [3, 15])
def test_the_register_takes_the_same_number_of_queries_for_any_number_of_staff(
    client, staff_count, django_assert_num_queries
):
    factories.PolicyVersionFactory()
    factories.PolicyVersionFactory()
    ceo = factories.staff_user("ceo")
    _register_with_staff(staff_count)
    client.force_login(ceo)
    client.get(reverse("staff:policy_register"))  # the first request creates the usersession row

    # + the view's own current policy, the staff users, their acknowledgements with versions
    # (one prefetch), and the list of versions.
    with django_assert_num_queries(STAFF_REQUEST_QUERIES + 4):
        response = client.get(reverse("staff:policy_register"))
    assert len(response.context["rows"]) == staff_count + 1


# --- reminders ----------------------------------------------------------------------------------


def _version_published(days_ago: float, **fields) -> PolicyVersion:
    return factories.PolicyVersionFactory(published_at=timezone.now() - timedelta(days=days_ago), **fields)


@pytest.mark.django_db
def test_it_reminds_each_member_of_staff_who_has_not_acknowledged_once(django_capture_on_commit_callbacks):
    version = _version_published(4)
    read = factories.staff_user("coordinator")  # acknowledges the version above
    unread = [factories.staff_user(role, acknowledged=False) for role in ROLES]
    factories.staff_user("staff", acknowledged=False, is_active=False)
    factories.parent_user()

    with django_capture_on_commit_callbacks(execute=True):
        assert policy_reminder_sweep() == len(ROLES)

    assert sorted(message.to[0] for message in mail.outbox) == sorted(user.email for user in unread)
    assert all(len(message.to) == 1 for message in mail.outbox)
    assert read.email not in {message.to[0] for message in mail.outbox}
    assert f"version {version.number}" in mail.outbox[0].subject
    assert reverse("staff:policy") in mail.outbox[0].body
    assert PolicyReminder.objects.filter(version=version).count() == len(ROLES)

    with django_capture_on_commit_callbacks(execute=True):
        assert policy_reminder_sweep() == 0
    assert len(mail.outbox) == len(ROLES)


@pytest.mark.django_db
def test_it_reminds_superusers_too(administrator, django_capture_on_commit_callbacks):
    _version_published(4)
    with django_capture_on_commit_callbacks(execute=True):
        assert policy_reminder_sweep() == 1
    assert mail.outbox[0].to == [administrator.email]


@pytest.mark.django_db
@pytest.mark.parametrize("days_ago", [0, 1, 2.99])
def test_it_does_not_remind_before_the_version_is_three_days_old(days_ago, django_capture_on_commit_callbacks):
    _version_published(days_ago)
    factories.staff_user("staff", acknowledged=False)
    with django_capture_on_commit_callbacks(execute=True):
        assert policy_reminder_sweep() == 0
    assert mail.outbox == []
    assert not PolicyReminder.objects.exists()


@pytest.mark.django_db
def test_it_reminds_from_three_days_on(django_capture_on_commit_callbacks):
    _version_published(3.001)
    factories.staff_user("staff", acknowledged=False)
    with django_capture_on_commit_callbacks(execute=True):
        assert policy_reminder_sweep() == 1
    assert len(mail.outbox) == 1


@pytest.mark.django_db
def test_it_reminds_again_about_each_new_version(django_capture_on_commit_callbacks):
    first = _version_published(10)
    user = factories.staff_user("staff", acknowledged=False)
    with django_capture_on_commit_callbacks(execute=True):
        policy_reminder_sweep()
    PolicyAcknowledgement.objects.create(user=user, version=first)
    second = _version_published(4)

    with django_capture_on_commit_callbacks(execute=True):
        assert policy_reminder_sweep() == 1
        assert policy_reminder_sweep() == 0

    assert [message.to for message in mail.outbox] == [[user.email], [user.email]]
    assert f"version {second.number}" in mail.outbox[1].subject
    assert set(PolicyReminder.objects.values_list("version_id", flat=True)) == {first.pk, second.pk}


@pytest.mark.django_db
def test_it_does_nothing_without_a_policy(django_capture_on_commit_callbacks):
    factories.staff_user("staff")
    with django_capture_on_commit_callbacks(execute=True):
        assert policy_reminder_sweep() == 0
    assert mail.outbox == []


@pytest.mark.django_db
def test_the_celery_task_runs_the_same_sweep(django_capture_on_commit_callbacks):
    from staff.tasks import policy_reminder_sweep as task

    _version_published(5)
    user = factories.staff_user("staff", acknowledged=False)
    with django_capture_on_commit_callbacks(execute=True):
        assert task.delay().get() == 1
    assert mail.outbox[0].to == [user.email]
