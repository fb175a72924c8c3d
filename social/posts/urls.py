"""URLs of the post queue, its term lists, the parents' page of posts and the single-use photo addresses for
the platforms, in the social namespace (social/urls.py)."""

from django.urls import path

from social.posts import views

urlpatterns = [
    path("posts/", views.post_list, name="posts"),
    path("posts/new/", views.post_edit, name="post_new"),
    path("posts/review/", views.review_queue, name="review_queue"),
    path("posts/check/", views.live_check, name="live_check"),
    path("posts/<int:pk>/", views.post_detail, name="post"),
    path("posts/<int:pk>/edit/", views.post_edit, name="post_edit"),
    path("posts/<int:pk>/submit/", views.post_submit, name="post_submit"),
    path("posts/<int:pk>/approve/", views.post_approve, name="post_approve"),
    path("posts/<int:pk>/changes/", views.post_request_changes, name="post_changes"),
    path("posts/<int:pk>/publish/", views.post_publish, name="post_publish"),
    path("posts/<int:pk>/channels/<str:channel>/record/", views.post_channel_record, name="post_channel_record"),
    path(
        "posts/<int:pk>/channels/<str:channel>/taken-down/",
        views.post_channel_taken_down,
        name="post_channel_taken_down",
    ),
    path("posts/<int:pk>/photos/<uuid:public_id>/download/", views.post_photo_download, name="post_photo_download"),
    path("posts/<int:pk>/withdraw/", views.post_withdraw, name="post_withdraw"),
    path("posts/photos/<uuid:public_id>/thumbnail/", views.photo_thumbnail, name="post_photo_thumbnail"),
    path("policy-terms/", views.policy_terms, name="policy_terms"),
    path("policy-terms/add/", views.policy_term_add, name="policy_term_add"),
    path("policy-terms/<int:pk>/off/", views.policy_term_switch, {"on": False}, name="policy_term_off"),
    path("policy-terms/<int:pk>/on/", views.policy_term_switch, {"on": True}, name="policy_term_on"),
    path("my-child/posts/", views.parent_posts, name="parent_posts"),
    path("my-child/posts/<int:pk>/remove/", views.parent_request_removal, name="parent_request_removal"),
    path("my-child/photo-holds/<int:pk>/allow/", views.parent_hold_lift, name="parent_hold_lift"),
    # For the platforms that fetch a post's photo themselves: no sign-in, single-use (image_links).
    path("publish/image/<str:token>/", views.publish_image, name="publish_image"),
]
