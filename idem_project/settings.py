"""Settings for the Idem project, read from the environment with development defaults."""

from datetime import timedelta
from pathlib import Path

from kombu import Queue

from idem_project.database import connection_settings
from idem_project.env import (
    env_bool,
    env_broker,
    env_choice,
    env_count,
    env_database,
    env_fallbacks,
    env_int,
    env_list,
    env_networks,
    env_paths,
    env_port,
    env_retention_days,
    env_seconds,
    env_secret,
    env_str,
    env_whole_seconds,
)

BASE_DIR = Path(__file__).resolve().parent.parent

DEVELOPMENT_SECRET_KEY = "dev-only-insecure-secret-key-change-me-in-production"
DEVELOPMENT_WEBHOOK_SECRET = "dev-webhook-secret"

DEBUG = env_bool("DEBUG", True)
SECRET_KEY = env_secret("SECRET_KEY", DEVELOPMENT_SECRET_KEY, required=not DEBUG)
SECRET_KEY_FALLBACKS = env_fallbacks(
    "SECRET_KEY_FALLBACKS", DEVELOPMENT_SECRET_KEY, required=not DEBUG
)
WEBHOOK_SECRET = env_secret(
    "WEBHOOK_SECRET", DEVELOPMENT_WEBHOOK_SECRET, required=not DEBUG
)
ALLOWED_HOSTS = env_list(
    "ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"]
)
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
# Cookies only over HTTPS in production (docs/operations.md); 0 for plain HTTP.
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
    "axes",
    "events",
]

# Under ASGI the middleware above the sync-only static files middleware runs
# in sync mode, in one thread: no thread hop each (docs/idempotency.md#under-asgi).
MIDDLEWARE = [
    "observability.middleware.ResponseCountMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",
    "idem_project.middleware.StaticFilesMiddleware",
    "idempotency.drf.IdempotencyMiddleware",
]

ROOT_URLCONF = "idem_project.urls"
WSGI_APPLICATION = "idem_project.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
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
DATABASE_POOL_SIZE = env_count("DATABASE_POOL_SIZE", 20, "connections")
# Behind PgBouncer in transaction mode: no session state, the timeouts set by
# each transaction (core/pooling.py, docs/scaling.md).
DATABASE_TRANSACTION_POOLING = env_bool("DATABASE_TRANSACTION_POOLING", False)
# Processes on every host together that connect; core.W001 checks it times
# DATABASE_POOL_SIZE against the database's limit (docs/scaling.md).
DATABASE_MAX_PROCESSES = env_count("DATABASE_MAX_PROCESSES", 1, "processes")
DATABASES["default"] |= connection_settings(
    DATABASES["default"]["ENGINE"],
    statement_timeout=DATABASE_STATEMENT_TIMEOUT,
    pool_size=DATABASE_POOL_SIZE,
    transaction_pooling=DATABASE_TRANSACTION_POOLING,
    # On by default on direct PostgreSQL, off behind a transaction pooler.
    server_side_binding=env_bool(
        "DATABASE_SERVER_SIDE_BINDING", not DATABASE_TRANSACTION_POOLING
    ),
    prepared_statements=env_bool("DATABASE_PREPARED_STATEMENTS", True),
    test_name=env_str("DATABASE_TEST_NAME", "test_idem"),
)

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "accounts.backends.EmailBackend",
]
# Failed logins per client address, counted by django-axes (docs/operations.md).
AXES_FAILURE_LIMIT = 10
AXES_COOLOFF_TIME = timedelta(minutes=1)
AXES_LOCKOUT_PARAMETERS = ["ip_address"]
AXES_CLIENT_IP_CALLABLE = "accounts.lockout.client_address"
AXES_VERBOSE = False  # no banner on every start
# auth.W004 cannot see the e-mail's unique constraint on Lower("email").
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

# Shared by every process and host; core's migration creates the table.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": "idem_cache",
    }
}

TIME_ZONE = "UTC"  # LANGUAGE_CODE en-us, USE_I18N and USE_TZ: Django's defaults

STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(BASE_DIR / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Static assets straight from the apps: no collectstatic needed under gunicorn.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Non-file request bodies stop at 2 MiB (413); photo files have their own limit.
DATA_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
UPLOAD_MAX_BYTES = env_count("UPLOAD_MAX_BYTES", 10 * 2**20, "bytes, such as 10485760")
FILE_UPLOAD_HANDLERS = ["uploads.upload_handlers.HashingUploadHandler"]

EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend"
)
EMAIL_FILE_PATH = env_str("EMAIL_FILE_PATH", str(BASE_DIR / "sent-mail"))
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Idem <welcome@idem.invalid>")
# The SMTP backend's server; the password never reaches a log line or the admin.
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_port("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
# Seconds a mail server may take to answer before the attempt fails and is retried.
EMAIL_TIMEOUT = env_whole_seconds("EMAIL_TIMEOUT", 10)

# Without CELERY_BROKER_URL, one machine's processes share kombu's filesystem
# transport under VAR_DIR.
VAR_DIR = Path(env_str("VAR_DIR", str(BASE_DIR / "var")))
CELERY_BROKER_URL, CELERY_BROKER_TRANSPORT_OPTIONS = env_broker(
    "CELERY_BROKER_URL", "filesystem://", folder=VAR_DIR / "broker"
)
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# Signed payment events for the worker, and the messages that are not ones.
PAYMENT_EVENTS_QUEUE = "payment-events"
# Webhook deliveries have a queue of their own, so a slow endpoint never
# delays the mail (see the Procfile); a worker started without -Q takes both.
CELERY_TASK_QUEUES = (Queue("celery"), Queue("webhooks"))
PAYMENT_EVENTS_DEAD_QUEUE = "payment-events.dead"
# The purges' fixed times are in idem_project/celery.py.
CELERY_BEAT_SCHEDULE = {
    "outbox-relay": {
        "task": "outbox.relay",
        "schedule": float(env_whole_seconds("OUTBOX_RELAY_INTERVAL", 15)),
    },
}

# Events and outgoing webhooks (docs/events.md).
EVENTS = {
    "WEBHOOK_TIMEOUT": env_seconds("WEBHOOK_TIMEOUT", 10.0),
    "WEBHOOK_RETRY_MAX_INTERVAL": env_whole_seconds("WEBHOOK_RETRY_MAX_INTERVAL", 3600),
    "WEBHOOK_RETRY_WINDOW": env_whole_seconds("WEBHOOK_RETRY_WINDOW", 3 * 24 * 60 * 60),
    "WEBHOOK_ENDPOINT_CONCURRENCY": env_count(
        "WEBHOOK_ENDPOINT_CONCURRENCY", 2, "attempts"
    ),
    "WEBHOOK_ALLOW_PRIVATE": env_bool("WEBHOOK_ALLOW_PRIVATE", False),
}

OUTBOX = {
    "RELAY_AFTER_SECONDS": env_whole_seconds("OUTBOX_RELAY_AFTER", 5),
    "LEASE_SECONDS": env_whole_seconds("OUTBOX_LEASE", 60),
    "GIVE_UP_AFTER_SECONDS": env_whole_seconds("OUTBOX_GIVE_UP_AFTER", 24 * 60 * 60),
}
OUTBOX["RETENTION_DAYS"] = env_retention_days(
    "OUTBOX_RETENTION_DAYS", longest_retry_seconds=OUTBOX["GIVE_UP_AFTER_SECONDS"]
)

IDEMPOTENCY = {
    "TTL_SECONDS": env_whole_seconds("IDEMPOTENCY_KEY_TTL", 24 * 60 * 60),
    "REQUIRED_PATH_PREFIXES": tuple(env_paths("IDEMPOTENCY_KEY_REQUIRED")),
}

# Who may read /metrics: comma-separated IP addresses or networks (10.0.0.0/8).
METRICS_ALLOWED_IPS = env_networks("METRICS_ALLOWED_IPS", ["127.0.0.1", "::1"])
# Where every process of this host writes its metric values (idem_project/startup.py).
METRICS_DIRECTORY = Path(env_str("PROMETHEUS_MULTIPROC_DIR", str(VAR_DIR / "metrics")))

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
    # Proxies in front that append to X-Forwarded-For (0: the header is ignored).
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
    # Under DEBUG, Django's own handlers would print each record a second time.
    "loggers": {"django": {"handlers": [], "level": "NOTSET", "propagate": True}},
}
