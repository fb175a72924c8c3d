"""Two families with a history online, for the subject access tests (issue 18, point 5): the export and the
parents' view of their children's photos and of the posts that showed them.

`history()` builds it through the real services. Family A (Ava Demo, her mother Mo) is the one exported or
signed in; family B (Ben Other, his father) must never show in what A gets, beyond "another child":

- photos: `solo` of Ava; `group` of Ava and Ben; `ben_solo` of Ben; `untagged` of family A (no child
  identifiable); each family's parent has a user account
- posts, each published on Facebook by hand: `ava_post` (solo), `group_post` (group), `ben_post` (ben_solo)
- takedowns: Mo asked for `ava_post` to come down (and a hold on `solo`); Ben's father asked for
  `group_post` to come down, and an administrator recorded its removal with notes naming Ben; an
  administrator opened one for `ben_post` with a reason naming Ben; and one for each of three comments,
  flagged as naming family A only, A and B, and B only
- a consent request to Mo for Ava, reminded and signed
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.utils import timezone

from consents.models import Carer, Child, ConsentRequest, Family
from photos.models import Photo, PhotoTag
from social.inbox import services as inbox
from social.models import Conversation, Post, Takedown
from social.posts import services as posts
from staff.models import User
from tests import factories
from tests.consents import factories as cf
from tests.photos.fixtures import ready_photo

CHECKED = dict.fromkeys(posts.CHECKLIST, True)
AVA_POST_TEXT = "A sunny afternoon at the family picnic. Thank you to all our volunteers."
GROUP_POST_TEXT = "Painting and crafts at the spring fair. What a lot of colour!"
BEN_POST_TEXT = "Football in the park this weekend, with thanks to the coaches."
PUBLISHED_URL = "https://www.facebook.com/figcharity/posts/1001"
ONLY_A_COMMENT = "So lovely to see Ava Demo at the picnic!"
A_AND_B_COMMENT = "Ava Demo and Ben Other were at the picnic together."
ONLY_B_COMMENT = "Ben Other scored a goal!"


@dataclass
class History:
    coordinator: User
    photographer: User
    author: User
    admin: User
    family_a: Family
    ava: Child
    mo: Carer
    mother: User
    family_b: Family
    ben: Child
    dad: Carer
    father: User
    solo: Photo
    group: Photo
    ben_solo: Photo
    untagged: Photo
    ava_post: Post
    group_post: Post
    ben_post: Post
    ava_takedown: Takedown
    group_takedown: Takedown
    ben_takedown: Takedown
    only_a: Takedown
    a_and_b: Takedown
    only_b: Takedown
    request: ConsentRequest


def publish(author: User, admin: User, text: str, photos: list[Photo], url: str = PUBLISHED_URL) -> Post:
    post = posts.post_save_draft(author=author, text=text, channels=["facebook"], scheduled_for=None, photos=photos)
    posts.post_submit(post=post, by=author)
    post = posts.post_approve(post=Post.objects.get(pk=post.pk), by=admin, checklist=CHECKED, dismissals={})
    return posts.post_publish(post=post, by=admin, adapter_name="manual", url=url)


def _comment_takedown(text: str, families: list[Family], admin: User) -> Takedown:
    conversation = factories.make_conversation(text, platform="facebook", kind="comment", flagged_at=timezone.now())
    conversation.flagged_families.add(*families)
    takedown, _opened = inbox.takedown_open(
        reason=f"It names family {', '.join(f.reference for f in families)}.",
        by=admin,
        message=Conversation.objects.get(pk=conversation.pk),
    )
    return takedown


def history(coordinator: User) -> History:
    photographer = factories.staff_user("photographer", email="pip@example.org", full_name="Pip Snap")
    author = factories.staff_user("staff", "post_writer", email="sam@example.org", full_name="Sam Writer")
    admin = factories.staff_user("social_admin", email="rae@example.org", full_name="Rae Reviewer")
    family_a, ava, [mo] = cf.family_with_child(coordinator)
    ava.first_name, ava.last_name = "Ava", "Demo"
    ava.save()
    family_b, ben, [dad] = cf.family_with_child(coordinator)
    ben.first_name, ben.last_name = "Ben", "Other"
    ben.save()
    mother = factories.parent_user(email=mo.email, full_name=mo.full_name)
    father = factories.parent_user(email=dad.email, full_name=dad.full_name)
    cf.give(ava, mo)
    cf.give(ben, dad)
    request = cf.request_for(ava, mo, by=coordinator)
    ConsentRequest.objects.filter(pk=request.pk).update(reminder_sent_at=timezone.now() - timedelta(hours=1))
    cf.sign(request)
    request.refresh_from_db()

    solo = ready_photo(family_a, [ava], photographer)
    group = ready_photo(family_a, [ava], photographer)
    PhotoTag.objects.create(photo=group, child=ben, tagged_by=coordinator)  # the upload form may not tag B yet
    ben_solo = ready_photo(family_b, [ben], photographer)
    untagged = ready_photo(family_a, [], photographer)

    ava_post = publish(author, admin, AVA_POST_TEXT, [solo])
    group_post = publish(author, admin, GROUP_POST_TEXT, [group])
    ben_post = publish(author, admin, BEN_POST_TEXT, [ben_solo])
    ava_takedown = posts.parent_request_removal(post=ava_post, user=mother)
    group_takedown = posts.parent_request_removal(post=group_post, user=father)
    group_takedown = inbox.takedown_record_removal(
        takedown=group_takedown, how=Takedown.How.BY_HAND, notes="Removed after Ben Other's father rang.", by=admin
    )
    ben_takedown = posts.post_open_takedown(post=ben_post, reason="Ben Other's father asked by phone.", by=admin)
    return History(
        coordinator=coordinator,
        photographer=photographer,
        author=author,
        admin=admin,
        family_a=family_a,
        ava=ava,
        mo=mo,
        mother=mother,
        family_b=family_b,
        ben=ben,
        dad=dad,
        father=father,
        solo=solo,
        group=group,
        ben_solo=ben_solo,
        untagged=untagged,
        ava_post=Post.objects.get(pk=ava_post.pk),
        group_post=Post.objects.get(pk=group_post.pk),
        ben_post=Post.objects.get(pk=ben_post.pk),
        ava_takedown=ava_takedown,
        group_takedown=group_takedown,
        ben_takedown=ben_takedown,
        only_a=_comment_takedown(ONLY_A_COMMENT, [family_a], admin),
        a_and_b=_comment_takedown(A_AND_B_COMMENT, [family_a, family_b], admin),
        only_b=_comment_takedown(ONLY_B_COMMENT, [family_b], admin),
        request=request,
    )
