"""FiG Safety settings: one file, every value a person would change read from the environment.

See the configuration table in docs/configuration.md. Development conveniences switch on
only with DJANGO_DEBUG=1; nothing secret has a production default.
"""

from __future__ import annotations

from pathlib import Path

import dj_database_url
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from fig_safety.env import (
    ensure_dir,
    ensure_private_dir,
    env_bool,
    env_int,
    env_list,
    env_required,
    env_str,
    parse_email_url,
    parse_vault_keys,
)
from fig_safety.run_address import DEFAULT_RUN_ADDR, site_url_served_at

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("FIG_VAR_DIR", str(BASE_DIR / "var")))

DEBUG = env_bool("DJANGO_DEBUG", False)

if DEBUG:
    SECRET_KEY = env_str("DJANGO_SECRET_KEY") or "insecure-development-key-only-for-DJANGO_DEBUG"
else:
    SECRET_KEY = env_required("DJANGO_SECRET_KEY", "a long random string; required when DJANGO_DEBUG is off")

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["127.0.0.1", "localhost"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

# `make run` serves FIG_RUN_ADDR, so unless this is set every emailed link points there.
FIG_SITE_URL = (env_str("FIG_SITE_URL") or site_url_served_at(env_str("FIG_RUN_ADDR") or DEFAULT_RUN_ADDR)).rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django.forms",  # Django's own form templates, for FORM_RENDERER
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "allauth.usersessions",
    "guardian",
    "csp",
    "staff",
    "consents",
    "photos",
    "social",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "fig_safety.middleware.PrivatePagesMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "fig_safety.middleware.UnreadableAddressMiddleware",
    "fig_safety.middleware.RequestSizeLimitMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "staff.middleware.SessionActivityMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "staff.middleware.StaffIdleTimeoutMiddleware",
    "staff.middleware.StaffMFARequiredMiddleware",
    "staff.middleware.PolicyAcknowledgementMiddleware",
]

ROOT_URLCONF = "fig_safety.urls"
WSGI_APPLICATION = "fig_safety.wsgi.application"
ASGI_APPLICATION = "fig_safety.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "staff.context_processors.navigation",
            ],
        },
    },
]
FORM_RENDERER = "fig_safety.forms.FormRenderer"

# Database: SQLite under var/ unless DATABASE_URL says otherwise.
DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL") or f"sqlite:///{ensure_dir(VAR_DIR) / 'fig_safety.sqlite3'}",
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60, minimum=0),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Take the write lock when a transaction starts, so two requests that both
    # lock a row (a double submit) queue up instead of failing with "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {})["transaction_mode"] = "IMMEDIATE"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "staff.User"
