from django.urls import path

from social import views

app_name = "social"

urlpatterns = [
    path("webhooks/meta/", views.meta_webhook, name="meta_webhook"),
    path("inbox/", views.inbox, name="inbox"),
    path("inbox/<int:pk>/", views.message_detail, name="message"),
    path("takedowns/", views.takedowns, name="takedowns"),
]
