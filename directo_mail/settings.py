"""Django settings for directo_mail; every value comes from directo_mail.env."""

from __future__ import annotations

from datetime import timedelta

from django.utils.translation import gettext_lazy as _

from directo_mail.env import BASE_DIR, VAR_DIR, env, is_development, proxy_ssl_header

# --- GENERAL -------------------------------------------------------------------------------
DEVELOPMENT = is_development()
DEBUG = env.bool("DJANGO_DEBUG", default=DEVELOPMENT)
SECRET_KEY = env.str(
    "DJANGO_SECRET_KEY",
    default="development-only-secret-key-not-for-production" if DEVELOPMENT else "",
)
ALLOWED_HOSTS = env.list(
    "DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"] if DEVELOPMENT else []
)
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "axes",
    "directo_mail",
    "users",
    "events",
    "oauth365",
    "mailer",
    "massmail",
    "customers",
    "invoices",
    "letters",
    "deliverability",
    "portal",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # The switcher's cookie, then Accept-Language, then LANGUAGE_CODE (directo_mail.language).
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # The signed-in user's card language wins over the browser's (SPEC.md "Languages").
    "directo_mail.language.CardLanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last: it turns a locked-out sign-in into the lockout page (directo_mail.throttle).
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "directo_mail.urls"
WSGI_APPLICATION = "directo_mail.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        # Each app keeps its templates (<app>/templates/<app>/), so its catalog holds their text.
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.i18n",
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# The interface languages (users.models.Language has the same codes); English when neither the
# card nor the browser names one of them. Catalogs: locale/ here and each app's own locale/.
LANGUAGE_CODE = "en"
LANGUAGES = [
    ("en", _("English")),
    ("et", _("Estonian")),
    ("lv", _("Latvian")),
    ("pl", _("Polish")),
]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env.str("DJANGO_TIME_ZONE", default="Europe/Tallinn")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env.str("DJANGO_STATIC_ROOT", default=str(BASE_DIR / "staticfiles"))

LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/personal/user/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

# Sign-in throttling (django-axes in the database; password resets in the cache): after
# AUTH_LOCKOUT_ATTEMPTS failures for one account, or from one IP, sign-in is blocked for
# AUTH_LOCKOUT_MINUTES.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_LOCKOUT_ATTEMPTS = env.int("AUTH_LOCKOUT_ATTEMPTS", default=5)
AUTH_LOCKOUT_MINUTES = env.int("AUTH_LOCKOUT_MINUTES", default=15)
# Proxies in front of the app that append to X-Forwarded-For (0: the peer address is the client).
AUTH_LOCKOUT_PROXY_COUNT = env.int("AUTH_LOCKOUT_PROXY_COUNT", default=0)
AXES_FAILURE_LIMIT = AUTH_LOCKOUT_ATTEMPTS
AXES_COOLOFF_TIME = timedelta(minutes=AUTH_LOCKOUT_MINUTES)
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]  # each on its own, not the pair
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "directo_mail.throttle.client_ip"
AXES_LOCKOUT_CALLABLE = "directo_mail.throttle.lockout_response"
# Failures only: no row (IP, user agent) for every successful sign-in.
AXES_DISABLE_ACCESS_LOG = True

# The Microsoft 365 popup must keep its opener: Django's default "same-origin" cuts it off.
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin-allow-popups"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env.bool("DJANGO_SECURE_COOKIES", default=not DEVELOPMENT)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
# HTTPS outside development: redirect plain HTTP and send HSTS (a year; preload is opt-in).
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=not DEVELOPMENT)
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=0 if DEVELOPMENT else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool(
    "DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEVELOPMENT
)
SECURE_HSTS_PRELOAD = env.bool("DJANGO_SECURE_HSTS_PRELOAD", default=False)
# Behind a TLS-terminating proxy: "HTTP_X_FORWARDED_PROTO,https" (the proxy must overwrite it).
SECURE_PROXY_SSL_HEADER = proxy_ssl_header(env.list("DJANGO_SECURE_PROXY_SSL_HEADER", default=[]))

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Error reports (and the debug page) hide URL passwords and secret-named settings in every mode.
DEFAULT_EXCEPTION_REPORTER_FILTER = "directo_mail.reporting.CredentialSafeExceptionReporterFilter"

