#!/usr/bin/env python3
"""The security review's reproductions, tried against a release build of Tether.

Starts `target/release/tether serve --trust-proxy` on a fresh SQLite database and repeats
each reproduction of the review (the hardening issue), printing what it saw beside what the
fixed behaviour is. Exits non-zero if any is not as it should be. The PostgreSQL-only race
(create vs. accept) needs two database connections held open by hand and is covered by
`reliability::postgres_only` in the suite instead.

    cargo build --release && python3 bench/hardening.py
"""

import http.client
import json
import os
import re
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BINARY = os.path.join(ROOT, "target", "release", "tether")
PASSWORD = "quartz mitten orbit paddle"

failures = []


def check(label, ok, seen):
    print(f"{'ok  ' if ok else 'FAIL'} {label}: {seen}")
    if not ok:
        failures.append(label)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


PORT = free_port()
BASE = f"localhost:{PORT}"
ACME = f"acme.localhost:{PORT}"


def request(method, path, body=None, headers=None, host=BASE):
    conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=60)
    conn.request(method, path, body=body, headers={"Host": host, **(headers or {})})
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response.status, response.headers, data


def api(method, path, token=None, body=None, headers=None):
    headers = dict(headers or {})
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if body is not None:
        headers["Content-Type"] = "application/json"
        body = json.dumps(body)
    status, head, data = request(method, path, body, headers)
    try:
        parsed = json.loads(data) if data else None
    except ValueError:
        parsed = None
    return status, head, parsed


def sign_in(email, headers=None):
    status, _, body = api("POST", "/api/auth/token", body={"email": email, "password": PASSWORD},
                          headers=headers)
    return status, (body or {}).get("token")


def invite_and_accept(admin, email, tenant_id, role_id, name="Test Person"):
    status, _, invite = api("POST", "/api/invites", admin,
                            {"email": email, "role_id": role_id, "tenant_id": tenant_id})
    assert status == 201, (status, invite)
    status, _, accepted = api("POST", f"/api/invite-links/{invite['token']}/accept",
                              body={"name": name, "password": PASSWORD})
    assert status == 201, (status, accepted)
    status, _, me = api("GET", "/api/me", accepted["token"])
    return me["id"], accepted["token"]


def change_during_renames(admin, uid, own, change):
    """`change` to user `uid` by `admin` while the user renames themselves in a loop."""
    stop = threading.Event()

    def renames():
        n = 0
        while not stop.is_set() and n < 50:
            api("PATCH", f"/api/users/{uid}", own, {"name": f"Renamed {n}"})
            n += 1
    renamer = threading.Thread(target=renames)
    renamer.start()
    time.sleep(0.01)
    status, _, _ = api("PATCH", f"/api/users/{uid}", admin, change)
    stop.set()
    renamer.join()
    return status


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


class Browser:
    """Cookies and the form token of a signed-in browser on one host."""

    def __init__(self, host, email):
        self.host = host
        status, head, page = request("GET", "/login", host=host)
        cookie = next(c for c in head.get_all("Set-Cookie") if c.startswith("tether_csrf="))
        self.cookies = cookie.split(";")[0]
        self.token = re.search(rb'name="csrf_token" value="([^"]+)"', page).group(1).decode()
        form = f"csrf_token={self.token}&email={email}&password={PASSWORD.replace(' ', '+')}"
        status, head, _ = self.post_form("/login", form)
        assert status == 303, status
        session = next(c for c in head.get_all("Set-Cookie") if c.startswith("tether_session="))
        self.cookies += "; " + session.split(";")[0]

    def get(self, path):
        return request("GET", path, headers={"Cookie": self.cookies}, host=self.host)

    def post_form(self, path, form, headers=None):
        return request("POST", path, form, host=self.host, headers={
            "Cookie": self.cookies, "Sec-Fetch-Site": "same-origin",
            "Content-Type": "application/x-www-form-urlencoded", **(headers or {})})

    def post_multipart(self, path, fields, logo=None):
        boundary = "tetherboundary"
        parts = [f"--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
                 .encode() for k, v in [("csrf_token", self.token), *fields]]
        if logo is not None:
            parts.append(f"--{boundary}\r\nContent-Disposition: form-data; name=\"logo\"; "
                         f"filename=\"logo.png\"\r\nContent-Type: image/png\r\n\r\n".encode()
                         + logo + b"\r\n")
        body = b"".join(parts) + f"--{boundary}--\r\n".encode()
        return request("POST", path, body, host=self.host, headers={
            "Cookie": self.cookies, "Sec-Fetch-Site": "same-origin",
            "Content-Type": f"multipart/form-data; boundary={boundary}"})


