"""Settings for the Idem project, read from the environment with development defaults."""

import os
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from kombu import Queue

from idem_project.startup import EnvironmentValueError

BASE_DIR = Path(__file__).resolve().parent.parent


def _wrong(name: str, form: str, value: str) -> EnvironmentValueError:
    return EnvironmentValueError(f"{name}: expected {form}, got {value!r}")


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
    raise _wrong(name, "1/0 or true/false", os.environ[name])


def env_int(
    name: str, default: int, *, form: str = "an integer", minimum: int = 0
) -> int:
    """Return ``name`` read as an integer of at least ``minimum``.

    Raise EnvironmentValueError, whose message names the variable and ``form``.
    """
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    if not value.isdecimal() or int(value) < minimum:
        raise _wrong(name, form, os.environ[name])
    return int(value)


def env_seconds(name: str, default: float) -> float:
    """Return ``name`` read as a positive number of seconds (``10``, ``2.5``)."""
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not 0 < seconds < 86400:
        raise _wrong(name, "a positive number of seconds, such as 10 or 2.5", value)
    return seconds


def env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    """Return ``name``, which must be one of ``choices`` (compared in upper case)."""
    value = os.environ.get(name, "").strip().upper()
    if not value:
        return default
    if value not in choices:
        raise _wrong(name, "one of " + ", ".join(choices), os.environ[name])
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    """Return ``name`` read as a comma-separated list."""
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


def env_database(name: str, default: str) -> dict:
    """Return the database settings of the URL in ``name``; never echo the URL."""
    try:
        return dj_database_url.parse(env_str(name, default))
    except ValueError:
        raise EnvironmentValueError(
            f"{name}: expected a database URL such as "
            "postgres://user@host:5432/name or sqlite:///path/db.sqlite3"
        ) from None


DEVELOPMENT_SECRET_KEY = "dev-only-insecure-secret-key-change-me-in-production"
DEVELOPMENT_WEBHOOK_SECRET = "dev-webhook-secret"

SECRET_KEY = env_str("SECRET_KEY", DEVELOPMENT_SECRET_KEY)
DEBUG = env_bool("DEBUG", True)
WEBHOOK_SECRET = env_str("WEBHOOK_SECRET", DEVELOPMENT_WEBHOOK_SECRET)
if not DEBUG:
    # The development values are in the repository: anyone could sign a session
    # or forge a payment event with them.
    for _name, _value, _development in (
        ("SECRET_KEY", SECRET_KEY, DEVELOPMENT_SECRET_KEY),
        ("WEBHOOK_SECRET", WEBHOOK_SECRET, DEVELOPMENT_WEBHOOK_SECRET),
    ):
        if _value == _development:
            raise EnvironmentValueError(
                f"{_name}: expected a secret value of your own when DEBUG=0, "
                "got the development value (or none)"
            )
ALLOWED_HOSTS = env_list(
    "ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"]
)
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
# In production the site is served over HTTPS (docs/operations.md): session and
# CSRF cookies never travel in clear. SECURE_COOKIES=0 for plain HTTP.
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = env_bool("SECURE_COOKIES", not DEBUG)

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
    "observability",
    "consumers",
    "outbox",
    "events",
]

