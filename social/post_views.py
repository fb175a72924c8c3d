"""Post queue views. Placeholders until the post pages are built; they keep the URL names resolvable."""

from django.http import Http404


def _not_yet(request, *args, **kwargs):
    raise Http404


post_list = post_edit = review_queue = live_check = post_detail = post_submit = post_approve = _not_yet
post_request_changes = post_publish = post_withdraw = photo_thumbnail = parent_posts = parent_request_removal = _not_yet
