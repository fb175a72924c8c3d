"""Takedowns: their own clock, removal by hand, and hide/delete through a fake Graph API on 127.0.0.1.

The fake server checks every request the way the Graph API would (method, path,
parameters, token) and refuses anything else, so a wrong request fails the test
even if the client ignored the answer.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from unittest import mock
from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import connection
from django.utils import timezone

from social import graph
from social.inbox import services
from social.inbox.services import InboxError
from social.models import Conversation, Takedown
from staff.models import AuditEvent
from tests import factories
from tests.consents.factories import frozen

pytestmark = pytest.mark.django_db

TOKEN = "page-token-for-tests"
VERSION = "/v21.0"


@dataclass
class FakeGraph:
    """What the fake Graph API was asked, and how it should answer the next request."""

    url: str
    answer: str = "ok"  # ok, error (HTTP 400), unsuccessful (200 with success false), slow
    sleep: float = 2.5
    on_request: Callable[[], None] | None = None  # run in the server's thread before it answers
    requests: list[dict] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def _handler(fake: FakeGraph) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:  # keep the test output clean
            pass

        def do_POST(self) -> None:
            self._handle()

        def do_DELETE(self) -> None:
            self._handle()

        def do_GET(self) -> None:
            self._handle()

        def _handle(self) -> None:
            split = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            form = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
            query = {k: v[0] for k, v in parse_qs(split.query).items()}
            params = {**query, **form}
            seen = {"method": self.command, "path": split.path, "query": query, "form": form}
            fake.requests.append(seen)
            if fake.on_request is not None:
                fake.on_request()
            problem = self._check(split.path, params, form)
            if problem:
                fake.problems.append(problem)
                return self._send(400, {"error": {"message": f"fake Graph API: {problem}", "code": 100}})
            if fake.answer == "error":
                return self._send(
                    400,
                    {
                        "error": {
                            "message": "(#200) Permissions error",
                            "type": "OAuthException",
                            "code": 200,
                            "fbtrace_id": "AbC",
                        }
                    },
                )
            if fake.answer == "slow":
                time.sleep(fake.sleep)
            self._send(200, {"success": fake.answer != "unsuccessful"})

        def _check(self, path: str, params: dict, form: dict) -> str:
            if not path.startswith(VERSION + "/") or "/" in path.removeprefix(VERSION + "/"):
                return f"unexpected path {path}"
            if params.get("access_token") != TOKEN:
                return "no valid access_token"
            if self.command == "POST":
                if set(form) not in ({"is_hidden", "access_token"}, {"hide", "access_token"}):
                    return f"unexpected POST parameters {sorted(form)}"
                if form.get("is_hidden", form.get("hide")) != "true":
                    return "hiding needs true"
                return ""
            if self.command == "DELETE":
                return "" if set(params) == {"access_token"} else f"unexpected DELETE parameters {sorted(params)}"
            return f"unexpected method {self.command}"

        def _send(self, status: int, payload: dict) -> None:
            body = json.dumps(payload).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except OSError:  # the client gave up (the timeout test): nothing to answer
                pass

    return Handler


@pytest.fixture
def fake_graph(settings) -> Iterator[FakeGraph]:
    fake = FakeGraph(url="")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    server.daemon_threads = True  # the slow answer's thread must not hold up the next test
    fake.url = f"http://127.0.0.1:{server.server_address[1]}{VERSION}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    settings.FIG_GRAPH_API_URL = fake.url
    settings.FIG_META_PAGE_TOKEN = TOKEN
    settings.FIG_GRAPH_TIMEOUT = 1
    yield fake
    server.shutdown()
    server.server_close()


@pytest.fixture
def admin(db):
    return factories.staff_user("social_admin", email="admin@example.org")


def _message(platform: str = "facebook", kind: str = "comment", platform_id: str | None = "104_555") -> Conversation:
    """A conversation holding one item from the person: a comment with Meta's id, unless told otherwise."""
    return factories.make_conversation(
        "That's the Okafor family in the photo", platform=platform, kind=kind, platform_id=platform_id
    )


@pytest.fixture
def comment(db) -> Conversation:
    return _message()


@pytest.fixture
def takedown(comment, admin) -> Takedown:
    return services.takedown_open(message=comment, reason="Names a family who did not agree", by=admin)[0]


