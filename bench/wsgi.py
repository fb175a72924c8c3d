"""The project's WSGI application with the benchmark's minimal signed-in view at /bench/minimal/, for the
load benchmark's floor (gunicorn bench.wsgi). Everything else is fig_safety.wsgi unchanged."""

from __future__ import annotations

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fig_safety.settings")

from django.core.wsgi import get_wsgi_application  # noqa: E402
from django.test.utils import override_settings  # noqa: E402

application = get_wsgi_application()
override_settings(ROOT_URLCONF="bench.bench_pages").enable()