# Under ASGI, Django runs every middleware above a sync-only one in sync
# mode, in one thread, and each async-mode MiddlewareMixin hook in a thread
# hop of its own. The static files middleware is sync-only and sits just
# above the key layer, so the ones above it cost no hop
# (docs/idempotency.md#under-asgi).
MIDDLEWARE = [
    "observability.middleware.ResponseCountMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "idem_project.middleware.StaticFilesMiddleware",
    "idempotency.drf.IdempotencyMiddleware",
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
    "default": env_database("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
# Seconds a statement, or a wait for a lock, may take before the request
# answers 503 (docs/operations.md). gunicorn.conf.py gives workers longer.
DATABASE_STATEMENT_TIMEOUT = env_seconds("DATABASE_STATEMENT_TIMEOUT", 10.0)
# The largest psycopg pool of one process (PostgreSQL only).
DATABASE_POOL_SIZE = env_int(
    "DATABASE_POOL_SIZE", 20, form="a whole number of connections", minimum=1
)
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    _timeout_ms = int(DATABASE_STATEMENT_TIMEOUT * 1000)
    # The pool hands out only connections that answer: a restart of PostgreSQL
    # costs no request an error (psycopg_pool's check_connection).
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    DATABASES["default"]["OPTIONS"] = {
        # One pool per process. A sync worker serves one request at a time and
        # holds one connection; an ASGI worker up to max_size (docs/operations.md).
        # min_size 0: a pool that starts filling itself while the first request
        # asks for a connection opens two. CONN_MAX_AGE must stay 0 with a pool.
        "pool": {
            "min_size": 0,
            "max_size": DATABASE_POOL_SIZE,
            # Shorter than the statement timeout: a request that cannot get a
            # connection (PostgreSQL down, or out of connections) answers 503
            # within DATABASE_STATEMENT_TIMEOUT too.
            "timeout": DATABASE_STATEMENT_TIMEOUT / 2,
        },
        "connect_timeout": max(2, int(DATABASE_STATEMENT_TIMEOUT / 2)),
        "options": f"-c statement_timeout={_timeout_ms} -c lock_timeout={_timeout_ms}",
        # With parameters bound on the server (Django's documented option, off by
        # default), psycopg prepares a statement once a connection has run it 5
        # times. Turn preparing off behind a pooler that cannot keep prepared
        # statements (PgBouncer before 1.21 in transaction mode).
        "server_side_binding": env_bool("DATABASE_SERVER_SIDE_BINDING", False),
        "prepare_threshold": 5
        if env_bool("DATABASE_PREPARED_STATEMENTS", True)
        else None,
    }
    DATABASES["default"]["TEST"] = {"NAME": env_str("DATABASE_TEST_NAME", "test_idem")}
else:
    # Writers queue on SQLite's lock instead of failing with "database is locked",
    # for as long as a statement may take on PostgreSQL.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": DATABASE_STATEMENT_TIMEOUT,
    }

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = ["accounts.backends.EmailBackend"]
# The e-mail is unique through a functional constraint on Lower("email"), which
# the check behind auth.W004 does not recognise.
SILENCED_SYSTEM_CHECKS = ["auth.W004"]
AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator",
        "OPTIONS": {"user_attributes": ("email", "name")},
    },
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Shared by every worker process and host, so a throttle counts each client's
# requests wherever they land. The table is created by core's migration.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": "idem_cache",
    }
}

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
UPLOAD_MAX_BYTES = env_int(
    "UPLOAD_MAX_BYTES",
    10 * 1024 * 1024,
    form="a whole number of bytes, such as 10485760",
    minimum=1,
)
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
# The worker reads signed payment events from this durable queue, and puts the
# messages that are not signed events on the second one.
PAYMENT_EVENTS_QUEUE = "payment-events"
# Webhook deliveries have a queue of their own, so a slow endpoint never
# delays the mail (see the Procfile); a worker started without -Q takes both.
CELERY_TASK_QUEUES = (Queue("celery"), Queue("webhooks"))
PAYMENT_EVENTS_DEAD_QUEUE = "payment-events.dead"
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

# Events and outgoing webhooks (docs/events.md).
EVENTS = {
    "WEBHOOK_TIMEOUT": env_seconds("WEBHOOK_TIMEOUT", 10.0),
    "WEBHOOK_RETRY_MAX_INTERVAL": float(
        env_int(
            "WEBHOOK_RETRY_MAX_INTERVAL",
            3600,
            form="a whole number of seconds",
            minimum=1,
        )
    ),
    "WEBHOOK_RETRY_WINDOW": float(
        env_int(
            "WEBHOOK_RETRY_WINDOW",
            3 * 24 * 60 * 60,
            form="a whole number of seconds",
            minimum=1,
        )
    ),
    "WEBHOOK_ALLOW_PRIVATE": env_bool("WEBHOOK_ALLOW_PRIVATE", False),
}

OUTBOX = {
    "RELAY_AFTER_SECONDS": env_int("OUTBOX_RELAY_AFTER", 5),
    "LEASE_SECONDS": env_int("OUTBOX_LEASE", 60),
    "GIVE_UP_AFTER_SECONDS": env_int("OUTBOX_GIVE_UP_AFTER", 24 * 60 * 60),
}

IDEMPOTENCY = {
    "TTL_SECONDS": env_int(
        "IDEMPOTENCY_KEY_TTL", 24 * 60 * 60, form="a whole number of seconds", minimum=1
    ),
    "REQUIRED_PATH_PREFIXES": tuple(env_list("IDEMPOTENCY_KEY_REQUIRED", [])),
}

# Who may read /metrics: comma-separated IP addresses or networks (10.0.0.0/8).
METRICS_ALLOWED_IPS = env_list("METRICS_ALLOWED_IPS", ["127.0.0.1", "::1"])

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "core.renderers.BrowsableAPIRenderer",
    ],
    # Never throttles: claims the Idempotency-Key after authentication.
    "DEFAULT_THROTTLE_CLASSES": ["idempotency.drf.IdempotencyGate"],
    # Failed logins per client address at POST /api/auth/token/.
    "DEFAULT_THROTTLE_RATES": {"login_failures": "10/minute"},
    # Reverse proxies in front of the app that append to X-Forwarded-For; with
    # 0 the throttle keys on the connection's address and ignores the header.
    "NUM_PROXIES": env_int("NUM_PROXIES", 0, form="a whole number of proxies"),
    "DEFAULT_PARSER_CLASSES": [
        # DRF's JSON parser but for JSON nested too deep to parse: 400, not 500.
        "core.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_SCHEMA_CLASS": "core.schema.ApiAutoSchema",
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
    "PREPROCESSING_HOOKS": ["core.schema.api_endpoints_only"],
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {
        "handlers": ["console"],
        "level": env_choice(
            "LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
        ),
    },
    # Django's own "django" handlers would print each of its records a second
    # time under DEBUG, before it reaches the root's: the root alone prints it.
    "loggers": {"django": {"handlers": [], "level": "NOTSET", "propagate": True}},
}
