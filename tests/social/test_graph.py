"""Takedowns: their own clock, removal by hand, and hide/delete through a fake Graph API on 127.0.0.1.

The fake server checks every request the way the Graph API would (method, path,
parameters, token) and refuses anything else, so a wrong request fails the test
even if the client ignored the answer.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from unittest import mock
from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import connection
from django.utils import timezone

from social import graph, services
from social.models import InboxMessage, Takedown, policy_due_at
from social.services import InboxError
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


def _message(platform: str = "facebook", kind: str = "comment", platform_id: str | None = "104_555") -> InboxMessage:
    now = timezone.now()
    return InboxMessage.objects.create(
        platform=platform,
        kind=kind,
        platform_id=platform_id,
        text="That's the Okafor family in the photo",
        received_at=now,
        due_at=policy_due_at(now),
    )


@pytest.fixture
def comment(db) -> InboxMessage:
    return _message()


@pytest.fixture
def takedown(comment, admin) -> Takedown:
    return services.takedown_open(message=comment, reason="Names a family who did not agree", by=admin)


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
        takedown = services.takedown_open(message=comment, reason=" Identifies a child ", by=admin)
    assert takedown.due_at == now + timedelta(hours=6)
    assert (takedown.status, takedown.reason, takedown.opened_by) == (Takedown.Status.OPEN, "Identifies a child", admin)
    [event] = AuditEvent.objects.filter(action="takedown.opened")
    assert event.details == {"message": comment.pk}


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
            services.takedown_open(message=InboxMessage.objects.get(pk=comment.pk), reason="Names a child", by=who)
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
    assert services.takedown_open(message=comment, reason="Still identifies the family", by=admin).pk


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


def test_hiding_a_facebook_comment_posts_is_hidden_true_and_marks_it_removed(fake_graph, takedown, admin):
    services.takedown_record_removal(takedown=takedown, how=Takedown.How.HIDDEN, notes="", by=admin)

    assert fake_graph.problems == []
    [request] = fake_graph.requests
    assert (request["method"], request["path"]) == ("POST", f"{VERSION}/104_555")
    assert request["form"] == {"is_hidden": "true", "access_token": TOKEN}
    assert request["query"] == {}  # the token travels in the body, not the URL
    takedown.refresh_from_db()
    assert (takedown.status, takedown.how, takedown.removed_by) == (Takedown.Status.REMOVED, "hidden", admin)


def test_deleting_a_facebook_comment_sends_delete_and_marks_it_removed(fake_graph, takedown, admin):
    services.takedown_record_removal(takedown=takedown, how=Takedown.How.DELETED, notes="", by=admin)

    assert fake_graph.problems == []
    [request] = fake_graph.requests
    assert (request["method"], request["path"]) == ("DELETE", f"{VERSION}/104_555")
    assert request["query"] == {"access_token": TOKEN} and request["form"] == {}
    takedown.refresh_from_db()
    assert (takedown.status, takedown.how) == (Takedown.Status.REMOVED, "deleted")
    assert AuditEvent.objects.get(action="takedown.removed").details == {"how": "deleted"}


def test_hiding_an_instagram_comment_uses_instagrams_hide_parameter(fake_graph, admin):
    comment = _message(platform="instagram", platform_id="17900001")
    takedown = services.takedown_open(message=comment, reason="Names a child", by=admin)
    services.takedown_record_removal(takedown=takedown, how=Takedown.How.HIDDEN, notes="", by=admin)

    assert fake_graph.problems == []
    [request] = fake_graph.requests
    assert (request["method"], request["path"], request["form"]) == (
        "POST",
        f"{VERSION}/17900001",
        {"hide": "true", "access_token": TOKEN},
    )
    takedown.refresh_from_db()
    assert takedown.how == "hidden"


@pytest.mark.parametrize("how", [Takedown.How.HIDDEN, Takedown.How.DELETED])
def test_an_api_error_is_refused_and_nothing_is_marked_removed(fake_graph, takedown, admin, how):
    fake_graph.answer = "error"
    with pytest.raises(InboxError) as refused:
        services.takedown_record_removal(takedown=takedown, how=how, notes="", by=admin)
    assert "Permissions error" in str(refused.value)  # the admin sees why
    assert TOKEN not in str(refused.value)
    assert fake_graph.problems == [] and len(fake_graph.requests) == 1
    _still_open(takedown)


def test_an_answer_of_success_false_is_refused(fake_graph, takedown, admin):
    fake_graph.answer = "unsuccessful"
    with pytest.raises(InboxError, match="did not succeed"):
        services.takedown_record_removal(takedown=takedown, how=Takedown.How.HIDDEN, notes="", by=admin)
    _still_open(takedown)


def test_a_graph_api_that_does_not_answer_in_time_is_refused_and_the_takedown_stays_open(fake_graph, takedown, admin):
    fake_graph.answer = "slow"  # sleeps 2.5 s; FIG_GRAPH_TIMEOUT is 1
    started = time.monotonic()
    with pytest.raises(InboxError, match="did not answer"):
        services.takedown_record_removal(takedown=takedown, how=Takedown.How.HIDDEN, notes="", by=admin)
    assert time.monotonic() - started < 2.4  # it gave up at the timeout rather than waiting for the answer
    assert len(fake_graph.requests) == 1
    _still_open(takedown)


def test_a_graph_api_that_is_not_there_is_refused(fake_graph, takedown, admin, settings):
    settings.FIG_GRAPH_API_URL = "http://127.0.0.1:9/v21.0"  # the discard port: nothing listens
    with pytest.raises(InboxError, match="could not be reached"):
        services.takedown_record_removal(takedown=takedown, how=Takedown.How.DELETED, notes="", by=admin)
    _still_open(takedown)


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
    takedown = services.takedown_open(message=message, reason="Identifies a family", by=admin)
    with pytest.raises(InboxError, match="comment"):
        services.takedown_record_removal(takedown=takedown, how=how, notes="", by=admin)
    assert fake_graph.requests == []
    _still_open(takedown)


def test_a_comment_id_cannot_reach_another_graph_path(fake_graph, admin):
    message = _message(platform_id="104_555/likes")  # not a real id; it must stay one path segment
    takedown = services.takedown_open(message=message, reason="x", by=admin)
    services.takedown_record_removal(takedown=takedown, how=Takedown.How.DELETED, notes="", by=admin)
    [request] = fake_graph.requests
    assert request["path"] == f"{VERSION}/104_555%2Flikes"  # escaped: Meta would refuse it as an unknown id


def test_graph_is_configured_only_with_a_page_token(settings):
    settings.FIG_META_PAGE_TOKEN = ""
    assert not graph.graph_configured()
    settings.FIG_META_PAGE_TOKEN = TOKEN
    assert graph.graph_configured()
