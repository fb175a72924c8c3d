"""A takedown's deletion through a platform's API whose task was lost with the broker (issue 17, point 3) is
queued again by the posts sweep a few minutes later and made once, against the fake Graph and X APIs, which
record every request; two sweeps at once queue it once; and a deletion whose call began and never answered
is not made again but left for a person to check."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from social.models import Post, PostChannel, Takedown
from social.posts import channels
from social.posts import services as posts
from social.posts.adapters import FacebookSender
from social.posts.services import CHECKLIST
from staff.models import User
from tests import factories
from tests.social.broker import QUEUE_LOG, broker_away, refused_tasks
from tests.social.fake_graph import page_graph
from tests.social.fake_x import x_api

S, C = Post.Status, PostChannel.State
SECOND = timedelta(seconds=1)


@pytest.fixture
def author(db) -> User:
    return factories.staff_user("staff", "post_writer", email="author@example.org")


@pytest.fixture
def admin(db) -> User:
    return factories.staff_user("social_admin", email="admin@example.org")


@pytest.fixture
def graph(settings):
    with page_graph(settings) as fake:
        yield fake


@pytest.fixture
def x(settings):
    with x_api(settings) as fake:
        yield fake


@pytest.fixture
def sweep(django_capture_on_commit_callbacks):
    """The posts sweep at `now`, the tasks it queues run as a worker would; how many deletions it resumed."""

    def run(now: datetime) -> int:
        with django_capture_on_commit_callbacks(execute=True):
            return posts.posts_sweep(now)["deletes_resumed"]

    return run


def _published(author: User, admin: User, chosen: list[str], capture) -> Post:
    """Approved for an hour from now, then sent at its time by the beat."""
    at = timezone.now() + timedelta(hours=1)
    post = posts.post_save_draft(
        author=author, text="Thank you to all our volunteers!", channels=chosen, scheduled_for=at, photos=[]
    )
    posts.post_submit(post=post, by=author)
    posts.post_approve(post=post, by=admin, checklist=dict.fromkeys(CHECKLIST, True), dismissals={})
    with capture(execute=True):
        assert channels.send_due(at + timedelta(minutes=1)) == len(chosen)
    return Post.objects.get(pk=post.pk)


def _withdraw(post: Post, admin: User, capture) -> None:
    with capture(execute=True):
        posts.post_withdraw(post=post, by=admin, reason="The wrong photo went out.")


def _states(post: Post) -> dict[str, str]:
    return dict(PostChannel.objects.filter(post=post).values_list("channel", "state"))


def _deletes(graph, x) -> tuple[int, int]:
    return len(graph.to("post")), len([r for r in x.requests if r.method == "DELETE"])


@pytest.mark.django_db
def test_a_deletion_lost_with_the_broker_is_made_once_by_the_sweep(
    author, admin, graph, x, sweep, caplog, django_capture_on_commit_callbacks
):
    post = _published(author, admin, ["facebook", "x"], django_capture_on_commit_callbacks)
    [page_post], [x_post] = graph.post_ids, list(x.posts)
    with broker_away() as refused, caplog.at_level(logging.WARNING, logger=QUEUE_LOG):
        _withdraw(post, admin, django_capture_on_commit_callbacks)
    lost = [args for name, args in refused_tasks(refused) if name == "social.tasks.delete_post_channel"]
    assert sorted(lost) == sorted((row.pk,) for row in post.deliveries.all())
    assert any(r.getMessage().startswith("Could not queue social.tasks.delete_post_channel") for r in caplog.records)
    assert _deletes(graph, x) == (0, 0)
    rows = list(post.deliveries.all())
    assert all(row.state == C.SENT and row.takedown_requested_at and row.takedown_started_at is None for row in rows)
    requested = max(row.takedown_requested_at for row in rows)

    assert sweep(requested + channels.REQUEUE_AFTER - SECOND) == 0  # the task may just be slow
    assert _deletes(graph, x) == (0, 0)

    assert sweep(requested + channels.REQUEUE_AFTER) == 2
    assert graph.deleted_posts == [page_post] and x.deleted == [x_post]
    assert _states(post) == {"facebook": C.TAKEN_DOWN, "x": C.TAKEN_DOWN}
    assert {row.taken_down_how for row in post.deliveries.all()} == {"api"}
    assert Post.objects.get(pk=post.pk).status == S.WITHDRAWN  # a withdrawn post stays withdrawn
    assert Takedown.objects.get(post=post).status == Takedown.Status.REMOVED

    assert sweep(requested + 10 * channels.REQUEUE_AFTER) == 0
    assert sweep(requested + 10 * channels.CALL_GIVEN_UP_AFTER) == 0
    assert _deletes(graph, x) == (1, 1)
    assert graph.problems == [] and x.problems == []


@pytest.mark.django_db
def test_two_sweeps_at_once_queue_a_lost_deletion_once(author, admin, graph, sweep, django_capture_on_commit_callbacks):
    post = _published(author, admin, ["facebook"], django_capture_on_commit_callbacks)
    with broker_away():
        _withdraw(post, admin, django_capture_on_commit_callbacks)
    due = post.deliveries.get().takedown_requested_at + channels.REQUEUE_AFTER

    with django_capture_on_commit_callbacks(execute=False) as queued:
        first = channels.resume_deletes(due)  # claimed and stamped; its task not run yet
        second = channels.resume_deletes(due)
    assert (first, second, len(queued)) == (1, 0, 1)
    with broker_away():  # and the broker is still away when the first sweep's commit queues it
        queued[0]()
    assert graph.to("post") == []

    assert sweep(due + channels.REQUEUE_AFTER - SECOND) == 0  # the claim counts from the sweep that made it
    assert sweep(due + channels.REQUEUE_AFTER) == 1
    assert len(graph.to("post")) == 1 and _states(post) == {"facebook": C.TAKEN_DOWN}
    assert sweep(due + 2 * channels.REQUEUE_AFTER) == 0
    assert len(graph.to("post")) == 1


@pytest.mark.django_db
def test_a_deletion_whose_call_never_answered_is_not_made_again_but_left_for_a_person(
    author, admin, graph, sweep, monkeypatch, django_capture_on_commit_callbacks
):
    post = _published(author, admin, ["facebook"], django_capture_on_commit_callbacks)
    real_delete = FacebookSender.delete

    def worker_dies(self, external_id: str) -> None:
        real_delete(self, external_id)
        raise RuntimeError("the worker died before Facebook's answer was recorded")

    monkeypatch.setattr(FacebookSender, "delete", worker_dies)
    _withdraw(post, admin, django_capture_on_commit_callbacks)  # the delete task runs, and its worker dies
    monkeypatch.undo()
    assert len(graph.to("post")) == 1
    delivery = post.deliveries.get()
    assert delivery.state == C.SENT and delivery.takedown_started_at is not None

    assert sweep(delivery.takedown_requested_at + channels.REQUEUE_AFTER) == 0  # begun: not queued again
    assert sweep(delivery.takedown_started_at + channels.CALL_GIVEN_UP_AFTER - SECOND) == 0
    assert sweep(delivery.takedown_started_at + channels.CALL_GIVEN_UP_AFTER) == 1
    assert len(graph.to("post")) == 1  # not called again
    delivery.refresh_from_db()
    assert delivery.state == C.SENT and delivery.takedown_requested_at is None
    assert delivery.takedown_error == channels.UNCERTAIN_DELETE.format(channel="Facebook Page")
    assert Takedown.objects.get(post=post).status == Takedown.Status.OPEN  # a person checks Facebook

    assert sweep(delivery.takedown_started_at + 2 * channels.CALL_GIVEN_UP_AFTER) == 0
    assert len(graph.to("post")) == 1
