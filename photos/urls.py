from django.urls import path

from photos import views

app_name = "photos"

urlpatterns = [
    path("", views.gallery, name="gallery"),
    path("upload/", views.upload, name="upload"),
    path("today/", views.today, name="today"),
    path("today/<str:reference>/", views.today_family, name="today_family"),
    path("uploads/", views.my_uploads, name="my_uploads"),
    path("uploads/confirm/", views.confirm_device_deleted, name="confirm_device_deleted"),
    path("uploads/<uuid:public_id>/", views.batch, name="batch"),
    path("unconfirmed/", views.unconfirmed, name="unconfirmed"),
    path("deletion-queue/", views.deletion_queue, name="deletion_queue"),
    path("<uuid:public_id>/", views.detail, name="detail"),
    path("<uuid:public_id>/image/<str:size>/", views.image, name="image"),
    path("<uuid:public_id>/retag/", views.retag, name="retag"),
    path("<uuid:public_id>/keep/", views.keep, name="keep"),
    path("<uuid:public_id>/unidentifiable/", views.mark_unidentifiable, name="mark_unidentifiable"),
    path("<uuid:public_id>/faces/add/", views.add_face, name="add_face"),
    path("<uuid:public_id>/access-log/", views.access_log, name="access_log"),
    path("<uuid:public_id>/delete/", views.delete_now, name="delete_now"),
    path("parents/<uuid:public_id>/<str:version>/<str:size>/", views.parent_image, name="parent_image"),
]
