"""Settings for the Idem project, read from the environment with development defaults."""

import os
from pathlib import Path

import dj_database_url
from celery.schedules import crontab

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str) -> str:
    """Return the environment variable ``name``, or ``default`` when unset or empty."""
    return os.environ.get(name) or default


def env_bool(name: str, default: bool) -> bool:
    """Return ``name`` read as a boolean (``1``/``0``, ``true``/``false``, ``yes``/``no``)."""
    value = os.environ.get(name, "").strip().lower()
    if not value:
        return default
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"{name} must be 1/0 or true/false, not {value!r}")


def env_int(name: str, default: int) -> int:
    """Return ``name`` read as an integer."""
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


def env_list(name: str, default: list[str]) -> list[str]:
    """Return ``name`` read as a comma-separated list."""
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


SECRET_KEY = env_str(
    "SECRET_KEY", "dev-only-insecure-secret-key-change-me-in-production"
)
DEBUG = env_bool("DEBUG", True)
ALLOWED_HOSTS = env_list(
    "ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"]
)
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "idempotency",
    "core",
    "accounts",
    "uploads",
    "orders",
    "webhooks",
    "outbox",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "idempotency.drf.IdempotencyMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "idem_project.urls"
WSGI_APPLICATION = "idem_project.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
    ),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Django's psycopg pool, one per worker process (sync workers use one connection;
    # the concurrency tests use one a thread). CONN_MAX_AGE must stay 0 with a pool.
    DATABASES["default"]["OPTIONS"] = {
        "pool": {
            "min_size": 1,
            "max_size": env_int("DATABASE_POOL_SIZE", 20),
            "timeout": 10,
        },
        # psycopg prepares a statement once a connection has run it 5 times. Only
        # the idempotency layer's cursor binds its parameters on the server, so
        # only its statements (the claim, the record, the read of a taken key)
        # are ever prepared; Django's own cursors bind in the client and never
        # are. Turn it off behind a pooler that cannot keep prepared statements
        # (PgBouncer before 1.21 in transaction mode).
        "prepare_threshold": 5
        if env_bool("DATABASE_PREPARED_STATEMENTS", True)
        else None,
    }
    DATABASES["default"]["TEST"] = {"NAME": env_str("DATABASE_TEST_NAME", "test_idem")}
else:
    # Writers queue on SQLite's lock instead of failing with "database is locked".
    DATABASES["default"]["OPTIONS"] = {"transaction_mode": "IMMEDIATE", "timeout": 20}

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = ["accounts.backends.EmailBackend"]
# The e-mail is unique through a functional constraint on Lower("email"), which
# the check behind auth.W004 does not recognise.
SILENCED_SYSTEM_CHECKS = ["auth.W004"]
AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"
    },
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(BASE_DIR / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Serve admin, browsable-API and Swagger UI assets straight from the apps under gunicorn,
# so a server started without collectstatic still has them.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Non-file request bodies stop at 2 MiB (413); photo files have their own limit.
DATA_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
UPLOAD_MAX_BYTES = env_int("UPLOAD_MAX_BYTES", 10 * 1024 * 1024)
FILE_UPLOAD_HANDLERS = ["uploads.upload_handlers.HashingUploadHandler"]

EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend"
)
EMAIL_FILE_PATH = env_str("EMAIL_FILE_PATH", str(BASE_DIR / "sent-mail"))
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Idem <welcome@idem.invalid>")
# The SMTP backend's server; the password never reaches a log line or the admin.
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
# Seconds a mail server may take to answer before the attempt fails and is retried.
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10)

WEBHOOK_SECRET = env_str("WEBHOOK_SECRET", "dev-webhook-secret")

# Background work. Without CELERY_BROKER_URL the worker, the scheduler and the
# web processes of one machine share kombu's filesystem transport under var/.
VAR_DIR = Path(env_str("VAR_DIR", str(BASE_DIR / "var")))
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(VAR_DIR / "broker" / "queue"),
        "data_folder_out": str(VAR_DIR / "broker" / "queue"),
        "control_folder": str(VAR_DIR / "broker" / "control"),
        "store_processed": False,
    }
    # kombu creates none of these folders; every process that uses the
    # transport (web, worker, scheduler) may be the first to start.
    for _folder in ("queue", "control"):
        (VAR_DIR / "broker" / _folder).mkdir(parents=True, exist_ok=True)
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE = {
    "outbox-relay": {
        "task": "outbox.relay",
        "schedule": float(env_int("OUTBOX_RELAY_INTERVAL", 15)),
    },
    "idempotency-purge": {
        "task": "idempotency.purge_expired_keys",
        "schedule": crontab(hour=3, minute=30),
    },
}

OUTBOX = {
    "RELAY_AFTER_SECONDS": env_int("OUTBOX_RELAY_AFTER", 5),
    "LEASE_SECONDS": env_int("OUTBOX_LEASE", 60),
    "GIVE_UP_AFTER_SECONDS": env_int("OUTBOX_GIVE_UP_AFTER", 24 * 60 * 60),
}

IDEMPOTENCY = {
    "TTL_SECONDS": env_int("IDEMPOTENCY_KEY_TTL", 24 * 60 * 60),
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # Never throttles: claims the Idempotency-Key after authentication.
    "DEFAULT_THROTTLE_CLASSES": ["idempotency.drf.IdempotencyGate"],
    "DEFAULT_SCHEMA_CLASS": "idempotency.schema.IdempotencyAutoSchema",
    "EXCEPTION_HANDLER": "core.exception_handler.api_exception_handler",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Idem API",
    "DESCRIPTION": "Create endpoints that are safe to retry.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}
