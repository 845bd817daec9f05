"""Seeds pending invites straight into a Tether SQLite database, far faster than the API,
and writes their tokens (one per line) for the load generator. Tokens are made and digested
exactly as Tether does: 32 random bytes, base64url without padding, SHA-256 stored."""

import base64
import hashlib
import os
import sqlite3
import sys
import time


def main(database: str, slug: str, count: int, tokens_path: str) -> None:
    db = sqlite3.connect(database)
    row = db.execute("SELECT id FROM tenants WHERE slug = ?", (slug,)).fetchone()
    if row is None:
        sys.exit(f"no tenant has the slug {slug!r}")
    tenant_id = row[0]
    now = int(time.time() * 1000)
    expires = now + 72 * 3600 * 1000
    tokens = []
    rows = []
    for n in range(count):
        token = base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=").decode()
        tokens.append(token)
        digest = hashlib.sha256(token.encode()).digest()
        rows.append((digest, f"seed{n}-{now}@bench.example.com", 4, tenant_id, now, expires))
    with db:
        db.executemany(
            "INSERT INTO invites (token_digest, email, role_id, tenant_id, created_at, expires_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            rows,
        )
    with open(tokens_path, "w") as out:
        out.write("\n".join(tokens) + "\n")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4])