AUTHENTICATION_BACKENDS = [
    "staff.backends.FigModelBackend",
    "staff.backends.FigAllauthBackend",
    "guardian.backends.ObjectPermissionBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "account_login"

# django-allauth: email is the login; nobody signs themselves up.
ACCOUNT_ADAPTER = "staff.adapters.AccountAdapter"
ACCOUNT_FORMS = {"reset_password": "staff.forms.StaffOnlyResetPasswordForm"}
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*"]
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_LOGIN_BY_CODE_ENABLED = True
ACCOUNT_LOGIN_BY_CODE_TIMEOUT = env_int("FIG_LOGIN_CODE_MINUTES", 10, minimum=1) * 60
ACCOUNT_EMAIL_NOTIFICATIONS = True
ACCOUNT_SESSION_REMEMBER = False
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[FiG Safety] "
ACCOUNT_PRESERVE_USERNAME_CASING = False
ACCOUNT_RATE_LIMITS = {
    # Failed sign-ins: 10 a minute from one address, 5 per 5 minutes for one account from one address
    # (staff.adapters makes allauth's "key" the account and address together).
    "login_failed": env_str("FIG_LOGIN_FAILED_RATE", "10/m/ip,5/300s/key"),
    "request_login_code": "20/m/ip,3/m/key",
}
# ...and, more slowly, for one account from anywhere, except from a browser that account has fully
# signed in from before (staff.adapters): strangers elsewhere cannot lock the owner out.
FIG_LOGIN_FAILED_ACCOUNT_RATE = env_str("FIG_LOGIN_FAILED_ACCOUNT_RATE", "30/h/key")
FIG_KNOWN_DEVICE_DAYS = env_int("FIG_KNOWN_DEVICE_DAYS", 90, minimum=1)
ALLAUTH_TRUSTED_PROXY_COUNT = env_int("FIG_TRUSTED_PROXY_COUNT", 0, minimum=0)
# Staff complete two-step sign-in with an authenticator app or a security key (a USB/NFC key, or the
# fingerprint, face or PIN sign-in of a phone or computer); recovery codes back either up.
MFA_ADAPTER = "staff.adapters.MFAAdapter"
MFA_SUPPORTED_TYPES = ["totp", "webauthn", "recovery_codes"]
# A key is a second factor only: staff always give their password first, so no passkey sign-in.
MFA_PASSKEY_LOGIN_ENABLED = False
MFA_PASSKEY_SIGNUP_ENABLED = False
# No MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN, even in debug: it would switch off the origin check, and
# buys nothing here. Keys are bound to the host name: fido2 already accepts http://localhost, and
# browsers refuse an IP address such as 127.0.0.1, so in development use http://localhost:8000.
MFA_TOTP_ISSUER = "FiG Safety"
MFA_RECOVERY_CODE_COUNT = 10
USERSESSIONS_TRACK_ACTIVITY = True

# django-guardian: no anonymous user row; object permissions come from the backend.
ANONYMOUS_USER_NAME = None
GUARDIAN_RAISE_403 = False

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "Europe/London"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = Path(env_str("DJANGO_STATIC_ROOT", str(BASE_DIR / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "static"]
WHITENOISE_USE_FINDERS = DEBUG

FIG_STORAGE = (env_str("FIG_STORAGE", "local") or "local").lower()
if FIG_STORAGE == "local":
    FIG_VAULT_DIR = Path(env_str("FIG_VAULT_DIR", str(VAR_DIR / "vault")))
    _vault_storage = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        # base_url None: the vault is never reachable through a public URL.
        "OPTIONS": {
            "location": str(FIG_VAULT_DIR),
            "base_url": None,
            "file_permissions_mode": 0o600,
            "directory_permissions_mode": 0o700,
        },
    }
elif FIG_STORAGE == "s3":
    _vault_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": env_required("FIG_S3_BUCKET", "the bucket that holds the encrypted vault"),
            "endpoint_url": env_str("FIG_S3_ENDPOINT_URL") or None,
            "region_name": env_str("FIG_S3_REGION") or None,
            "access_key": env_str("FIG_S3_ACCESS_KEY_ID") or None,
            "secret_key": env_str("FIG_S3_SECRET_ACCESS_KEY") or None,
            "default_acl": "private",
            "querystring_auth": True,
            "file_overwrite": False,
            "location": env_str("FIG_S3_PREFIX", "vault"),
        },
    }
else:
    raise ImproperlyConfigured(f"FIG_STORAGE must be 'local' or 's3', not {FIG_STORAGE!r}.")

