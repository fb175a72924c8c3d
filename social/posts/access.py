"""Who may see and act on which post, and on the religious and political term lists. Views call these,
never check inline.

Social media administrators (and superusers: staff.roles.is_social_admin) see every post, review,
approve and publish; the rest of the staff see and change only their own posts. Anyone else gets 404
for a post (they learn nothing about it); a member of staff who may see a post but not do this to it
gets 403. Parents see only published posts showing one of their children, and the holds on their
children's photos.

The small copies of the photos offered for posts (the thumbnail view) are for the people who write posts
(the "Staff or volunteer" role) and the social media administrators who approve them, and only while
a photo may go online: what the consent form tells parents (consents.formtext.WHO_SEES_ONLINE).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404

from consents.selectors import children_of_parent
from photos.models import Photo
from photos.selectors import ORIGINAL
from social.models import PhotoOnlineHold, PolicyTerm, Post, PostChannel
from social.posts.channels import PUBLISHABLE
from social.posts.selectors import can_see_post_photos, postable_photos, posts_showing_children_of
from social.posts.services import EDITABLE, LIVE, WITHDRAWABLE
from staff.access import require
from staff.models import User
from staff.roles import Role, is_social_admin

# Who may open the term lists at all; only social media administrators change them.
TERM_READERS = (Role.SOCIAL_ADMIN, Role.CEO)


def posts_visible_to(user: User) -> QuerySet[Post]:
    """Every post for social media administrators; their own for everyone else on the staff."""
    return Post.objects.all() if is_social_admin(user) else Post.objects.filter(author=user)


def access_post(user: User, pk: int) -> Post:
    """The post if this member of staff may see it; 404 otherwise."""
    post = posts_visible_to(user).select_related("author", "reviewed_by", "published_by").filter(pk=pk).first()
    if post is None:
        raise Http404
    return post


def access_own_post(user: User, pk: int) -> Post:
    """A post to change or send for review: its author only (403 for an administrator reading it)."""
    post = access_post(user, pk)
    require(post.author_id == user.pk)
    return post


class OwnPost(PermissionDenied):
    """A social media administrator tried to review their own post: someone else must (four eyes)."""

    def __init__(self, post: Post) -> None:
        super().__init__("You wrote this post, so another social media administrator must review it.")
        self.post = post


def access_post_to_review(user: User, pk: int) -> Post:
    """A post to approve or send back: social media administrators only (403), and never its author
    (OwnPost, a 403 that carries the post so that the page can say why)."""
    post = access_post_to_publish(user, pk)
    if post.author_id == user.pk:
        raise OwnPost(post)
    return post


def access_post_to_publish(user: User, pk: int) -> Post:
    """A post to publish: social media administrators only (403 for the rest). An administrator may publish
    a post of their own once someone else has approved it."""
    post = access_post(user, pk)
    require(is_social_admin(user))
    return post


def access_post_channel(user: User, pk: int, channel: str) -> PostChannel:
    """One channel of a post, to record it as published or taken down by hand: social media administrators
    only (403 for the rest of the staff), 404 for a channel the post does not go to."""
    post = access_post_to_publish(user, pk)
    delivery = PostChannel.objects.filter(post=post, channel=channel).first()
    if delivery is None:
        raise Http404
    delivery.post = post  # the one already read, with its author
    return delivery


def access_post_photo_to_publish(user: User, pk: int, public_id) -> tuple[Post, Photo, str]:
    """A photo of an approved post still to go out somewhere, with the image it was approved with (ORIGINAL or
    UNIDENTIFIABLE), for an administrator publishing it by hand: 403 for the rest of the staff; 404 for a photo
    not in the post, or a post not waiting to be published (a draft's photos are not downloaded from here, nor a
    published or withdrawn post's)."""
    post = access_post_to_publish(user, pk)
    if post.status not in PUBLISHABLE:
        raise Http404
    photo = post.photos.select_related("family").filter(public_id=public_id).first()
    if photo is None:
        raise Http404
    return post, photo, post.photo_versions.get(str(photo.pk), ORIGINAL)


def access_post_to_withdraw(user: User, pk: int) -> Post:
    """A post to withdraw: its author, or a social media administrator."""
    post = access_post(user, pk)
    require(post.author_id == user.pk or is_social_admin(user))
    return post


def access_post_photo(user: User, public_id) -> Photo:
    """A photo that may be published online now (postable_photos), for someone who may see the photos
    offered for posts: 403 for the rest of the staff, before anything about the photo is looked up; 404 for
    a photo that may not go online (or does not exist)."""
    require(can_see_post_photos(user))
    photo = postable_photos().filter(public_id=public_id).first()
    if photo is None:
        raise Http404
    return photo


def access_parent_post(user: User, pk: int) -> Post:
    """A published post showing one of this parent's children; 404 for any other post."""
    post = posts_showing_children_of(user).filter(pk=pk).first()
    if post is None:
        raise Http404
    return post


def access_parent_hold(user: User, pk: int) -> PhotoOnlineHold:
    """A hold on a photo of one of this parent's children (they hold parental responsibility for the child),
    active or lifted; 404 for any other, including another child tagged in the same photo."""
    hold = PhotoOnlineHold.objects.filter(pk=pk, child__in=children_of_parent(user)).select_related("child").first()
    if hold is None:
        raise Http404
    return hold


@dataclass(frozen=True)
class Allowed:
    """What this person may do to this post now; the page shows exactly these actions."""

    edit: bool = False
    withdraw: bool = False
    approve: bool = False
    send_back: bool = False
    publish: bool = False  # send it now, record a channel published by hand
    own_post_waiting: bool = False  # a reviewer looking at their own submitted post

    @classmethod
    def for_user(cls, user: User, post: Post) -> Allowed:
        author = post.author_id == user.pk
        reviewer = is_social_admin(user)
        return cls(
            edit=author and post.status in EDITABLE,
            withdraw=(author or reviewer) and post.status in WITHDRAWABLE,
            approve=reviewer and not author and post.status == Post.Status.SUBMITTED,
            send_back=reviewer and not author and post.status in LIVE,
            publish=reviewer and post.status in PUBLISHABLE,
            own_post_waiting=reviewer and author and post.status == Post.Status.SUBMITTED,
        )


def access_policy_term(user: User, pk: int) -> PolicyTerm:
    """A term, for someone who may change the lists; 403 for readers, 404 if unknown."""
    require(is_social_admin(user))
    term = PolicyTerm.objects.filter(pk=pk).first()
    if term is None:
        raise Http404
    return term
