"""URLs of the post queue and its term lists, added to the social namespace by social/urls.py."""

from django.urls import path

from social import post_views, term_views

urlpatterns = [
    path("posts/", post_views.post_list, name="posts"),
    path("posts/new/", post_views.post_edit, name="post_new"),
    path("posts/review/", post_views.review_queue, name="review_queue"),
    path("posts/check/", post_views.live_check, name="live_check"),
    path("posts/<int:pk>/", post_views.post_detail, name="post"),
    path("posts/<int:pk>/edit/", post_views.post_edit, name="post_edit"),
    path("posts/<int:pk>/submit/", post_views.post_submit, name="post_submit"),
    path("posts/<int:pk>/approve/", post_views.post_approve, name="post_approve"),
    path("posts/<int:pk>/changes/", post_views.post_request_changes, name="post_changes"),
    path("posts/<int:pk>/publish/", post_views.post_publish, name="post_publish"),
    path("posts/<int:pk>/withdraw/", post_views.post_withdraw, name="post_withdraw"),
    path("posts/photos/<uuid:public_id>/thumbnail/", post_views.photo_thumbnail, name="post_photo_thumbnail"),
    path("policy-terms/", term_views.policy_terms, name="policy_terms"),
    path("policy-terms/add/", term_views.policy_term_add, name="policy_term_add"),
    path("policy-terms/<int:pk>/off/", term_views.policy_term_switch, {"on": False}, name="policy_term_off"),
    path("policy-terms/<int:pk>/on/", term_views.policy_term_switch, {"on": True}, name="policy_term_on"),
    path("my-child/posts/", post_views.parent_posts, name="parent_posts"),
    path("my-child/posts/<int:pk>/remove/", post_views.parent_request_removal, name="parent_request_removal"),
]
