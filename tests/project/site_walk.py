"""Every URL the walker knows (tests/staff/test_every_url.py), pointed at real objects, and the people to open
them: a member of staff with every role (an administrator too), a parent and someone not signed in.

Stable API (tests/project/test_bad_bytes.py and test_private_pages.py use it):

- `build_site()` -> Site: a small site with one of most things, made through the services
- `real_paths(site)` -> [(path, view name)]: every walked path, with real ids where the walk used samples
- `PERSONAS`, `client_for(persona, site)`: a test client signed in as "staff", "parent" or "anonymous"
- `keys_read()`: a context manager that yields the set of query and form keys the code read meanwhile
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import timedelta
from unittest import mock

from django.contrib import admin
from django.http import QueryDict
from django.test import Client
from django.urls import resolve, reverse
from django.utils import timezone

from consents.links import request_link_token, review_link_token
from consents.models import Carer, Child, ConsentRecord, ConsentRequest, Family
from fig_safety.vault import vault_save
from photos.models import Photo
from social.models import Conversation, Message, Post, SavedReply, Takedown
from social.posts import channels
from social.posts import services as posts
from staff.models import BreachReport, PolicyVersion, User
from tests import factories
from tests.consents.factories import request_for, sign
from tests.photos.fixtures import consented_child, ready_photo
from tests.staff.test_every_url import every_path

PERSONAS = ("staff", "parent", "anonymous")
EVERY_ROLE = ("coordinator", "photographer", "staff", "post_writer", "social_admin", "ceo")


@dataclass
class Site:
    everyone: User  # every role, a Django administrator too, with a second factor and the policy read
    parent: User  # a carer with parental responsibility for `child`
    policy: PolicyVersion
    breach: BreachReport
    family: Family
    child: Child
    carer: Carer
    signed: ConsentRecord  # signed online, so it has a drawn signature
    pending: ConsentRequest
    photo: Photo  # of `child`, uploaded by `everyone`
    draft: Post  # by `everyone`, with `photo`
    published: Post  # with `photo`, by another author and published by hand
    conversation: Conversation
    attachment: Message  # the person's photo in `conversation`
    failed: Message  # a reply of FiG's in `conversation` that was not sent
    saved: SavedReply
    takedown: Takedown


def build_site() -> Site:
    policy = factories.PolicyVersionFactory()
    everyone = factories.staff_user(*EVERY_ROLE, is_staff=True, is_superuser=True)
    writer = factories.staff_user("post_writer")
    family, child, carer = consented_child(coordinator=everyone)
    parent = factories.parent_user(email=carer.email)
    signed = sign(request_for(child, carer))
    pending = request_for(child, carer)
    photo = ready_photo(family, [child], everyone)
    draft = posts.post_save_draft(
        author=everyone, text="Our craft afternoon.", channels=["facebook"], scheduled_for=None, photos=[photo]
    )
    published = posts.post_save_draft(
        author=writer, text="Our picnic.", channels=["facebook"], scheduled_for=None, photos=[photo]
    )
    posts.post_submit(post=published, by=writer)
    posts.post_approve(post=published, by=everyone, checklist=dict.fromkeys(posts.CHECKLIST, True), dismissals={})
    channels.delivery_record(
        delivery=published.deliveries.get(), url="https://www.facebook.com/figcharity/posts/1", by=everyone
    )
    conversation = factories.make_conversation("Lovely picnic!", sender_name="Sam Parent")
    blob = vault_save(b"\x89PNG\r\n\x1a\n" + b"a photo" * 20, folder="inbox")
    attachment = Message.objects.create(
        conversation=conversation,
        platform=conversation.platform,
        platform_id="mid.walk-1",
        text="",
        at=timezone.now() - timedelta(minutes=30),
        attachments=[
            {
                "type": "image",
                "title": "",
                "blob": blob.name,
                "key_id": blob.key_id,
                "size": blob.size,
                "content_type": "image/png",
            }
        ],
        attachments_fetched_at=timezone.now(),
    )
    failed = Message.objects.create(
        conversation=conversation,
        platform=conversation.platform,
        text="We will ring you tomorrow.",
        at=timezone.now() - timedelta(minutes=20),
        from_fig=True,
        event=Message.Event.REPLY,
        send_as=Message.SendAs.MESSAGE,
        sending=Message.Sending.FAILED,
        by=everyone,
    )
    other = factories.make_conversation("A comment that must come down", kind="comment")
    takedown = Takedown.objects.create(
        message=other, item=other.messages.get(), reason="Names a child", due_at=timezone.now() + timedelta(days=1)
    )
    return Site(
        everyone=everyone,
        parent=parent,
        policy=policy,
        breach=factories.BreachReportFactory(reporter=everyone),
        family=family,
        child=child,
        carer=carer,
        signed=signed,
        pending=pending,
        photo=photo,
        draft=draft,
        published=published,
        conversation=conversation,
        attachment=attachment,
        failed=failed,
        saved=SavedReply.objects.create(title="Thanks", text="Thank you, {first_name}!", created_by=everyone),
        takedown=takedown,
    )


def _real_kwargs(site: Site) -> dict[str, Callable[[dict], dict]]:
    """For each view whose walked path has sample ids, the kwargs of a real object (unlisted ones keep them)."""
    family = {"reference": site.family.reference}
    child = {**family, "child_id": site.child.pk}
    photo = {"public_id": site.photo.public_id}
    conversation = {"pk": site.conversation.pk}
    table: dict[str, dict] = {
        "staff:policy_version": {"number": site.policy.number},
        "staff:breach_detail": {"pk": site.breach.pk},
        "staff:breach_update": {"pk": site.breach.pk},
        "consents:request_cancel": {"request_id": site.pending.pk},
        "consents:family_detail": family,
        "consents:family_coordinators": family,
        "consents:child_new": family,
        "consents:carer_new": family,
        "consents:child_edit": child,
        "consents:carer_edit": {**family, "carer_id": site.carer.pk},
        "consents:child_history": child,
        "consents:request_send": child,
        "consents:record_offline": child,
        "consents:withdraw_for_carer": child,
        "consents:certificate": {"record_id": site.signed.pk},
        "consents:record_file": {"record_id": site.signed.pk, "which": "signature"},
        "consents:sign": {"token": request_link_token(site.pending)},
        "consents:review": {"token": review_link_token(carer=site.carer, child=site.child)},
        "consents:review_withdraw": {"token": review_link_token(carer=site.carer, child=site.child)},
        "consents:my_child": {"child_id": site.child.pk},
        "consents:my_child_form": {"child_id": site.child.pk},
        "consents:my_child_withdraw": {"child_id": site.child.pk},
        "photos:batch": {"public_id": site.photo.batch.public_id},
        "photos:image": {**photo, "size": "thumbnail"},
        **{f"photos:{name}": photo for name in ("detail", "retag", "keep", "mark_unidentifiable", "add_face")},
        "photos:access_log": photo,
        **{
            f"social:{name}": conversation
            for name in ("message", "assign", "pass_on", "respond", "close", "takedown_open", "reply")
            + ("reply_insert", "replying", "note")
        },
        "social:reply_again": {**conversation, "message_id": site.failed.pk},
        "social:attachment": {**conversation, "message_id": site.attachment.pk, "index": 0},
        "social:saved_reply_edit": {"pk": site.saved.pk},
        "social:saved_reply_retire": {"pk": site.saved.pk},
        "social:takedown_remove": {"pk": site.takedown.pk},
        **{
            f"social:{name}": {"pk": site.draft.pk}
            for name in ("post", "post_edit", "post_submit", "post_approve", "post_changes", "post_publish")
            + ("post_withdraw",)
        },
        "social:post_channel_record": {"pk": site.draft.pk, "channel": "facebook"},
        "social:post_channel_taken_down": {"pk": site.published.pk, "channel": "facebook"},
        "social:post_photo_download": {"pk": site.draft.pk, **photo},
        "social:post_photo_thumbnail": photo,
        "social:parent_request_removal": {"pk": site.published.pk},
    }
    return {name: (lambda kwargs, real=real: {**kwargs, **real}) for name, real in table.items()}


def _admin_object_ids() -> dict[str, str]:
    """The admin's change pages by model ("staff_user"): the id of a real row of each model that has one."""
    ids = {}
    for model in admin.site._registry:
        first = model._default_manager.order_by("pk").values_list("pk", flat=True).first()
        if first is not None:
            ids[f"{model._meta.app_label}_{model._meta.model_name}"] = str(first)
    return ids


