"""Settings for the test run: the real settings, pointed at the services this machine has.

Only test-harness conveniences differ (a fast password hasher, eager Celery by
default, static files from the finders); a test that needs the real worker
starts one.
"""

import os
import tempfile

from tests.services import SERVICES

_var = tempfile.mkdtemp(prefix="fig-test-var-")
os.environ.setdefault("DJANGO_SECRET_KEY", "test-secret-key-not-for-production-" + "x" * 40)
os.environ.setdefault("DJANGO_ALLOWED_HOSTS", "testserver,localhost,127.0.0.1")
os.environ.setdefault("EMAIL_URL", "consolemail://")
os.environ["DJANGO_DEBUG"] = "0"
os.environ["DJANGO_SECURE_SSL_REDIRECT"] = "0"
os.environ["FIG_VAR_DIR"] = _var
os.environ["FIG_STORAGE"] = "local"
os.environ.setdefault("FIG_CACHE_PREFIX", f"figtest-{os.getpid()}")
os.environ.setdefault("FIG_VAULT_KEYS", "t1:" + "A" * 43)
os.environ.setdefault("FIG_CERTIFICATE_SIGNING_GENERATE", "1")  # a certificate key pair under the run's var folder
if SERVICES.postgres_url:
    os.environ["DATABASE_URL"] = SERVICES.postgres_url
else:
    os.environ["DATABASE_URL"] = f"sqlite:///{_var}/test.sqlite3"
os.environ["REDIS_URL"] = SERVICES.redis_url or ""
# Playwright's sync API runs an event loop in the test thread; the ORM calls in
# browser tests are still synchronous and safe.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

from fig_safety.settings import *  # noqa: E402,F403
from fig_safety.settings import STORAGES  # noqa: E402

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
CELERY_TASK_ALWAYS_EAGER = True
FIG_TEST_VAR_DIR = _var

# One test database per run, so two runs on one machine (or a helper's run
# beside CI's) never drop each other's database.
if SERVICES.postgres_url:
    DATABASES["default"]["TEST"] = {"NAME": f"test_fig_safety_{os.getpid()}"}  # noqa: F405
