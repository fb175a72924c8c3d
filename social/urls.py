"""The social app's pages, in one namespace ("social:"): the inbox and the post queue, each listed by its own
sub-package."""

from social.inbox.urls import urlpatterns as inbox_urlpatterns
from social.posts.urls import urlpatterns as posts_urlpatterns

app_name = "social"

urlpatterns = [*inbox_urlpatterns, *posts_urlpatterns]