def _still_open(takedown: Takedown) -> None:
    takedown.refresh_from_db()
    assert takedown.status == Takedown.Status.OPEN
    assert (takedown.removed_at, takedown.removed_by, takedown.how) == (None, None, "")
    assert not AuditEvent.objects.filter(action="takedown.removed").exists()


# --- opening a takedown ------------------------------------------------------------------------


def test_a_takedown_is_due_within_the_configured_hours(comment, admin, settings):
    settings.FIG_TAKEDOWN_HOURS = 6
    now = timezone.now()
    with frozen(now):
        takedown, opened = services.takedown_open(message=comment, reason=" Identifies a child ", by=admin)
    assert takedown.due_at == now + timedelta(hours=6)
    assert (takedown.status, takedown.reason, takedown.opened_by) == (Takedown.Status.OPEN, "Identifies a child", admin)
    assert takedown.item == comment.messages.get()  # the comment that must come down
    [event] = AuditEvent.objects.filter(action="takedown.opened")
    assert event.details == {"message": comment.pk, "post": None}


def test_a_message_has_one_open_takedown_at_a_time(takedown, comment, admin):
    with pytest.raises(InboxError, match="already open"):
        services.takedown_open(message=comment, reason="Again", by=admin)
    assert Takedown.objects.count() == 1

    services.takedown_record_removal(takedown=takedown, how=Takedown.How.BY_HAND, notes="", by=admin)
    services.takedown_open(message=comment, reason="It was posted again", by=admin)  # a new one once it is closed
    assert Takedown.objects.filter(status=Takedown.Status.OPEN).count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_administrators_opening_a_takedown_at_once_on_postgresql_open_one():
    assert connection.vendor == "postgresql"
    first, second = (factories.staff_user("social_admin") for _ in range(2))
    comment = _message()
    barrier = threading.Barrier(2)
    refused: list[str] = []
    errors: list[BaseException] = []

    def open_one(who) -> None:
        try:
            barrier.wait()
            services.takedown_open(message=Conversation.objects.get(pk=comment.pk), reason="Names a child", by=who)
        except InboxError as exc:
            refused.append(str(exc))
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)
        finally:
            connection.close()

    original_create = Takedown.objects.create

    def slow_create(**fields):
        time.sleep(0.3)  # between the "none open?" check and the insert: the other click arrives here
        return original_create(**fields)

    with mock.patch.object(Takedown.objects, "create", slow_create):
        threads = [threading.Thread(target=open_one, args=(who,)) for who in (first, second)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)

    assert not errors, errors
    assert refused == ["A takedown is already open for this message."]
    assert Takedown.objects.filter(message=comment, status=Takedown.Status.OPEN).count() == 1


def test_a_takedown_needs_a_reason(comment, admin):
    with pytest.raises(InboxError):
        services.takedown_open(message=comment, reason="  ", by=admin)
    assert not Takedown.objects.exists()


def test_an_answered_comment_can_still_be_taken_down(comment, admin):
    services.message_respond(message=comment, text="Replied publicly", link="", by=admin)
    assert services.takedown_open(message=comment, reason="Still identifies the family", by=admin)[0].pk


# --- removal by hand ---------------------------------------------------------------------------


def test_a_removal_by_hand_is_recorded_with_who_when_and_how(takedown, admin):
    now = timezone.now()
    with frozen(now):
        services.takedown_record_removal(
            takedown=takedown, how=Takedown.How.BY_HAND, notes=" Deleted on the app ", by=admin
        )
    takedown.refresh_from_db()
    assert (takedown.status, takedown.how, takedown.notes) == (Takedown.Status.REMOVED, "by_hand", "Deleted on the app")
    assert (takedown.removed_at, takedown.removed_by) == (now, admin)
    [event] = AuditEvent.objects.filter(action="takedown.removed")
    assert event.actor == admin and event.details == {"how": "by_hand"}


def test_a_removal_is_recorded_once(takedown, admin):
    services.takedown_record_removal(takedown=takedown, how=Takedown.How.BY_HAND, notes="", by=admin)
    with pytest.raises(InboxError, match="already closed"):
        services.takedown_record_removal(takedown=takedown, how=Takedown.How.BY_HAND, notes="again", by=admin)
    assert AuditEvent.objects.filter(action="takedown.removed").count() == 1


