"""Seeds the Django peer's SQLite database (PEER_DATABASE) for the benchmark.

Usage: PEER_DATABASE=FILE python seed.py COUNT KEYS_FILE [--append]
  (python: the venv's, see ./setup; DJANGO_SETTINGS_MODULE defaults to peer.settings)

Migrates the database (creating it if needed), makes the superuser `admin` (password
ADMIN_PASSWORD below) if it is missing, then adds COUNT pending invitations sent now (so
none expires for 3 days) and writes their keys, one per line, to KEYS_FILE (or appends them
with --append). Run it again on the same database to grow it: every run adds COUNT more.
Keys are made exactly as django-invitations' Invitation.create makes them:
get_random_string(64).lower().
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "peer.settings")

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import transaction  # noqa: E402
from django.utils import timezone  # noqa: E402
from django.utils.crypto import get_random_string  # noqa: E402
from invitations.utils import get_invitation_model  # noqa: E402

ADMIN_USERNAME = "admin"
ADMIN_EMAIL = "admin@peer.example.com"
ADMIN_PASSWORD = "peer-bench-admin-password"
BATCH = 5000


def main(count: int, keys_path: str, append: bool) -> None:
    call_command("migrate", verbosity=0, interactive=False)
    User = get_user_model()
    admin = User.objects.filter(username=ADMIN_USERNAME).first()
    if admin is None:
        admin = User.objects.create_superuser(ADMIN_USERNAME, ADMIN_EMAIL, ADMIN_PASSWORD)

    Invitation = get_invitation_model()
    run = f"{int(time.time() * 1000):x}{get_random_string(6).lower()}"
    now = timezone.now()
    with open(keys_path, "a" if append else "w") as out:
        for start in range(0, count, BATCH):
            rows = []
            for n in range(start, min(start + BATCH, count)):
                rows.append(
                    Invitation(
                        email=f"seed-{run}-{n}@bench.example.com",
                        key=get_random_string(64).lower(),
                        inviter=admin,
                        created=now,
                        sent=now,
                    )
                )
            with transaction.atomic():
                Invitation.objects.bulk_create(rows)
            out.write("".join(row.key + "\n" for row in rows))


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--append"]
    if len(args) != 2:
        sys.exit(__doc__)
    main(int(args[0]), args[1], "--append" in sys.argv[1:])
