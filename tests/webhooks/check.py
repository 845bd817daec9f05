"""Webhooks from a live `tether serve`, received by a plain HTTP server on loopback and
verified with the `standardwebhooks` package from PyPI: an implementation of the Standard
Webhooks signature that shares no code with Tether's (quality.md Security 14).

    python check.py BASE_URL ADMIN_EMAIL ADMIN_PASSWORD

The server must run with --webhook-allow-http --webhook-allow-private, as the receiver is
http://127.0.0.1.
"""

import json
import sys
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

BASE_URL, ADMIN_EMAIL, ADMIN_PASSWORD = sys.argv[1:4]
received = []
arrived = threading.Condition()


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        with arrived:
            received.append((dict(self.headers.items()), body))
            arrived.notify_all()
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


def call(method, path, token=None, body=None):
    request = urllib.request.Request(BASE_URL + path, method=method)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    data = None
    if body is not None:
        request.add_header("Content-Type", "application/json")
        data = json.dumps(body).encode()
    try:
        with urllib.request.urlopen(request, data) as response:
            text = response.read()
            return response.status, json.loads(text) if text else None
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def expect(status, reply, what):
    got, body = reply
    if got != status:
        sys.exit(f"{what}: expected {status}, got {got}: {body}")
    return body


def wait_for(count):
    deadline = time.monotonic() + 30
    with arrived:
        while len(received) < count:
            left = deadline - time.monotonic()
            if left <= 0:
                sys.exit(f"only {len(received)} of {count} webhooks arrived within 30 s")
            arrived.wait(left)


server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
threading.Thread(target=server.serve_forever, daemon=True).start()
hook_url = f"http://127.0.0.1:{server.server_address[1]}/hook"

token = expect(200, call("POST", "/api/auth/token", body={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}), "sign in")["token"]
hook = expect(201, call("POST", "/api/webhooks", token, {"url": hook_url, "description": "CI receiver", "event_types": ["*"]}), "add a webhook")
secret = hook["secret"]
print(f"webhook {hook['id']} added; secret shown once ({secret[:6]}…)")

slug = f"wh{int(time.time())}"
tenant = expect(201, call("POST", "/api/tenants", token, {"name": "Webhook Check", "slug": slug}), "a client")
roles = expect(200, call("GET", "/api/roles", token), "roles")["items"]
client_user = next(role for role in roles if role["name"] == "client_user")
invite = expect(201, call("POST", "/api/invites", token, {"email": f"alice@{slug}.example", "role_id": client_user["id"], "tenant_id": tenant["id"]}), "an invite")
expect(201, call("POST", f"/api/invite-links/{invite['token']}/accept", body={"name": "Alice Smith", "password": "violet anchor meadow 42"}), "accepting it")
wait_for(4)

types = []
for headers, body in received:
    try:
        event = Webhook(secret).verify(body, headers)
    except WebhookVerificationError as error:
        sys.exit(f"a delivery did not verify: {error}: {headers} {body!r}")
    if invite["token"].encode() in body or b"whsec_" in body:
        sys.exit(f"a delivery carries a token or a secret: {body!r}")
    types.append(event["type"])
print("verified with standardwebhooks (PyPI):", ", ".join(types))
for wanted in ("tenant.created", "invite.created", "invite.accepted", "user.created"):
    if wanted not in types:
        sys.exit(f"no {wanted} event arrived: {types}")

rotated = expect(200, call("POST", f"/api/webhooks/{hook['id']}/rotate-secret", token), "rotating the secret")["secret"]
expect(202, call("POST", f"/api/webhooks/{hook['id']}/test", token), "a test event")
wait_for(5)
headers, body = received[4]
for name, key in (("the old", secret), ("the new", rotated)):
    try:
        event = Webhook(key).verify(body, headers)
    except WebhookVerificationError as error:
        sys.exit(f"after a rotation the test event did not verify with {name} secret: {error}")
signatures = headers.get("webhook-signature", headers.get("Webhook-Signature", "")).split(" ")
print(f"after the rotation, {event['type']} carries {len(signatures)} signatures and verifies with either secret")

# Each attempt is recorded once the receiver has answered it: the last may take a moment.
deadline = time.monotonic() + 10
while True:
    deliveries = expect(200, call("GET", f"/api/webhooks/{hook['id']}/deliveries", token), "the delivery log")["items"]
    if len(deliveries) >= 5 or time.monotonic() > deadline:
        break
    time.sleep(0.1)
if len(deliveries) != 5 or any(d["status_code"] != 200 for d in deliveries):
    sys.exit(f"the delivery log does not show five 200s: {deliveries}")
listed = json.dumps(expect(200, call("GET", "/api/webhooks", token), "the list"))
if "whsec_" in listed:
    sys.exit("the list of webhooks shows a secret")
print("the delivery log shows five deliveries answered 200; no secret in the list")
server.shutdown()