STORAGES = {
    "default": _vault_storage,
    "vault": _vault_storage,
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
FIG_VAULT_KEYS = parse_vault_keys(env_str("FIG_VAULT_KEYS", "") or "")

# Redis is the Celery broker and the cache in production; without it the site
# runs on an embedded broker (kombu's filesystem transport) and a file cache,
# both under var/, so `make run` needs nothing but Python.
# A Redis outage takes nothing down: sessions are in the database, the cache falls back to each
# process's memory (fig_safety/cache.py), and a task that cannot be queued is left to the sweep
# that resumes its work (fig_safety/queueing.py).
REDIS_URL = env_str("REDIS_URL") or ""
# How long a web process waits for Redis to connect or answer before going on without it.
REDIS_TIMEOUT = env_int("FIG_REDIS_TIMEOUT_MS", 500, minimum=50) / 1000
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "fig_safety.cache.FailSafeRedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env_str("FIG_CACHE_PREFIX", "fig"),
            "OPTIONS": {"socket_connect_timeout": REDIS_TIMEOUT, "socket_timeout": REDIS_TIMEOUT},
        }
    }
    CELERY_BROKER_URL = REDIS_URL
    CELERY_RESULT_BACKEND = REDIS_URL
    CELERY_BROKER_CONNECTION_TIMEOUT = REDIS_TIMEOUT
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": 3600,
        "socket_connect_timeout": REDIS_TIMEOUT,
        # A publish to a broker that accepted the connection and hangs. Longer than the one second a
        # worker's wait for tasks (BRPOP) takes to answer, as the worker shares these options.
        "socket_timeout": 1 + REDIS_TIMEOUT,
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }
    _broker_dir = VAR_DIR / "celery"
    for _folder in ("queue", "processed", "results", "control"):
        ensure_dir(_broker_dir / _folder)
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
    CELERY_RESULT_BACKEND = f"file://{_broker_dir / 'results'}"
    # The filesystem transport has no fan-out exchange, so no remote control.
    CELERY_WORKER_ENABLE_REMOTE_CONTROL = False

CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ALWAYS_EAGER = env_bool("FIG_CELERY_EAGER", False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A request queueing a task with the broker away tries twice, then goes on (fig_safety/queueing.py).
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.2}
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# The beat schedule lives in code: fig_safety/celery.py (BEAT_SCHEDULE).

# Email
# Without EMAIL_URL, production hands mail to an SMTP server on this host, as
# Django does by default; a message that cannot be handed over stays in the
# outbox (staff.OutboxEmail) and is retried, so nothing is lost.
globals().update(parse_email_url(env_str("EMAIL_URL") or ("consolemail://" if DEBUG else "smtp://localhost:25")))
DEFAULT_FROM_EMAIL = env_str("DJANGO_DEFAULT_FROM_EMAIL", "FiG Safety <no-reply@fig.example.org>")
# Sent emails leave the outbox after this many days (their links sign people in or open consent forms).
FIG_OUTBOX_KEEP_DAYS = env_int("FIG_OUTBOX_KEEP_DAYS", 7, minimum=1)
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# Sessions: staff are signed out after FIG_STAFF_IDLE_MINUTES without a request.
FIG_STAFF_IDLE_MINUTES = env_int("FIG_STAFF_IDLE_MINUTES", 30, minimum=1)
SESSION_COOKIE_AGE = env_int("FIG_SESSION_DAYS", 14, minimum=1) * 24 * 3600
SESSION_COOKIE_HTTPONLY = True
# Sessions live in the database alone (one query a request), so a Redis outage signs nobody out, and
# a session ended during one is not brought back from Redis afterwards.
SESSION_ENGINE = "django.contrib.sessions.backends.db"
SESSION_COOKIE_SAMESITE = "Lax"

# Security headers. CSP allows no inline script anywhere: every script is a static file.
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", not DEBUG)
SECURE_HSTS_SECONDS = 0 if DEBUG else env_int("DJANGO_HSTS_SECONDS", 31536000, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = env_bool("DJANGO_HSTS_PRELOAD", not DEBUG)
if env_bool("DJANGO_BEHIND_TLS_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:", "blob:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
        "base-uri": [SELF],
        "object-src": [NONE],
    }
}