# --- DATABASES -----------------------------------------------------------------------------
DATABASES = {"default": env.db("DATABASE_URL")}
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DJANGO_CONN_MAX_AGE", default=0))
# A connection kept across requests or tasks is checked before its first use, so that one cut
# by a database restart is replaced instead of failing that request or task.
DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    VAR_DIR.mkdir(exist_ok=True)
    # The embedded database is shared by the web server and the worker process.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"}
    )

# The cache holds rate limits and DNS answers; share it (Redis) when several processes serve.
CACHES = {"default": env.cache_url("DJANGO_CACHE_URL", default="locmemcache://")}

# --- MAIL ----------------------------------------------------------------------------------
PLATFORM_RELAY_URL = env.str("PLATFORM_RELAY_URL")
EVENT_MAILBOX_DOMAIN = env.str("EVENT_MAILBOX_DOMAIN")
PLATFORM_OUTBOUND_IPS = env.list("PLATFORM_OUTBOUND_IPS")
MAILER_CA_BUNDLE = env.str("MAILER_CA_BUNDLE")
MAILER_ALLOW_PRIVATE_HOSTS = env.bool("MAILER_ALLOW_PRIVATE_HOSTS")
MAILER_DNS_NAMESERVERS = env.list("MAILER_DNS_NAMESERVERS")
MAILER_TIMEOUT = env.float("MAILER_TIMEOUT", default=30.0)
# A worker that stops refreshing its connection slot (it died) loses the slot after this long.
MAILER_SLOT_TTL = env.float("MAILER_SLOT_TTL")
# Limits per provider (massmail.limits), the first matching host pattern wins (fnmatch, any case):
# "rates" are [count, seconds] sliding windows, "connections" the concurrent sessions per
# mailbox, "quota_pause" how long a quota answer (5.2.0 SubmissionQuotaExceeded) pauses it.
_DAY = 86400
MAILER_PROVIDER_LIMITS = [
    {
        "name": "microsoft365",
        "hosts": ["smtp.office365.com", "*.office365.com", "*.outlook.com"],
        "rates": [[30, 60], [10000, _DAY]],
        "connections": 3,
        "quota_pause": _DAY,
    },
    {
        "name": "zone",
        "hosts": ["smtp.zone.eu", "smtp.zone.ee"],
        "rates": [[1, 5]],
        "connections": 1,
        "quota_pause": 3600,
    },
    {
        "name": "gmail",
        "hosts": ["smtp.gmail.com", "smtp.googlemail.com"],
        "rates": [[2000, _DAY]],
        "connections": 3,
        "quota_pause": _DAY,
    },
    {"name": "default", "hosts": ["*"], "rates": [], "connections": 4, "quota_pause": 3600},
]
# The event mailbox (deliverability): limits per client, message size, how long mail is kept.
EVENT_MAILBOX_CONNECTIONS_PER_CLIENT = env.int("EVENT_MAILBOX_CONNECTIONS_PER_CLIENT", default=10)
EVENT_MAILBOX_MESSAGES_PER_MINUTE = env.int("EVENT_MAILBOX_MESSAGES_PER_MINUTE", default=60)
EVENT_MAILBOX_MAX_MESSAGE_SIZE = env.int("EVENT_MAILBOX_MAX_MESSAGE_SIZE", default=10 * 1024 * 1024)
EVENT_MAILBOX_RETENTION_DAYS = env.int("EVENT_MAILBOX_RETENTION_DAYS", default=90)
EVENT_MAILBOX_UNATTRIBUTED_LIMIT = env.int("EVENT_MAILBOX_UNATTRIBUTED_LIMIT", default=10_000)
# Django 6.1 mailers: "default" serves Django's own mail (password resets, error reports).
MAILERS = {
    "default": {
        "BACKEND": env.str(
            "DJANGO_EMAIL_BACKEND",
            default="django.core.mail.backends.console.EmailBackend"
            if DEVELOPMENT
            else "django.core.mail.backends.smtp.EmailBackend",
        ),
    },
    # Mail sent on behalf of a user goes through that user's resolved card settings.
    "usercard": {"BACKEND": "mailer.backends.UserCardEmailBackend"},
}
DEFAULT_FROM_EMAIL = env.str("DJANGO_DEFAULT_FROM_EMAIL", default="webmaster@localhost")