def _admin_model(url_name: str | None) -> str:
    """The model in an admin page's URL name: "staff_user" for "staff_user_change" (_history, _delete)."""
    model, _, page = (url_name or "").rpartition("_")
    return model if page in {"change", "history", "delete"} else ""


def real_paths(site: Site) -> list[tuple[str, str | None]]:
    table = _real_kwargs(site)
    admin_ids = _admin_object_ids()
    found = []
    for path, name in every_path():
        match = resolve(path)
        kwargs = match.kwargs
        if match.view_name in table:
            kwargs = table[match.view_name](kwargs)
        elif match.namespace == "admin" and "object_id" in kwargs and _admin_model(match.url_name) in admin_ids:
            kwargs = {**kwargs, "object_id": admin_ids[_admin_model(match.url_name)]}
        else:
            found.append((path, name))
            continue
        found.append((reverse(match.view_name, kwargs=kwargs), name))
    return found


def client_for(persona: str, site: Site) -> Client:
    """A client that answers a 500 rather than raising, so a test can list every one."""
    client = Client(raise_request_exception=False)
    user = {"staff": site.everyone, "parent": site.parent}.get(persona)
    if user is not None:
        client.force_login(user)
    return client


@contextmanager
def keys_read() -> Iterator[set[str]]:
    """The keys read from any QueryDict (request.GET, request.POST, and the forms bound to them) meanwhile."""
    read: set[str] = set()

    def recording(name: str):
        method = getattr(QueryDict, name)

        def wrapped(self, key, *args, **kwargs):
            if isinstance(key, str) and not self._mutable:  # not while parsing, which fills a mutable one
                read.add(key)
            return method(self, key, *args, **kwargs)

        return wrapped

    with ExitStack() as stack:
        for name in ("get", "getlist", "__getitem__", "__contains__"):
            stack.enter_context(mock.patch.object(QueryDict, name, recording(name)))
        yield read