# Photo consent: how long a consent lasts, how long a request link works, when reminders go.
FIG_CONSENT_VALID_MONTHS = env_int("FIG_CONSENT_VALID_MONTHS", 12, minimum=1)
FIG_CONSENT_LINK_DAYS = env_int("FIG_CONSENT_LINK_DAYS", 14, minimum=1)
FIG_CONSENT_REMINDER_DAYS = env_int("FIG_CONSENT_REMINDER_DAYS", 7, minimum=1)
FIG_CONSENT_RENEWAL_DAYS = env_int("FIG_CONSENT_RENEWAL_DAYS", 30, minimum=1)
FIG_SIGNATURE_MAX_BYTES = env_int("FIG_SIGNATURE_MAX_BYTES", 300_000, minimum=10_000)
FIG_SCAN_MAX_BYTES = env_int("FIG_SCAN_MAX_BYTES", 15_000_000, minimum=100_000)
# Consent certificates (PDF) are sealed with this key and self-signed certificate (PEM files; see
# consents/certificate_seal.py). Without them, FIG_CERTIFICATE_SIGNING_GENERATE makes a pair under
# FIG_VAR_DIR once: on in debug (`make run`) and in the tests, never in production, where each server would
# make its own and certificates sealed by one would not verify on another.
FIG_CERTIFICATE_SIGNING_KEY = env_str("FIG_CERTIFICATE_SIGNING_KEY", "") or ""
FIG_CERTIFICATE_SIGNING_CERT = env_str("FIG_CERTIFICATE_SIGNING_CERT", "") or ""
if bool(FIG_CERTIFICATE_SIGNING_KEY) != bool(FIG_CERTIFICATE_SIGNING_CERT):
    raise ImproperlyConfigured("Set both FIG_CERTIFICATE_SIGNING_KEY and FIG_CERTIFICATE_SIGNING_CERT, or neither.")
FIG_CERTIFICATE_SIGNING_GENERATE = env_bool("FIG_CERTIFICATE_SIGNING_GENERATE", DEBUG)

# Photo vault: upload limits, how long things take, how long photos are kept.
FIG_PHOTO_MAX_BYTES = env_int("FIG_PHOTO_MAX_BYTES", 30_000_000, minimum=100_000)
# Largest request body (several photos sent together); larger ones get 413 before a byte is read.
FIG_REQUEST_MAX_BYTES = env_int("FIG_REQUEST_MAX_BYTES", 200_000_000, minimum=1_000_000)
# Uploads bigger than FILE_UPLOAD_MAX_MEMORY_SIZE wait here, unencrypted (GPS and all), while the
# request runs: a private folder, not the shared system temp folder.
FILE_UPLOAD_TEMP_DIR = str(ensure_private_dir(VAR_DIR / "uploads"))
FIG_PHOTO_MAX_PIXELS = env_int("FIG_PHOTO_MAX_PIXELS", 60_000_000, minimum=1_000_000)
FIG_PHOTO_FIX_TAGS_HOURS = env_int("FIG_PHOTO_FIX_TAGS_HOURS", 24, minimum=1)
FIG_DEVICE_REMINDER_HOURS = env_int("FIG_DEVICE_REMINDER_HOURS", 24, minimum=1)
FIG_DEVICE_ESCALATE_HOURS = env_int("FIG_DEVICE_ESCALATE_HOURS", 72, minimum=1)
FIG_DEVICE_BREACH_DAYS = env_int("FIG_DEVICE_BREACH_DAYS", 7, minimum=1)
FIG_WITHDRAWN_PHOTO_GRACE_DAYS = env_int("FIG_WITHDRAWN_PHOTO_GRACE_DAYS", 7, minimum=0)
FIG_PHOTO_RETENTION_DAYS = env_int("FIG_PHOTO_RETENTION_DAYS", 3 * 365, minimum=1)
# An erasure request is carried out this many days after it was recorded (consents.services.erasure),
# unless a coordinator cancels it: time to check for a legal duty to keep something, and to give the export.
FIG_ERASURE_REVIEW_DAYS = env_int("FIG_ERASURE_REVIEW_DAYS", 30, minimum=0)
# How long everything else is kept (consents.retention, hourly; docs/configuration.md has the table and the
# reasons). Six years (2190 days) is the usual time limit for bringing a claim (Limitation Act 1980).
FIG_CLOSED_FAMILY_PHOTO_DAYS = env_int("FIG_CLOSED_FAMILY_PHOTO_DAYS", 30, minimum=0)
FIG_CLOSED_FAMILY_KEEP_DAYS = env_int("FIG_CLOSED_FAMILY_KEEP_DAYS", 2190, minimum=1)
FIG_SIGNATURE_KEEP_DAYS = env_int("FIG_SIGNATURE_KEEP_DAYS", 2190, minimum=1)
FIG_INBOX_KEEP_DAYS = env_int("FIG_INBOX_KEEP_DAYS", 730, minimum=1)
FIG_WEBHOOK_KEEP_DAYS = env_int("FIG_WEBHOOK_KEEP_DAYS", 7, minimum=1)
FIG_ACCESS_LOG_KEEP_DAYS = env_int("FIG_ACCESS_LOG_KEEP_DAYS", 2190, minimum=1)
FIG_AUDIT_KEEP_DAYS = env_int("FIG_AUDIT_KEEP_DAYS", 2190, minimum=1)
# `manage.py backup --prune` deletes backups older than this beside the new one: what is erased here is gone
# from the backups within this many days too.
FIG_BACKUP_KEEP_DAYS = env_int("FIG_BACKUP_KEEP_DAYS", 30, minimum=1)

