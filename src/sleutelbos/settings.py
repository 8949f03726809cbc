"""All configuration of Sleutelbos, read from the environment in one place.

Development defaults are safe: an SQLite database and a generated secret key under ``var/`` (git-ignored), DEBUG off
unless asked for. Production sets ``DATABASE_URL``, ``SECRET_KEY`` and ``ALLOWED_HOSTS``.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import dj_database_url
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent
VAR_DIR = Path(os.environ.get("SLEUTELBOS_VAR_DIR", Path.cwd() / "var")).resolve()
VAR_DIR.mkdir(parents=True, exist_ok=True)


def env_bool(name: str, default: bool = False) -> bool:
    """Read a boolean from the environment ("1", "true", "yes", "on" are true)."""
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    """Read a comma-separated list from the environment."""
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def _secret_key() -> str:
    """SECRET_KEY from the environment, or one generated once into var/ for development."""
    if key := os.environ.get("SECRET_KEY"):
        return key
    path = VAR_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(64))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = env_bool("DEBUG")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_tasks",
    "django_tasks_db",
    "sleutelbos.audit",
    "sleutelbos.mail",
    "sleutelbos.catalogue",
    "sleutelbos.organisations",
    "sleutelbos.identity",
    "sleutelbos.mandates",
    "sleutelbos.requests",
    "sleutelbos.api",
    "sleutelbos.saml",
    "sleutelbos.portal",
    "sleutelbos.demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "sleutelbos.security.ContentSecurityPolicyMiddleware",
    # SOAP from service providers' servers: answered here, without session, person, CSRF or language.
    "sleutelbos.saml.middleware.ArtifactResolutionMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    # Django's, taking the person read with the session (identity/session_backend.py).
    "sleutelbos.identity.session_backend.AuthenticationMiddleware",
    "sleutelbos.identity.sessions.SessionLimitsMiddleware",
    "sleutelbos.identity.language.RememberLanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Innermost: the page as rendered, before Django's middleware sets its length.
    "sleutelbos.typography.SingleFullStopMiddleware",
]

ROOT_URLCONF = "sleutelbos.urls"
WSGI_APPLICATION = "sleutelbos.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'sleutelbos.sqlite3'}"),
        conn_max_age=int(os.environ.get("DATABASE_CONN_MAX_AGE", "60")),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets readers work while a writer commits; IMMEDIATE avoids "database is locked" on upgrade to write.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
        "transaction_mode": "IMMEDIATE",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# The decision query is prepared once per PostgreSQL connection; turn off behind a transaction-pooling proxy.
SLEUTELBOS_PREPARED_DECISIONS = env_bool("SLEUTELBOS_PREPARED_DECISIONS", default=True)

AUTH_USER_MODEL = "identity.Person"
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
LOGIN_URL = "identity:login"
LOGIN_REDIRECT_URL = "identity:account"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "nl"
LANGUAGES = [("nl", _("Dutch")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = os.environ.get("TIME_ZONE", "Europe/Amsterdam")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]

# Security: cookies only over HTTPS unless explicitly developing over plain HTTP.
SECURE_COOKIES = env_bool("SECURE_COOKIES", default=not DEBUG)
SESSION_COOKIE_SECURE = SECURE_COOKIES
CSRF_COOKIE_SECURE = SECURE_COOKIES
SESSION_COOKIE_HTTPONLY = True
# Sessions live at most 12 hours and end after 30 minutes without a request (OWASP ASVS 3.3, level 2);
# SessionLimitsMiddleware enforces both, the cookie ends with the browser.
SESSION_COOKIE_AGE = 12 * 3600
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
# Sessions are kept in the database. With SLEUTELBOS_REDIS_URL (redis://host:port/db, needs the redis package)
# Redis is the cache and sessions are read from it (written to both): a request reads no session row. Without a
# shared cache the database stays the only store: a local-memory cache is per process, so a session ended in one
# worker would live on in another.
SLEUTELBOS_REDIS_URL = os.environ.get("SLEUTELBOS_REDIS_URL", "")
# Without Redis: the database engine, reading the session row and its person in one statement.
SESSION_ENGINE = "sleutelbos.identity.session_backend"
if SLEUTELBOS_REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": SLEUTELBOS_REDIS_URL,
            "KEY_PREFIX": os.environ.get("SLEUTELBOS_CACHE_PREFIX", "sleutelbos"),
        }
    }
    SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
SLEUTELBOS_SESSION_IDLE_SECONDS = int(os.environ.get("SLEUTELBOS_SESSION_IDLE_SECONDS", str(30 * 60)))
SLEUTELBOS_SESSION_ABSOLUTE_SECONDS = int(os.environ.get("SLEUTELBOS_SESSION_ABSOLUTE_SECONDS", str(12 * 3600)))
# Failed logins allowed per hour (ASVS 2.2.1), per account and per client address.
SLEUTELBOS_LOGIN_FAILURES_PER_ACCOUNT = int(os.environ.get("SLEUTELBOS_LOGIN_FAILURES_PER_ACCOUNT", "100"))
SLEUTELBOS_LOGIN_FAILURES_PER_ADDRESS = int(os.environ.get("SLEUTELBOS_LOGIN_FAILURES_PER_ADDRESS", "300"))
# Whether a mandate manager of the organisation may sign a request instead of a KvK representative.
SLEUTELBOS_MANAGERS_MAY_SIGN = env_bool("SLEUTELBOS_MANAGERS_MAY_SIGN")
# Days an activation link works.
SLEUTELBOS_ACTIVATION_DAYS = int(os.environ.get("SLEUTELBOS_ACTIVATION_DAYS", "7"))
# WebAuthn relying party; empty: the host name the browser used.
SLEUTELBOS_WEBAUTHN_RP_ID = os.environ.get("SLEUTELBOS_WEBAUTHN_RP_ID", "")
SLEUTELBOS_WEBAUTHN_ORIGIN = os.environ.get("SLEUTELBOS_WEBAUTHN_ORIGIN", "")
SESSION_COOKIE_SAMESITE = "Lax"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT")
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "0"))
if SECURE_SSL_REDIRECT:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Mail goes out through the outbox (sleutelbos.mail) and a task worker (`sleutelbos worker`). Development prints
# mail on the worker's console; production sets EMAIL_BACKEND=django.core.mail.backends.smtp.EmailBackend.
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS")
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL")
EMAIL_TIMEOUT = int(os.environ.get("EMAIL_TIMEOUT", "10"))
# Background tasks: the database backend (tasks commit with the change that queues them). Tests run them at once.
TASKS = {
    "default": {
        "BACKEND": os.environ.get("SLEUTELBOS_TASKS_BACKEND", "django_tasks_db.DatabaseBackend"),
    }
}
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Sleutelbos <noreply@sleutelbos.localhost>")
# Where Sleutelbos is reached from outside: the links in mails (signing links, requests) start with it.
SLEUTELBOS_BASE_URL = os.environ.get("SLEUTELBOS_BASE_URL", "http://127.0.0.1:8000")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["sleutelbos.api.authentication.ApiTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["sleutelbos.api.permissions.HasApiToken"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "sleutelbos.api.pagination.Pagination",
    "DEFAULT_FILTER_BACKENDS": [],
    "EXCEPTION_HANDLER": "sleutelbos.api.errors.problem_exception_handler",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "PAGE_SIZE": 50,
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_THROTTLE_RATES": {},
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Sleutelbos API",
    "DESCRIPTION": "The catalogue, organisations, people, mandates and the decision engine of Sleutelbos.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Deep links put a link inside each operation's button: nested interactive controls (WCAG 4.1.2).
    "SWAGGER_UI_SETTINGS": {"deepLinking": False},
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}

# Second factors. One-time codes by text message go through this sender; the default appends them to a file for
# development.
SLEUTELBOS_SMS_SENDER = os.environ.get("SLEUTELBOS_SMS_SENDER", "sleutelbos.identity.senders.FileSmsSender")
SLEUTELBOS_SMS_FILE = Path(os.environ.get("SLEUTELBOS_SMS_FILE", VAR_DIR / "sms.log"))

# The KvK register (organisations.kvk): "file" (default) reads JSON register files, "http" the KvK API; an import path
# names another KvkRegister class. SLEUTELBOS_KVK_FILE is one file or "path1,path2": a later file adds organisations
# and replaces those with the same KvK number, so an operator extends the shipped register by listing it first.
SLEUTELBOS_KVK_SOURCE = os.environ.get("SLEUTELBOS_KVK_SOURCE", "file")
SLEUTELBOS_KVK_FILE = os.environ.get(
    "SLEUTELBOS_KVK_FILE", str(BASE_DIR / "organisations" / "fixtures" / "kvk-register.json")
)
SLEUTELBOS_KVK_API_URL = os.environ.get("SLEUTELBOS_KVK_API_URL", "https://api.kvk.nl/api")
# Never a default: the key comes from the environment only.
SLEUTELBOS_KVK_API_KEY = os.environ.get("SLEUTELBOS_KVK_API_KEY", "")
SLEUTELBOS_KVK_TIMEOUT = float(os.environ.get("SLEUTELBOS_KVK_TIMEOUT", "5"))

# The broker's SAML identity (saml.idp). Without key paths a development key and certificate are generated once under
# var/saml/ (never committed). SAML_IDP_NEXT_CERT publishes a second certificate during a key rollover.
SAML_IDP_OIN = os.environ.get("SAML_IDP_OIN", "")
SAML_IDP_ENTITY_INDEX = int(os.environ.get("SAML_IDP_ENTITY_INDEX", "0"))
SAML_IDP_SIGNING_KEY = os.environ.get("SAML_IDP_SIGNING_KEY", "")
SAML_IDP_SIGNING_CERT = os.environ.get("SAML_IDP_SIGNING_CERT", "")
SAML_IDP_NEXT_CERT = os.environ.get("SAML_IDP_NEXT_CERT", "")
SAML_IDP_BASE_URL = os.environ.get("SAML_IDP_BASE_URL", "")