# --- CELERY --------------------------------------------------------------------------------
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL")
if CELERY_BROKER_URL.startswith("filesystem://"):
    # The embedded broker: Kombu's filesystem transport needs no server, only shared folders.
    _broker_dir = VAR_DIR / "broker"
    for _sub in ("queue", "processed", "control"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "control_folder": str(_broker_dir / "control"),
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "store_processed": False,
    }
else:
    # Redis: keep-alives and a periodic health check notice a restarted server; a timeout
    # is retried instead of failing a publish.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": 3600,
        "socket_keepalive": True,
        "retry_on_timeout": True,
        "health_check_interval": 10,
    }
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Workers and beat wait for a restarted broker as long as it takes (Celery gives up after 100
# tries by default), and a running dispatch task is not cancelled meanwhile: its rows are
# fenced in the database, and cancelling it mid-DATA would leave an `unknown` message.
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = False
# Publishing a task while the broker is down is retried for about two seconds, then fails;
# the caller reports it and the tick queues the work again.
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 3,
    "interval_start": 0.2,
    "interval_step": 0.5,
    "interval_max": 1.0,
}
CELERY_TIMEZONE = TIME_ZONE
MAILER_TICK_SECONDS = env.float("MAILER_TICK_SECONDS", default=30.0)
# Redis for provider limits shared by all workers; default: the Celery broker when it is Redis.
MAILER_LIMITS_REDIS_URL = env.str("MAILER_LIMITS_REDIS_URL", default="")
CELERY_BEAT_SCHEDULE = {
    # Redeems idle Microsoft 365 refresh tokens (they lapse after 90 idle days) and warns early.
    "oauth365-tokens-keep-fresh": {"task": "oauth365.tokens_keep_fresh", "schedule": 6 * 3600},
    # Mass mail: reaps expired leases and wakes jobs whose retries are due (massmail.tasks).
    "massmail-tick": {"task": "massmail.tick", "schedule": MAILER_TICK_SECONDS},
    # Deletes event mailbox mail older than EVENT_MAILBOX_RETENTION_DAYS (deliverability.tasks).
    "deliverability-inbound-mail-purge": {
        "task": "deliverability.inbound_mail_purge",
        "schedule": 6 * 3600,
    },
    # Deletes stored invoice PDFs that no invoice's current content names (invoices.tasks).
    "invoices-stored-documents-purge": {
        "task": "invoices.stored_documents_purge",
        "schedule": 24 * 3600,
    },
}

# --- OAUTH365 ------------------------------------------------------------------------------
OAUTH365_CLIENT_ID = env.str("OAUTH365_CLIENT_ID")
OAUTH365_CLIENT_SECRET = env.str("OAUTH365_CLIENT_SECRET")
OAUTH365_AUTHORITY = env.str("OAUTH365_AUTHORITY")
OAUTH365_REDIRECT_URI = env.str("OAUTH365_REDIRECT_URI")

# --- CRYPTO --------------------------------------------------------------------------------
# Comma-separated Fernet keys; the first encrypts, all decrypt. Read lazily by users.crypto.
FIELD_ENCRYPTION_KEYS = env.list("FIELD_ENCRYPTION_KEYS")
# Development only: a random key kept beside the embedded database (never derived from
# SECRET_KEY) so that `bin/run` works without configuration.
FIELD_ENCRYPTION_DEV_KEY_FILE = VAR_DIR / "dev-field-encryption.key"

# --- LOGGING -------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("DJANGO_LOG_LEVEL", default="INFO")},
    "loggers": {
        # Never log request bodies or SMTP conversations: they carry secrets.
        "django.request": {"level": "ERROR"},
        "mail.log": {"level": "WARNING"},
        # fontTools reports every font subset at INFO: thousands of lines per invoice job.
        "fontTools": {"level": "WARNING"},
    },
}
