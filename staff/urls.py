from django.urls import path

from staff import views

app_name = "staff"

urlpatterns = [
    path("policy/", views.policy, name="policy"),
    path("policy/register/", views.policy_register, name="policy_register"),
    path("policy/register.csv", views.policy_register_csv, name="policy_register_csv"),
    path("policy/remind/", views.policy_remind, name="policy_remind"),
    path("policy/publish/", views.policy_publish, name="policy_publish"),
    path("policy/versions/<int:number>/", views.policy_version, name="policy_version"),
    path("breaches/", views.breach_list, name="breach_list"),
    path("breaches/new/", views.breach_new, name="breach_new"),
    path("breaches/<int:pk>/", views.breach_detail, name="breach_detail"),
    path("breaches/<int:pk>/update/", views.breach_update, name="breach_update"),
    path("breaches/<int:pk>/assess/", views.breach_assess, name="breach_assess"),
    path("breaches/<int:pk>/ico/", views.breach_ico, name="breach_ico"),
    path("breaches/<int:pk>/people/", views.breach_people, name="breach_people"),
    path("breaches/<int:pk>/actions/", views.breach_action, name="breach_action"),
    path("visits/", views.visit_list, name="visit_list"),
    path("visits/new/", views.visit_new, name="visit_new"),
    path("visits/guidance/", views.visit_guidance, name="visit_guidance"),
]
