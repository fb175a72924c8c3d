"""WSGI entry point (gunicorn fig_safety.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fig_safety.settings")
application = get_wsgi_application()
