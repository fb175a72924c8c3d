"""URLs of the inbox, the takedowns and the response dashboard, in the social namespace (social/urls.py)."""

from django.urls import path

from social.inbox import views, views_saved

urlpatterns = [
    path("webhooks/meta/", views.meta_webhook, name="meta_webhook"),
    path("inbox/", views.inbox, name="inbox"),
    path("inbox/add/", views.add_message, name="add_message"),
    path("inbox/for-you/", views.for_me, name="for_me"),
    path("inbox/<int:pk>/", views.message_detail, name="message"),
    path("inbox/<int:pk>/assign/", views.message_assign, name="assign"),
    path("inbox/<int:pk>/pass-on/", views.message_pass_on, name="pass_on"),
    path("inbox/<int:pk>/respond/", views.message_respond, name="respond"),
    path("inbox/<int:pk>/close/", views.message_close, name="close"),
    path("inbox/<int:pk>/takedown/", views.message_takedown, name="takedown_open"),
    path("inbox/<int:pk>/reply/", views.message_reply, name="reply"),
    path("inbox/<int:pk>/reply/insert/", views.reply_insert, name="reply_insert"),
    path("inbox/<int:pk>/replies/<int:message_id>/again/", views.reply_again, name="reply_again"),
    path("inbox/<int:pk>/replying/", views.message_replying, name="replying"),
    path("inbox/<int:pk>/notes/", views.message_note, name="note"),
    path(
        "inbox/<int:pk>/messages/<int:message_id>/attachments/<int:index>/",
        views.message_attachment,
        name="attachment",
    ),
    path("inbox/saved-replies/", views_saved.saved_replies_list, name="saved_replies"),
    path("inbox/saved-replies/add/", views_saved.saved_reply_add, name="saved_reply_add"),
    path("inbox/saved-replies/<int:pk>/", views_saved.saved_reply_edit, name="saved_reply_edit"),
    path("inbox/saved-replies/<int:pk>/retire/", views_saved.saved_reply_retire, name="saved_reply_retire"),
    path("takedowns/", views.takedowns, name="takedowns"),
    path("takedowns/<int:pk>/removed/", views.takedown_remove, name="takedown_remove"),
    path("dashboard/", views.dashboard, name="dashboard"),
]
