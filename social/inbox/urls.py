"""URLs of the inbox, the takedowns and the response dashboard, in the social namespace (social/urls.py)."""

from django.urls import path

from social.inbox import views

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
    path("takedowns/", views.takedowns, name="takedowns"),
    path("takedowns/<int:pk>/removed/", views.takedown_remove, name="takedown_remove"),
    path("dashboard/", views.dashboard, name="dashboard"),
]