# Social media: the Meta webhook, the Graph API (optional) and the inbox clocks.
FIG_META_VERIFY_TOKEN = env_str("FIG_META_VERIFY_TOKEN", "") or ""
FIG_META_APP_SECRET = env_str("FIG_META_APP_SECRET", "") or ""
FIG_META_PAGE_TOKEN = env_str("FIG_META_PAGE_TOKEN", "") or ""
FIG_META_PAGE_ID = env_str("FIG_META_PAGE_ID", "") or ""
# The Instagram professional account linked to the Page: its id, to publish there with the Page token.
FIG_INSTAGRAM_ACCOUNT_ID = env_str("FIG_INSTAGRAM_ACCOUNT_ID", "") or ""
FIG_GRAPH_API_URL = env_str("FIG_GRAPH_API_URL", "https://graph.facebook.com/v21.0") or ""
FIG_GRAPH_TIMEOUT = env_int("FIG_GRAPH_TIMEOUT", 10, minimum=1)
# Hosts (and their subdomains) that message attachments are fetched from over https; nothing else is fetched.
FIG_META_CDN_HOSTS = env_list("FIG_META_CDN_HOSTS", ["fbcdn.net", "fbsbx.com", "cdninstagram.com", "facebook.com"])
# X (optional): FiG's own account, through OAuth 1.0a user context (social/x.py). All four, or none.
FIG_X_API_KEY = env_str("FIG_X_API_KEY", "") or ""
FIG_X_API_SECRET = env_str("FIG_X_API_SECRET", "") or ""
FIG_X_ACCESS_TOKEN = env_str("FIG_X_ACCESS_TOKEN", "") or ""
FIG_X_ACCESS_SECRET = env_str("FIG_X_ACCESS_SECRET", "") or ""
_x_missing = [
    name
    for name, value in [
        ("FIG_X_API_KEY", FIG_X_API_KEY),
        ("FIG_X_API_SECRET", FIG_X_API_SECRET),
        ("FIG_X_ACCESS_TOKEN", FIG_X_ACCESS_TOKEN),
        ("FIG_X_ACCESS_SECRET", FIG_X_ACCESS_SECRET),
    ]
    if not value
]
if 0 < len(_x_missing) < 4:  # some but not all: a deployment mistake, not a choice to leave X out
    raise ImproperlyConfigured(f"X needs all four credentials; {', '.join(_x_missing)} not set.")
