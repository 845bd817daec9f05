"""Settings of the Django peer: django-invitations as a Django shop would deploy it.

Django's deployment checklist (`manage.py check --deploy`) is followed, except where it
asks for HTTPS: the benchmark talks plain HTTP on loopback, so SECURE_SSL_REDIRECT stays off
(a redirect to https would answer every request with 301). The other HTTPS-only settings
are kept at their production values: they only add attributes to Set-Cookie (Secure) or
headers that Django sends on secure requests only (HSTS), so they change nothing here.
"""

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent

# A fixed key so that the session made by session.py is valid in every gunicorn worker.
# It guards nothing but throw-away benchmark databases; PEER_SECRET_KEY overrides it.
SECRET_KEY = os.environ.get(
    "PEER_SECRET_KEY",
    "b7Qv9tXz2LmR4kWp8NcY3sHd6JfG1aUe5oIy0rTq7ZxVbMnK2jLh9gFd4sAp3wEr",
)
DEBUG = False
ALLOWED_HOSTS = ["localhost", "127.0.0.1", "[::1]"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "invitations",
    "peer",
]

MIDDLEWARE = [  # django-admin startproject's list
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "peer.urls"
WSGI_APPLICATION = "peer.wsgi.application"

TEMPLATES = [
    {
        # With DEBUG off and no explicit loaders, Django wraps the app-directories loader in
        # its cached loader: templates are compiled once per worker.
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

# SQLite in WAL mode, with the same durability as Tether (synchronous = FULL: each commit
# survives a power cut) and the same 5 s busy timeout. init_command (Django 5.1+) runs on
# every new connection. Connections are kept open across requests (CONN_MAX_AGE), as the
# deployment checklist recommends, so the pragmas run once per worker, not per request.
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ["PEER_DATABASE"],
        "CONN_MAX_AGE": None,
        "OPTIONS": {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;",
            "timeout": 5,
        },
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Default password hashers (PBKDF2) and the validators startproject ships.
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"

# Production security settings (check --deploy). Plain HTTP on loopback: no HTTPS redirect.
SECURE_SSL_REDIRECT = False
SILENCED_SYSTEM_CHECKS = ["security.W008"]  # that redirect, deliberately off (see above)
SECURE_HSTS_SECONDS = 31536000  # sent on HTTPS requests only, so inert here
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SESSION_COOKIE_SECURE = True  # only marks the cookie Secure; wrk sends it regardless
CSRF_COOKIE_SECURE = True
X_FRAME_OPTIONS = "DENY"

# Creating an invitation sends its email, as the product does; the locmem backend keeps the
# message in the worker's memory (django.core.mail.outbox) instead of talking to an SMTP
# server. Rendering the templates and building the MIME message (locmem calls
# message.message(), as the SMTP backend would) still happen on every invite. The outbox
# keeps every message, so a worker grows by a few KiB per invite it sends: harmless for
# benchmark runs of seconds, not for days.
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
DEFAULT_FROM_EMAIL = "invites@peer.example.com"

# django-invitations. Its AcceptInvite accepts the invitation on GET (or 404s on GET when
# CONFIRM_INVITE_ON_GET is off); the invite page is peer.views.InvitePage, see README.md.
INVITATIONS_INVITATION_EXPIRY = 3  # days (the default)
INVITATIONS_GONE_ON_ACCEPT_ERROR = True  # the default: 410 for a bad, used or expired key
INVITATIONS_SIGNUP_REDIRECT = "login"  # no allauth: there is no "account_signup" view

LOGGING = {  # errors (5xx) to stderr; nothing per request
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"stderr": {"class": "logging.StreamHandler", "level": "ERROR"}},
    "loggers": {"django": {"handlers": ["stderr"], "level": "ERROR"}},
}