def test_a_removal_needs_to_say_how(takedown, admin):
    with pytest.raises(InboxError, match="how"):
        services.takedown_record_removal(takedown=takedown, how="", notes="", by=admin)
    _still_open(takedown)


# --- through the Graph API ---------------------------------------------------------------------
# The request is committed first and the call made after commit by takedown_remove_send (the task), so
# these tests run the on-commit callbacks.


@pytest.fixture
def remove(django_capture_on_commit_callbacks) -> Callable[..., Takedown]:
    """Ask for a removal as the takedowns page does, run what is queued after commit, and re-read it."""

    def remove(takedown: Takedown, how: str, by, notes: str = "") -> Takedown:
        with django_capture_on_commit_callbacks(execute=True):
            services.takedown_record_removal(takedown=takedown, how=how, notes=notes, by=by)
        takedown.refresh_from_db()
        return takedown

    return remove


def test_hiding_a_facebook_comment_posts_is_hidden_true_and_marks_it_removed(fake_graph, takedown, admin, remove):
    takedown = remove(takedown, Takedown.How.HIDDEN, admin)

    assert fake_graph.problems == []
    [request] = fake_graph.requests
    assert (request["method"], request["path"]) == ("POST", f"{VERSION}/104_555")
    assert request["form"] == {"is_hidden": "true", "access_token": TOKEN}
    assert request["query"] == {}  # the token travels in the body, not the URL
    assert (takedown.status, takedown.how, takedown.removed_by) == (Takedown.Status.REMOVED, "hidden", admin)
    assert (takedown.removal_requested_how, takedown.removal_error) == ("", "")
    actions = list(
        AuditEvent.objects.filter(target_type="social.takedown").order_by("id").values_list("action", flat=True)
    )
    assert actions == ["takedown.opened", "takedown.removal_requested", "takedown.removed"]


def test_deleting_a_facebook_comment_sends_delete_and_marks_it_removed(fake_graph, takedown, admin, remove):
    takedown = remove(takedown, Takedown.How.DELETED, admin)

    assert fake_graph.problems == []
    [request] = fake_graph.requests
    assert (request["method"], request["path"]) == ("DELETE", f"{VERSION}/104_555")
    assert request["query"] == {"access_token": TOKEN} and request["form"] == {}
    assert (takedown.status, takedown.how) == (Takedown.Status.REMOVED, "deleted")
    assert AuditEvent.objects.get(action="takedown.removed").details == {"how": "deleted"}


def test_hiding_an_instagram_comment_uses_instagrams_hide_parameter(fake_graph, admin, remove):
    comment = _message(platform="instagram", platform_id="17900001")
    takedown, _ = services.takedown_open(message=comment, reason="Names a child", by=admin)
    takedown = remove(takedown, Takedown.How.HIDDEN, admin)

    assert fake_graph.problems == []
    [request] = fake_graph.requests
    assert (request["method"], request["path"], request["form"]) == (
        "POST",
        f"{VERSION}/17900001",
        {"hide": "true", "access_token": TOKEN},
    )
    assert takedown.how == "hidden"


def test_nothing_is_called_before_the_request_commits(fake_graph, takedown, admin):
    services.takedown_record_removal(takedown=takedown, how=Takedown.How.HIDDEN, notes="", by=admin)
    # Still inside the test's transaction: the task is queued for after commit, so no call yet.
    assert fake_graph.requests == []
    takedown.refresh_from_db()
    assert (takedown.status, takedown.removal_requested_how) == (Takedown.Status.OPEN, "hidden")


def _failed(takedown: Takedown) -> str:
    """The takedown is open still, nothing waits for the Graph API, and this says why it failed."""
    takedown.refresh_from_db()
    assert (takedown.status, takedown.removed_at, takedown.how) == (Takedown.Status.OPEN, None, "")
    assert (takedown.removal_requested_how, takedown.removal_started_at) == ("", None)
    assert AuditEvent.objects.filter(action="takedown.removal_failed", target_id=str(takedown.pk)).exists()
    assert not AuditEvent.objects.filter(action="takedown.removed").exists()
    return takedown.removal_error


@pytest.mark.parametrize("how", [Takedown.How.HIDDEN, Takedown.How.DELETED])
def test_an_api_error_is_recorded_and_nothing_is_marked_removed(fake_graph, takedown, admin, how, remove):
    fake_graph.answer = "error"
    remove(takedown, how, admin)
    error = _failed(takedown)
    assert "Permissions error" in error and "Nothing was marked as removed" in error  # the admin sees why
    assert TOKEN not in error
    assert fake_graph.problems == [] and len(fake_graph.requests) == 1