def main():
    if not os.path.exists(BINARY):
        sys.exit(f"{BINARY} is missing: run cargo build --release first")
    work = tempfile.mkdtemp(prefix="tether-hardening-")
    database = os.path.join(work, "tether.db")
    env = {**os.environ, "RUST_LOG": "warn"}
    common = [BINARY, "--database-url", database, "--base-url", f"http://{BASE}"]
    server = subprocess.Popen(common + ["serve", "--bind", f"127.0.0.1:{PORT}", "--trust-proxy"],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True)
    try:
        first_link = server.stdout.readline()
        while "/invite/" not in first_link:
            first_link = server.stdout.readline()
        first_token = first_link.strip().rsplit("/", 1)[1]
        for _ in range(100):
            try:
                if request("GET", "/readyz")[0] == 200:
                    break
            except OSError:
                time.sleep(0.05)
        run(server, common, env, database, first_token)
    finally:
        server.terminate()
        server.wait()
    print(f"\n{len(failures)} not as they should be" if failures else "\nall as they should be")
    sys.exit(1 if failures else 0)


def run(server, common, env, database, first_token):
    # 3. The first-admin link after `tether admin create`.
    subprocess.run(common + ["admin", "create", "--email", "root@example.com", "--password-stdin"],
                   input=PASSWORD + "\n", text=True, check=True, env=env, capture_output=True)
    status, _, body = api("POST", f"/api/invite-links/{first_token}/accept",
                          body={"name": "Intruder", "password": PASSWORD,
                                "email": "intruder@example.com"})
    check("3 first-admin link after admin create", status == 410,
          f"{status} {(body or {}).get('code')}")

    _, root = sign_in("root@example.com")
    _, _, acme = api("POST", "/api/tenants", root, {"name": "Acme Corp", "slug": "acme"})
    _, _, globex = api("POST", "/api/tenants", root, {"name": "Globex", "slug": "globex"})

    # 1. A deactivation or demotion racing self-renames.
    undone = 0
    for trial in range(20):
        uid, own = invite_and_accept(root, f"admin{trial}@acme.example.com", acme["id"], 3)
        status = change_during_renames(root, uid, own, {"active": False})
        _, _, user = api("GET", f"/api/users/{uid}", root)
        signed_in, _ = sign_in(f"admin{trial}@acme.example.com",
                               headers={"X-Forwarded-For": f"192.0.2.{100 + trial}"})
        undone += status == 200 and (user["active"] or signed_in == 200)
    check("1 deactivation racing renames", undone == 0, f"undone in {undone} of 20 trials")
    undone = 0
    for trial in range(20):
        uid, own = invite_and_accept(root, f"staff{trial}@example.com", 1, 1)
        status = change_during_renames(root, uid, own, {"role_id": 2})
        _, _, user = api("GET", f"/api/users/{uid}", root)
        undone += status == 200 and user["role_id"] != 2
    check("1 demotion racing renames", undone == 0, f"undone in {undone} of 20 trials")

    # 2. Made-up methods and /metrics.
    before = rss_mib(server.pid)
    conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
    for n in range(20000):
        conn.putrequest(f"X{n:05d}", "/api/invites", skip_host=True)
        conn.putheader("Host", BASE)
        conn.endheaders()
        response = conn.getresponse()
        response.read()
        if response.will_close:
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
    conn.close()
    _, _, metrics = request("GET", "/metrics")
    after = rss_mib(server.pid)
    check("2 20,000 made-up methods", len(metrics) < 100_000 and b"X00001" not in metrics,
          f"/metrics {len(metrics) / 1024:.1f} KiB, RSS {before:.0f} -> {after:.0f} MiB")

    # 4. Forged X-Forwarded-For entries behind a proxy that appends, and 2 MB emails.
    statuses = [sign_in(f"nobody{n}@example.com",
                        headers={"X-Forwarded-For": f"198.51.100.{n}, 192.0.2.50"})[0]
                for n in range(30)]
    with sqlite3.connect(database) as db:
        ips = {row[0] for row in db.execute(
            "SELECT ip FROM audit_events WHERE action = 'auth.sign_in_failed'")}
    check("4 30 sign-ins with forged entries", 429 in statuses and "198.51.100.1" not in ips,
          f"first 429 at attempt {statuses.index(429) + 1 if 429 in statuses else None}, "
          f"audited IPs from the forged set: {sorted(ip for ip in ips if ip.startswith('198.51'))}")
    login = Browser(BASE, "root@example.com")
    before = rss_mib(server.pid)
    huge = "x" * (2 << 20)
    for n in range(300):
        # Each from its own address, as a botnet would: the per-IP limit never stops them.
        login.post_form("/login", f"csrf_token={login.token}&email={huge}{n}&password=x",
                        {"X-Forwarded-For": f"10.{n // 250}.{n % 250}.1"})
    after = rss_mib(server.pid)
    check("4 300 sign-ins with 2 MB emails", after - before < 100,
          f"RSS {before:.0f} -> {after:.0f} MiB")

    # 5. Another tenant's expired invite.
    _, globex_admin = invite_and_accept(root, "boss@globex.example.com", globex["id"], 3)
    _, acme_admin = invite_and_accept(root, "boss@acme.example.com", acme["id"], 3)
    _, _, carol = api("POST", "/api/invites", globex_admin,
                      {"email": "carol@globex.example.com", "role_id": 4, "tenant_id": globex["id"]})
    with sqlite3.connect(database) as db:
        db.execute("UPDATE invites SET expires_at = 0 WHERE id = ?", (carol["id"],))
    status, _, body = api("POST", "/api/invites", acme_admin,
                          {"email": "carol@globex.example.com", "role_id": 4, "tenant_id": acme["id"]})
    _, _, after = api("GET", f"/api/invites/{carol['id']}", root)
    check("5 Acme supersedes Globex's expired invite",
          status == 409 and after["revoked_by"] is None,
          f"{status} {(body or {}).get('code')}, Globex's invite {after['status']}")

    # 6. Unicode: NFC and NFD, a zero-width space, a bidi override.
    for spelling in ["ren\u00e9@acme.example.com", "rene\u0301@acme.example.com"]:
        api("POST", "/api/invites", root, {"email": spelling, "role_id": 4, "tenant_id": acme["id"]})
    _, _, pending = api("GET", "/api/invites?status=pending&limit=100", root)
    renes = [i for i in pending["items"] if i["email"].startswith("ren")]
    zwsp, _, _ = api("POST", "/api/invites", root,
                     {"email": "bob\u200b@acme.example.com", "role_id": 4, "tenant_id": acme["id"]})
    bidi, _, _ = api("POST", "/api/invites", root, {"email": "eve@acme.example.com",
                                                    "name": "Eve\u202egnp.exe", "role_id": 4,
                                                    "tenant_id": acme["id"]})
    check("6 NFC/NFD, zero-width space, bidi override",
          len(renes) == 1 and zwsp == 422 and bidi == 422,
          f"{len(renes)} pending for rené, zero-width space {zwsp}, bidi name {bidi}")

    # 7. A new name with an SVG logo.
    console = Browser(BASE, "root@example.com")
    status, _, _ = console.post_multipart(
        f"/clients/{acme['id']}", [("name", "Acme Renamed"), ("accent_colour", "#000000")],
        b'<svg xmlns="http://www.w3.org/2000/svg"/>')
    _, _, now = api("GET", f"/api/tenants/{acme['id']}", root)
    check("7 name and SVG logo", status == 422 and now["name"] == "Acme Corp",
          f"{status}, name now {now['name']!r}")

    # 8. Console pages on a client's host; POST /clients/1.
    acme_browser = Browser(ACME, "boss@acme.example.com")
    seen = {path: acme_browser.get(path)[0] for path in
            ["/clients", f"/clients/{acme['id']}", "/users/invite", "/users/invites", "/audit"]}
    status, _, _ = console.post_multipart("/clients/1", [("name", "Renamed MSP")])
    _, _, msp = api("GET", "/api/tenants/1", root)
    check("8 console on acme's host; POST /clients/1",
          set(seen.values()) == {404} and status == 404 and msp["name"] != "Renamed MSP",
          f"{seen}, POST /clients/1 {status}")

    # 9. Guessing invite pages.
    statuses = [request("GET", f"/invite/guess-{n}", host=ACME,
                        headers={"X-Forwarded-For": "203.0.113.77"})[0] for n in range(100)]
    check("9 100 guesses at /invite/{token}", statuses.count(429) >= 30,
          f"{statuses.count(404)} answered, {statuses.count(429)} limited")

    # 11. Logo caching.
    png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR" + b"\0" * 100
    request("PUT", f"/api/tenants/{acme['id']}/logo", png,
            {"Authorization": f"Bearer {root}", "Content-Type": "image/png"})
    _, plain, _ = request("GET", f"/api/tenants/{acme['id']}/logo")
    _, _, tenant = api("GET", f"/api/tenants/{acme['id']}", root)
    versioned = tenant["logo_url"].split(BASE, 1)[1]
    _, kept, _ = request("GET", versioned)
    _, branding, _ = request("GET", "/branding/logo", host=ACME)
    check("11 logo caching",
          plain["Cache-Control"] == "no-cache" and "immutable" in kept["Cache-Control"]
          and branding["Cache-Control"] == "no-cache",
          f"unversioned {plain['Cache-Control']!r}, versioned {kept['Cache-Control']!r}, "
          f"/branding/logo {branding['Cache-Control']!r}")

    # 12. Error shapes on web routes.
    bad_path = console.get("/clients/abc")
    twice = console.get("/users?tenant=2&tenant=3")
    big = console.post_multipart("/clients/new", [("name", "Big"), ("slug", "big")],
                                 b"\0" * (3 << 20))
    limited = request("GET", "/invite/guess", host=ACME, headers={"X-Forwarded-For": "203.0.113.77"})
    shapes = [(r[0], r[1].get("Content-Type", "").split(";")[0]) for r in (bad_path, twice, big)]
    check("12 web error shapes",
          shapes == [(404, "text/html"), (400, "text/html"), (413, "text/html")]
          and limited[0] == 429 and limited[1].get("Retry-After"),
          f"{shapes}, web 429 Retry-After {limited[1].get('Retry-After')!r}")


if __name__ == "__main__":
    main()
