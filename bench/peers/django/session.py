"""Signs the peer's `admin` in and prints what wrk needs to act as that admin.

Usage: PEER_DATABASE=FILE python session.py   (after seed.py, with the venv's python)
Prints two shell assignments, for `eval "$(python session.py)"`:
  COOKIE='sessionid=…; csrftoken=…'   the Cookie header value
  CSRF='…'                             the matching (masked) CSRF token for the form field
The session is made by django.contrib.auth's login() (password checked, session stored in
the database as any sign-in stores it) through Django's test Client, so no server is needed;
it is valid in every gunicorn worker (same SECRET_KEY) for SESSION_COOKIE_AGE (2 weeks).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "peer.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.http import HttpRequest  # noqa: E402
from django.middleware.csrf import get_token  # noqa: E402
from django.test import Client  # noqa: E402

from seed import ADMIN_PASSWORD, ADMIN_USERNAME  # noqa: E402

client = Client()
if not client.login(username=ADMIN_USERNAME, password=ADMIN_PASSWORD):
    sys.exit("could not sign in as admin: run seed.py on this database first")
session_id = client.cookies[settings.SESSION_COOKIE_NAME].value

request = HttpRequest()
token = get_token(request)  # a masked token; its secret is what the cookie holds
secret = request.META["CSRF_COOKIE"]

print(f"COOKIE='{settings.SESSION_COOKIE_NAME}={session_id}; {settings.CSRF_COOKIE_NAME}={secret}'")
print(f"CSRF='{token}'")