def test_an_answer_of_success_false_is_a_failure(fake_graph, takedown, admin, remove):
    fake_graph.answer = "unsuccessful"
    remove(takedown, Takedown.How.HIDDEN, admin)
    assert "did not succeed" in _failed(takedown)


def test_a_graph_api_that_does_not_answer_in_time_is_a_failure_and_the_takedown_stays_open(
    fake_graph, takedown, admin, remove
):
    fake_graph.answer = "slow"  # sleeps 2.5 s; FIG_GRAPH_TIMEOUT is 1
    started = time.monotonic()
    remove(takedown, Takedown.How.HIDDEN, admin)
    assert time.monotonic() - started < 2.4  # it gave up at the timeout rather than waiting for the answer
    assert len(fake_graph.requests) == 1
    assert "did not answer" in _failed(takedown)


def test_a_graph_api_that_is_not_there_is_a_failure(fake_graph, takedown, admin, settings, remove):
    settings.FIG_GRAPH_API_URL = "http://127.0.0.1:9/v21.0"  # the discard port: nothing listens
    remove(takedown, Takedown.How.DELETED, admin)
    assert "could not be reached" in _failed(takedown)


def test_a_failed_removal_can_be_asked_for_again(fake_graph, takedown, admin, remove):
    fake_graph.answer = "error"
    remove(takedown, Takedown.How.HIDDEN, admin)
    fake_graph.answer = "ok"
    takedown = remove(takedown, Takedown.How.HIDDEN, admin)
    assert takedown.status == Takedown.Status.REMOVED and takedown.removal_error == ""
    assert len(fake_graph.requests) == 2


def test_a_second_request_while_one_is_waiting_is_refused(fake_graph, takedown, admin):
    services.takedown_record_removal(takedown=takedown, how=Takedown.How.HIDDEN, notes="", by=admin)
    with pytest.raises(InboxError, match="already"):
        services.takedown_record_removal(takedown=takedown, how=Takedown.How.DELETED, notes="", by=admin)
    with pytest.raises(InboxError, match="already"):
        services.takedown_record_removal(takedown=takedown, how=Takedown.How.BY_HAND, notes="", by=admin)


def test_a_call_that_began_and_never_answered_is_not_made_again(fake_graph, takedown, admin):
    """A worker that died during the call: Meta may have removed it, so the task hands it back instead."""
    Takedown.objects.filter(pk=takedown.pk).update(
        removal_requested_how=Takedown.How.DELETED,
        removal_requested_by=admin,
        removal_requested_at=timezone.now() - timedelta(minutes=10),
        removal_started_at=timezone.now() - timedelta(minutes=10),
    )
    services.takedown_remove_send(takedown_id=takedown.pk)
    assert fake_graph.requests == []
    assert _failed(takedown) == services.UNCERTAIN_REMOVAL


def test_the_task_leaves_a_closed_or_unrequested_takedown_alone(fake_graph, takedown, admin):
    services.takedown_remove_send(takedown_id=takedown.pk)  # nothing was asked for
    services.takedown_record_removal(takedown=takedown, how=Takedown.How.BY_HAND, notes="", by=admin)
    services.takedown_remove_send(takedown_id=takedown.pk)
    assert services.takedown_remove_send(takedown_id=999_999) is None
    assert fake_graph.requests == []