# The v2 media upload is on the same host as the rest, so there is no separate upload address.
# Must be https (plain http only on loopback, for the tests' fake X); checked where it is used.
FIG_X_API_URL = env_str("FIG_X_API_URL", "https://api.x.com") or ""
FIG_X_TIMEOUT = env_int("FIG_X_TIMEOUT", 10, minimum=1)
# How long a single-use address for a platform to fetch a post's photo (Instagram) stays valid.
FIG_PUBLISH_IMAGE_LINK_MINUTES = env_int("FIG_PUBLISH_IMAGE_LINK_MINUTES", 15, minimum=1)
# A scheduled post is sent by the beat up to this long after its time; later than that it is shown as overdue
# and waits for an administrator, rather than going out late without anyone deciding so.
FIG_PUBLISH_LATE_MINUTES = env_int("FIG_PUBLISH_LATE_MINUTES", 60, minimum=5)
# The largest attachment (photo, file, audio, video) kept from a message, in bytes; larger ones are noted, not kept.
FIG_INBOX_ATTACHMENT_MAX_BYTES = env_int("FIG_INBOX_ATTACHMENT_MAX_BYTES", 25 * 1024 * 1024, minimum=1024)
# A webhook delivery with more events than this is stored and ingested by a task, not in the request.
# The largest Meta webhook delivery accepted, in bytes (Django's own 2.5 MB cap on request bodies does not apply).
FIG_WEBHOOK_MAX_BYTES = env_int("FIG_WEBHOOK_MAX_BYTES", 50 * 1024 * 1024, minimum=1024 * 1024)
FIG_WEBHOOK_INLINE_EVENTS = env_int("FIG_WEBHOOK_INLINE_EVENTS", 50, minimum=1)
FIG_INBOX_REMIND_DAYS_LEFT = env_int("FIG_INBOX_REMIND_DAYS_LEFT", 2, minimum=1)
FIG_TAKEDOWN_HOURS = env_int("FIG_TAKEDOWN_HOURS", 24, minimum=1)
# FiG's own public phone numbers, emails and handles: the contact check does not flag these.
FIG_PUBLIC_CONTACTS = env_list("FIG_PUBLIC_CONTACTS", [])
# The live policy check while drafting a post, per person (fig_safety/ratelimit.py): "20/m,300/h".
FIG_LIVE_CHECK_RATES = env_str("FIG_LIVE_CHECK_RATES", "30/m,600/h,2000/d")
# Each emailed consent link (signing and review), counted per link: past this it answers 429.
FIG_CONSENT_LINK_RATES = env_str("FIG_CONSENT_LINK_RATES", "20/m,120/h")

FIG_POLICY_FILE = env_str("FIG_POLICY_FILE", str(BASE_DIR.parent / "shared" / "policy" / "esafety-policy.txt"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "redact": {"()": "fig_safety.logging.RedactSecretsFilter"},
        "client_errors_in_one_line": {"()": "fig_safety.logging.ClientErrorsInOneLineFilter"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "filters": ["redact"]}},
    "root": {"handlers": ["console"], "level": env_str("FIG_LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # At DEBUG these print X's consumer key and access token (in the OAuth signature base string, which
        # the redacting filter cannot see into): never lower than INFO.
        "oauthlib": {"level": "INFO"},
        "requests_oauthlib": {"level": "INFO"},
        # Django's own default handler for "django" (debug only) would print request errors unredacted:
        # drop it, so they reach the root's redacting handler like everything else.
        "django": {"handlers": [], "level": "INFO", "propagate": True},
        # Where Django logs each 4xx and 5xx response: a 403 or 404 in one line, a 500 with its traceback.
        "django.request": {"filters": ["client_errors_in_one_line"]},
        # runserver's access log: through the redacting handler like everything else.
        "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
}
