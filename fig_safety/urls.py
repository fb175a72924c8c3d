"""Top-level URLs."""

from allauth.account import views as account_views
from allauth.account.decorators import secure_admin_login
from django.contrib import admin
from django.http import Http404
from django.urls import include, path

from staff import views as staff_views
from staff.roles import is_staff_member

# The admin has no sign-in form of its own: it sends people to allauth's, which
# is rate-limited and asks staff for their second factor.
admin.site.login = secure_admin_login(admin.site.login)
admin.site.site_header = "FiG Safety administration"
admin.site.site_title = "FiG Safety"


def _not_offered(request, *args, **kwargs):
    # Email addresses are managed by administrators, and there is no public sign-up.
    raise Http404


def _staff_only(view):
    """Passwords are for staff: parents and carers sign in by emailed code and never get one."""

    def wrapped(request, *args, **kwargs):
        if request.user.is_authenticated and not is_staff_member(request.user):
            raise Http404
        return view(request, *args, **kwargs)

    return wrapped


urlpatterns = [
    path("", staff_views.home, name="home"),
    path("accounts/email/", _not_offered),
    path("accounts/signup/", _not_offered),
    path("accounts/password/set/", _staff_only(account_views.password_set), name="account_set_password"),
    path("accounts/password/change/", _staff_only(account_views.password_change), name="account_change_password"),
    path("accounts/", include("allauth.urls")),
    path("staff/", include("staff.urls")),
    path("consents/", include("consents.urls")),
    path("photos/", include("photos.urls")),
    path("social/", include("social.urls")),
    path("admin/", admin.site.urls),
]