def test_the_sweep_queues_a_lost_removal_again_and_settles_a_stopped_one(
    fake_graph, admin, django_capture_on_commit_callbacks
):
    now = timezone.now()
    lost, _ = services.takedown_open(message=_message(platform_id="104_1"), reason="x", by=admin)
    stopped, _ = services.takedown_open(message=_message(platform_id="104_2"), reason="y", by=admin)
    fresh, _ = services.takedown_open(message=_message(platform_id="104_3"), reason="z", by=admin)
    Takedown.objects.filter(pk=lost.pk).update(
        removal_requested_how="hidden", removal_requested_by=admin, removal_requested_at=now - timedelta(minutes=3)
    )
    Takedown.objects.filter(pk=stopped.pk).update(
        removal_requested_how="deleted",
        removal_requested_at=now - timedelta(minutes=30),
        removal_started_at=now - services.CALL_GIVEN_UP_AFTER - timedelta(seconds=1),
    )
    Takedown.objects.filter(pk=fresh.pk).update(removal_requested_how="hidden", removal_requested_at=now)

    with django_capture_on_commit_callbacks(execute=True):
        assert services.resume_removals(now) == 2
    [request] = fake_graph.requests  # the lost one only: the stopped one is not called again
    assert request["path"] == f"{VERSION}/104_1"
    lost.refresh_from_db()
    stopped.refresh_from_db()
    fresh.refresh_from_db()
    assert lost.status == Takedown.Status.REMOVED and lost.removed_by == admin
    assert (stopped.status, stopped.removal_error) == (Takedown.Status.OPEN, services.UNCERTAIN_REMOVAL)
    assert (fresh.removal_requested_how, fresh.removal_started_at) == ("hidden", None)  # its task may yet run


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_no_row_is_locked_while_the_graph_api_is_called(fake_graph):
    """Invariant: no network call while a database row is locked. While Meta is answering, another
    connection can lock the takedown at once (NOWAIT), and sees the call recorded as begun."""
    assert connection.vendor == "postgresql"
    admin = factories.staff_user("social_admin")
    takedown, _ = services.takedown_open(message=_message(), reason="Names a child", by=admin)
    seen: list[object] = []

    def try_lock() -> None:
        from django.db import connection as thread_connection
        from django.db import transaction

        try:
            with transaction.atomic():
                row = Takedown.objects.select_for_update(nowait=True).get(pk=takedown.pk)
                seen.append(row.removal_started_at)
        except Exception as exc:  # noqa: BLE001 - any failure to lock is what the test reports
            seen.append(exc)
        finally:
            thread_connection.close()

    fake_graph.on_request = try_lock
    services.takedown_record_removal(takedown=takedown, how=Takedown.How.HIDDEN, notes="", by=admin)  # commits
    assert len(seen) == 1 and not isinstance(seen[0], Exception), seen
    assert seen[0] is not None  # the start was committed before the call
    takedown.refresh_from_db()
    assert takedown.status == Takedown.Status.REMOVED


@pytest.mark.parametrize("how", [Takedown.How.HIDDEN, Takedown.How.DELETED])
def test_hide_and_delete_are_refused_without_a_page_token(fake_graph, takedown, admin, settings, how):
    settings.FIG_META_PAGE_TOKEN = ""
    with pytest.raises(InboxError, match="page token"):
        services.takedown_record_removal(takedown=takedown, how=how, notes="", by=admin)
    assert fake_graph.requests == []
    _still_open(takedown)


@pytest.mark.parametrize(
    ("platform", "kind", "platform_id"),
    [
        ("messenger", "message", "m_1"),
        ("instagram", "message", "ig_m_1"),
        ("x", "comment", None),
        ("facebook", "comment", None),
    ],
    ids=["messenger-message", "instagram-message", "x-comment-added-by-hand", "comment-without-an-id"],
)
@pytest.mark.parametrize("how", [Takedown.How.HIDDEN, Takedown.How.DELETED])
def test_hide_and_delete_are_refused_for_anything_but_a_meta_comment(
    fake_graph, admin, platform, kind, platform_id, how
):
    message = _message(platform=platform, kind=kind, platform_id=platform_id)
    takedown, _ = services.takedown_open(message=message, reason="Identifies a family", by=admin)
    with pytest.raises(InboxError, match="comment"):
        services.takedown_record_removal(takedown=takedown, how=how, notes="", by=admin)
    assert fake_graph.requests == []
    _still_open(takedown)


def test_a_comment_id_cannot_reach_another_graph_path(fake_graph, admin, remove):
    message = _message(platform_id="104_555/likes")  # not a real id; it must stay one path segment
    takedown, _ = services.takedown_open(message=message, reason="x", by=admin)
    remove(takedown, Takedown.How.DELETED, admin)
    [request] = fake_graph.requests
    assert request["path"] == f"{VERSION}/104_555%2Flikes"  # escaped: Meta would refuse it as an unknown id


def test_graph_is_configured_only_with_a_page_token(settings):
    settings.FIG_META_PAGE_TOKEN = ""
    assert not graph.graph_configured()
    settings.FIG_META_PAGE_TOKEN = TOKEN
    assert graph.graph_configured()
