from django.urls import path

from consents import views

app_name = "consents"

urlpatterns = [
    path("", views.register, name="register"),
    path("requests/bulk/", views.request_bulk, name="request_bulk"),
    path("requests/<int:request_id>/cancel/", views.request_cancel, name="request_cancel"),
    path("families/", views.family_list, name="family_list"),
    path("families/new/", views.family_new, name="family_new"),
    path("families/<str:reference>/", views.family_detail, name="family_detail"),
    path("families/<str:reference>/edit/", views.family_edit, name="family_edit"),
    path("families/<str:reference>/coordinators/", views.family_coordinators, name="family_coordinators"),
    path("families/<str:reference>/close/", views.family_close, name="family_close"),
    path("families/<str:reference>/reopen/", views.family_reopen, name="family_reopen"),
    path("families/<str:reference>/erasure/", views.family_erasure, name="family_erasure"),
    path("families/<str:reference>/erasure/cancel/", views.family_erasure_cancel, name="family_erasure_cancel"),
    path("families/<str:reference>/export/", views.family_export, name="family_export"),
    path("families/<str:reference>/children/new/", views.child_edit, name="child_new"),
    path("families/<str:reference>/children/<int:child_id>/edit/", views.child_edit, name="child_edit"),
    path("families/<str:reference>/carers/new/", views.carer_edit, name="carer_new"),
    path("families/<str:reference>/carers/<int:carer_id>/edit/", views.carer_edit, name="carer_edit"),
    path("families/<str:reference>/children/<int:child_id>/", views.child_history, name="child_history"),
    path("families/<str:reference>/children/<int:child_id>/request/", views.request_send, name="request_send"),
    path("families/<str:reference>/children/<int:child_id>/record/", views.record_offline, name="record_offline"),
    path(
        "families/<str:reference>/children/<int:child_id>/withdraw/",
        views.withdraw_for_carer,
        name="withdraw_for_carer",
    ),
    path("records/<int:record_id>/certificate/", views.certificate, name="certificate"),
    path("records/<int:record_id>/<str:which>/", views.record_file, name="record_file"),
    path("forms/", views.form_versions, name="form_versions"),
    path("forms/new/", views.form_version_new, name="form_version_new"),
    path("forms/reconsent/", views.reconsent, name="reconsent"),
    path("sign/<str:token>/", views.sign, name="sign"),
    path("review/<str:token>/", views.review, name="review"),
    path("review/<str:token>/withdraw/", views.review_withdraw, name="review_withdraw"),
    path("my/", views.my_children, name="my_children"),
    path("my/children/<int:child_id>/", views.my_child, name="my_child"),
    path("my/children/<int:child_id>/form/", views.my_child_form, name="my_child_form"),
    path("my/children/<int:child_id>/withdraw/", views.my_child_withdraw, name="my_child_withdraw"),
    path("records/<int:record_id>/certificate.pdf", views.certificate_pdf, name="certificate_pdf"),
]
