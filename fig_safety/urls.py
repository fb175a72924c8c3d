"""Top-level URLs."""

from allauth.account.decorators import secure_admin_login
from django.contrib import admin
from django.http import Http404
from django.urls import include, path

from staff import views as staff_views

# The admin has no sign-in form of its own: it sends people to allauth's, which
# is rate-limited and asks staff for their second factor.
admin.site.login = secure_admin_login(admin.site.login)
admin.site.site_header = "FiG Safety administration"
admin.site.site_title = "FiG Safety"


def _not_offered(request, *args, **kwargs):
    # Email addresses are managed by administrators, and there is no public sign-up.
    raise Http404


urlpatterns = [
    path("", staff_views.home, name="home"),
    path("accounts/email/", _not_offered),
    path("accounts/signup/", _not_offered),
    path("accounts/", include("allauth.urls")),
    path("staff/", include("staff.urls")),
    path("consents/", include("consents.urls")),
    path("photos/", include("photos.urls")),
    path("social/", include("social.urls")),
    path("admin/", admin.site.urls),
]
