"""Measures every bar of quality.md "Performance" and writes BENCHMARKS.md; run by bench/run,
which builds the binaries and installs wrk and the Django peer first.

Every ratio is taken against a reference measured in the same run, and every figure is the
median of several runs. Servers are started and stopped here; each gets its own database
seeded straight into its tables by seed.py.
"""

import datetime
import json
import os
import platform
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from report import parse_wrk

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
TETHER = ROOT / "target/release/tether"
HELLO = ROOT / "target/release/examples/hello"
ARGON2 = ROOT / "target/release/examples/argon2_hash"
BACKLOG = ROOT / "target/release/examples/outbox_backlog"
DIRECT = ROOT / "target/release/examples/smtp_direct"
HOOKS = ROOT / "target/release/examples/webhook_bench"
PG_REFERENCE = ROOT / "target/release/examples/pg_reference"
SINK = ROOT / "tests/mail/smtp_sink.py"
# Debian's python3-aiosmtpd (bench/run installs it) runs the SMTP server.
SINK_PYTHON = "/usr/bin/python3"
PEER = BENCH / "peers/django"
PASSWORD = "quartz lantern meadow 7 orbit"
ADMIN = "admin@bench.example.com"

QUICK = "--quick" in sys.argv
RUNS = 1 if QUICK else 3
SECONDS = 1 if QUICK else 3
SCALE_INVITES = 20_000 if QUICK else 1_000_000
SCALE_TENANTS = 200 if QUICK else 10_000
PENDING_INVITES = 10_000 if QUICK else 100_000
BULK_ROWS = 1_000
PEER_GROWN = 2_000 if QUICK else 10_000
MAIL_BACKLOG = 200 if QUICK else 2_000
MAIL_LATENCY_SAMPLES = 20 if QUICK else 100
# The outbox claims 32 messages at a time; the reference sends as many at once.
MAIL_IN_FLIGHT = 32
HOOK_EVENTS = 200 if QUICK else 1_000
# Webhooks go out from the same lanes as e-mail: 32 at once.
HOOK_IN_FLIGHT = 32
CORES = os.cpu_count() or 1

work = Path(tempfile.mkdtemp(prefix="tether-bench-"))
running = []
ports = iter(range(18110, 18200))


def log(message):
    print(f"== {message}", flush=True)


def wait_ready(url, timeout=20.0, accept=()):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as answer:
                if answer.status < 500:
                    return
        except urllib.error.HTTPError as answer:
            if answer.code in accept:
                return
        except OSError:
            pass
        time.sleep(0.01)
    raise SystemExit(f"{url} never answered")


def peak_rss_mib(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM"):
            return int(line.split()[1]) / 1024
    return float("nan")


class Tether:
    """A `tether serve` on its own database and port."""

    def __init__(self, database, connections=None, extra=()):
        self.database = str(database)
        self.port = next(ports)
        self.base = f"http://localhost:{self.port}"
        self.connections = connections
        self.extra = list(extra)

    def cli(self, *args, stdin=None):
        subprocess.run([TETHER, "--database-url", self.database, "--base-url", self.base, *args],
                       input=stdin, text=True, check=True, capture_output=True)

    def prepare(self):
        """Migrates the database and adds the bench's MSP admin."""
        self.cli("migrate")
        self.cli("admin", "create", "--email", ADMIN, "--name", "Bench Admin", "--password-stdin", stdin=PASSWORD + "\n")

    def start(self):
        command = [TETHER, "--database-url", self.database, "--base-url", self.base, *self.extra, "serve",
                   "--bind", f"127.0.0.1:{self.port}", "--invite-link-limit", "1000000000",
                   "--sign-in-limit", "1000000", "--sign-in-email-limit", "1000000"]
        started = time.monotonic()
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                        env={**os.environ, "RUST_LOG": "warn"})
        running.append(self.process)
        wait_ready(f"http://127.0.0.1:{self.port}/readyz")
        return (time.monotonic() - started) * 1000

    def stop(self):
        self.process.terminate()
        self.process.wait()
        running.remove(self.process)

    def url(self, path=""):
        return f"http://127.0.0.1:{self.port}{path}"

    def sign_in(self):
        request = urllib.request.Request(self.url("/api/auth/token"), method="POST",
                                         data=json.dumps({"email": ADMIN, "password": PASSWORD}).encode(),
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request) as answer:
            return json.load(answer)["token"]

    def tenant_id(self, slug):
        if self.database.startswith("postgres"):
            out = subprocess.run(["psql", "-At", self.database, "-c", f"SELECT id FROM tenants WHERE slug = '{slug}'"],
                                 capture_output=True, text=True, check=True).stdout
            return int(out.strip())
        with sqlite3.connect(self.database) as db:
            return db.execute("SELECT id FROM tenants WHERE slug = ?", (slug,)).fetchone()[0]


def seed(database, invites, links=None, tenants=1, sample=None):
    command = [sys.executable, BENCH / "seed.py", str(database), "--invites", str(invites), "--tenants", str(tenants)]
    if links:
        command += ["--links", str(links)]
    if sample:
        command += ["--sample", str(sample)]
    subprocess.run(command, check=True)


def wrk(url, script=None, connections=64, env=None, seconds=SECONDS, headers=()):
    command = ["wrk", f"-t{min(2, connections)}", f"-c{connections}", f"-d{seconds}s", "--latency"]
    for header in headers:
        command += ["-H", header]
    if script:
        command += ["-s", str(script)]
    result = subprocess.run(command + [url], capture_output=True, text=True, env={**os.environ, **(env or {})}, check=True)
    figures = parse_wrk(result.stdout)
    figures["output"] = result.stdout
    return figures


def median(runs, key):
    return statistics.median(run[key] for run in runs)


def require_no_errors(runs, what):
    for run in runs:
        if run["non_2xx"] or run["socket_errors"]:
            raise SystemExit(f"{what} answered errors under load:\n{run['output']}")


def page_load(server, links, seconds=SECONDS, connections=64):
    return page_load_at(server.url(), server.port, links, seconds, connections)


def page_load_at(url, port, links, seconds=SECONDS, connections=64):
    env = {"LINKS": str(links), "HOST_SUFFIX": f".localhost:{port}"}
    return wrk(url, BENCH / "invite-page.lua", connections, env, seconds)


def pending_list(server, token, connections=4):
    """The console's list as admins load it: a few at once (4 connections)."""
    return wrk(server.url("/api/invites?status=pending"), connections=connections,
               headers=[f"Authorization: Bearer {token}"])


def create_load(server, token, tenant_slug, send_email=False):
    return create_load_at(server.url(), token, server.tenant_id(tenant_slug), send_email)


def create_load_at(url, token, tenant_id, send_email=False):
    env = {"BEARER": token, "TENANT_ID": str(tenant_id), "RUN": os.urandom(4).hex(),
           "SEND_EMAIL": "true" if send_email else "false"}
    return wrk(url, BENCH / "create-invite.lua", 64, env)


class Sink:
    """A real SMTP server on loopback (aiosmtpd, tests/mail/smtp_sink.py) saving what it accepts."""

    def __init__(self):
        self.port = next(ports)
        self.folder = Path(tempfile.mkdtemp(dir=work, prefix="mail-"))
        self.process = subprocess.Popen([SINK_PYTHON, SINK, str(self.port), str(self.folder)],
                                        stdout=subprocess.PIPE, text=True)
        running.append(self.process)
        if self.process.stdout.readline().strip() != "ready":
            raise SystemExit("the SMTP server did not start")

    def url(self):
        return f"smtp://127.0.0.1:{self.port}?tls=none"

    def count(self):
        return sum(1 for path in self.folder.iterdir() if path.suffix == ".eml")

    def wait_for(self, count, timeout=300.0):
        deadline = time.monotonic() + timeout
        while self.count() < count:
            if time.monotonic() > deadline:
                raise SystemExit(f"only {self.count()} of {count} messages arrived")
            time.sleep(0.002)
        return time.monotonic()

    def stop(self):
        self.process.terminate()
        self.process.wait()
        running.remove(self.process)


def measure_email(results):
    log(f"e-mail: the outbox delivering {MAIL_BACKLOG:,} invite e-mails, and lettre sending the same messages straight")
    outbox_rates, direct_rates = [], []
    for run in range(RUNS):
        database = work / f"mail-{run}.db"
        subprocess.run([BACKLOG, str(database), str(MAIL_BACKLOG)], check=True)
        sink = Sink()
        server = Tether(database, extra=["--smtp-url", sink.url(), "--mail-from", "noreply@bench.example.com"])
        started = time.monotonic()
        server.start()
        done = sink.wait_for(MAIL_BACKLOG)
        outbox_rates.append(MAIL_BACKLOG / (done - started))
        server.stop()
        straight = Sink()
        seconds = float(subprocess.run([DIRECT, str(straight.port), str(sink.folder), str(MAIL_IN_FLIGHT)],
                                       capture_output=True, text=True, check=True).stdout)
        if straight.count() != MAIL_BACKLOG:
            raise SystemExit("lettre's reference did not deliver every message")
        direct_rates.append(MAIL_BACKLOG / seconds)
        sink.stop()
        straight.stop()
    results["mail_outbox"] = outbox_rates
    results["mail_direct"] = direct_rates

    log("e-mail: commit → accepted by the SMTP server, one invite at a time on an idle server")
    sink = Sink()
    database = work / "mail-latency.db"
    server = Tether(database, extra=["--smtp-url", sink.url(), "--mail-from", "noreply@bench.example.com"])
    server.prepare()
    server.cli("tenant", "create", "--name", "Latency Corp", "--slug", "latency")
    server.start()
    token = server.sign_in()
    tenant = server.tenant_id("latency")
    latencies = []
    for n in range(MAIL_LATENCY_SAMPLES):
        before = sink.count()
        body = json.dumps({"email": f"idle-{n}@bench.example.com", "role_id": 4, "tenant_id": tenant,
                           "send_email": True}).encode()
        request = urllib.request.Request(server.url("/api/invites"), method="POST", data=body,
                                         headers={"Content-Type": "application/json",
                                                  "Authorization": f"Bearer {token}"})
        sent = time.monotonic()
        with urllib.request.urlopen(request) as answer:
            answer.read()
        arrived = sink.wait_for(before + 1, timeout=30)
        latencies.append((arrived - sent) * 1000)
        time.sleep(0.05)
    latencies.sort()
    results["mail_latency_p50"] = statistics.median(latencies)
    results["mail_latency_p99"] = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]

    server.stop()
    sink.stop()

    log("e-mail: the cost of send_email on invite creation (64 connections, three servers in turns)")
    sink = Sink()
    closed = next(ports)
    mail_from = ["--mail-from", "noreply@bench.example.com"]
    sides = {
        "without": Tether(work / "create-plain.db"),
        "queued": Tether(work / "create-queued.db",
                         extra=["--smtp-url", f"smtp://127.0.0.1:{closed}?tls=none", *mail_from]),
        "delivered": Tether(work / "create-delivered.db", extra=["--smtp-url", sink.url(), *mail_from]),
    }
    for side in sides.values():
        side.prepare()
        side.cli("tenant", "create", "--name", "Creation Corp", "--slug", "creation")
    runs = {name: [] for name in sides}
    for _ in range(RUNS):
        for name, side in sides.items():
            side.start()
            runs[name].append(create_load(side, side.sign_in(), "creation", send_email=name != "without"))
            side.stop()
    for name, side_runs in runs.items():
        require_no_errors(side_runs, f"invite creation ({name})")
        results[f"create_mail_{name}"] = side_runs
    sink.stop()


class Receiver:
    """webhook_bench's receiver: verifies every delivery's signature with the standardwebhooks
    crate and counts."""

    def __init__(self, secret, port=None):
        self.port = port or next(ports)
        self.process = subprocess.Popen([HOOKS, "receive", str(self.port), secret])
        running.append(self.process)
        wait_ready(self.url("/count"))

    def url(self, path="/hook"):
        return f"http://127.0.0.1:{self.port}{path}"

    def seen(self):
        """Verified, not verified, and the first and last arrival in seconds."""
        with urllib.request.urlopen(self.url("/count")) as answer:
            valid, invalid, first, last = answer.read().decode().split()
            return int(valid), int(invalid), float(first), float(last)

    def counts(self):
        return self.seen()[:2]

    def rate(self, count, timeout=120):
        """Events per second from the first arrival to the last, once `count` arrived: the
        same measure for the outbox and the reference, whatever their start-up."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            valid, invalid, first, last = self.seen()
            if valid + invalid >= count:
                return (count - 1) / (last - first)
            time.sleep(0.01)
        raise SystemExit(f"only {self.counts()} of {count} webhooks arrived")

    def stop(self):
        self.process.terminate()
        self.process.wait()
        running.remove(self.process)


def measure_webhooks(results):
    log(f"webhooks: the outbox delivering {HOOK_EVENTS:,} events to a local receiver, and reqwest posting the same straight")
    # Each side's rate runs from the receiver's first arrival to its last.
    outbox_rates, direct_rates = [], []
    for run in range(RUNS):
        database = work / f"hooks-{run}.db"
        port = next(ports)
        url = f"http://127.0.0.1:{port}/hook"
        secret = subprocess.run([HOOKS, "backlog", str(database), url, str(HOOK_EVENTS)],
                                capture_output=True, text=True, check=True).stdout.strip()
        receiver = Receiver(secret, port)
        server = Tether(database, extra=["--webhook-allow-http", "--webhook-allow-private"])
        server.start()
        outbox_rates.append(receiver.rate(HOOK_EVENTS))
        valid, invalid = receiver.counts()
        if invalid or valid != HOOK_EVENTS:
            raise SystemExit(f"webhooks: {valid} verified and {invalid} did not, of {HOOK_EVENTS}")
        server.stop()
        receiver.stop()
        straight = Receiver(secret)
        subprocess.run([HOOKS, "send", straight.url(), str(HOOK_EVENTS), str(HOOK_IN_FLIGHT), secret],
                       capture_output=True, text=True, check=True)
        direct_rates.append(straight.rate(HOOK_EVENTS))
        if straight.counts() != (HOOK_EVENTS, 0):
            raise SystemExit("the reqwest reference did not deliver every event verified")
        straight.stop()
    results["hook_outbox"] = outbox_rates
    results["hook_direct"] = direct_rates


def raw_inserts(database, seconds):
    """Single-row insert transactions into the invites table at Tether's durability setting
    (WAL, synchronous = FULL), one after another as SQLite's one writer takes them."""
    db = sqlite3.connect(database, isolation_level=None)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = FULL")
    tenant = db.execute("SELECT id FROM tenants WHERE kind = 'client' LIMIT 1").fetchone()[0]
    run, count = os.urandom(4).hex(), 0
    now = int(time.time() * 1000)
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        db.execute("BEGIN IMMEDIATE")
        db.execute("INSERT INTO invites (token_digest, email, role_id, tenant_id, created_at, expires_at) VALUES (?, ?, 4, ?, ?, ?)",
                   (os.urandom(32), f"raw-{run}-{count}@bench.example.com", tenant, now, now + 72 * 3_600_000))
        db.execute("COMMIT")
        count += 1
    return count / (time.monotonic() - started)


def raw_insert_rows(database, rows):
    """`rows` single-row insert transactions, as `raw_inserts` makes them; rows per second."""
    db = sqlite3.connect(database, isolation_level=None)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = FULL")
    tenant = db.execute("SELECT id FROM tenants WHERE kind = 'client' LIMIT 1").fetchone()[0]
    run, now = os.urandom(4).hex(), int(time.time() * 1000)
    started = time.monotonic()
    for count in range(rows):
        db.execute("BEGIN IMMEDIATE")
        db.execute("INSERT INTO invites (token_digest, email, role_id, tenant_id, created_at, expires_at) VALUES (?, ?, 4, ?, ?, ?)",
                   (os.urandom(32), f"rawbulk-{run}-{count}@bench.example.com", tenant, now, now + 72 * 3_600_000))
        db.execute("COMMIT")
    return rows / (time.monotonic() - started)


def bulk_batch(server, token, tenant_id, rows=BULK_ROWS):
    """One `POST /api/invites/batch` of `rows` new addresses, timed from request to answer;
    rows per second."""
    run = os.urandom(4).hex()
    body = json.dumps({"tenant_id": tenant_id, "rows": [
        {"email": f"bulk-{run}-{n}@bench.example.com", "name": f"Person {n}", "role_id": 4} for n in range(rows)]}).encode()
    request = urllib.request.Request(server.url("/api/invites/batch"), data=body, method="POST",
                                     headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"})
    started = time.monotonic()
    with urllib.request.urlopen(request, timeout=600) as answer:
        result = json.load(answer)
    elapsed = time.monotonic() - started
    if result["created"] != rows:
        raise SystemExit(f"the batch created {result['created']} of {rows} invites")
    return rows / elapsed


def accept_storm(server, lines, concurrency=256):
    """Accepts every link of `lines` through the API with `concurrency` requests in flight
    (each on a connection of its own), and times the whole batch: wrk would count only the
    accepts that finish within its run, and at 256 in flight each one waits seconds."""
    body = json.dumps({"name": "Bench Recipient", "password": PASSWORD}).encode()

    def accept(line):
        token = line.split()[1]
        request = urllib.request.Request(server.url(f"/api/invite-links/{token}/accept"), data=body, method="POST",
                                         headers={"Content-Type": "application/json"})
        started = time.monotonic()
        with urllib.request.urlopen(request, timeout=120) as answer:  # an error status raises
            answer.read()
        return (time.monotonic() - started) * 1000

    started = time.monotonic()
    with ThreadPoolExecutor(concurrency) as pool:
        latencies = sorted(pool.map(accept, lines))
    elapsed = time.monotonic() - started
    return {"rps": len(lines) / elapsed, "p50_ms": latencies[len(latencies) // 2],
            "p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))], "non_2xx": 0, "socket_errors": 0}


def fresh_sqlite(name, invites, tenants=1, sample=None, connections=None):
    server = Tether(work / f"{name}.db", connections)
    server.prepare()
    links = work / f"{name}.links"
    seed(server.database, invites, links, tenants, sample)
    return server, links


def measure_tether_sqlite(results):
    log("start-up to the first /readyz on an existing database")
    server, links = fresh_sqlite("page", 10_000)
    startups = []
    for _ in range(1 if QUICK else 5):
        startups.append(server.start())
        server.stop()
    results["startup_ms"] = statistics.median(startups)
    server.start()

    log("the invite page against a bare axum hello handler, same run")
    hello_port = next(ports)
    hello = subprocess.Popen([HELLO, f"127.0.0.1:{hello_port}"], stdout=subprocess.DEVNULL)
    running.append(hello)
    wait_ready(f"http://127.0.0.1:{hello_port}/")
    page_runs, hello_runs = [], []
    for _ in range(RUNS):
        page_runs.append(page_load(server, links))
        hello_runs.append(wrk(f"http://127.0.0.1:{hello_port}/"))
    require_no_errors(page_runs, "the invite page")
    results["page"], results["hello"] = page_runs, hello_runs
    results["page_rss_mib"] = peak_rss_mib(server.process.pid)
    hello.terminate()
    hello.wait()
    running.remove(hello)

    log("POST /api/invites against raw single-row insert transactions, same run")
    token = server.sign_in()
    create_runs, raw_runs = [], []
    for _ in range(RUNS):
        create_runs.append(create_load(server, token, "client1"))
        raw_runs.append(raw_inserts(server.database, SECONDS))
    require_no_errors(create_runs, "invite creation")
    results["create"], results["raw_inserts"] = create_runs, raw_runs

    log(f"a {BULK_ROWS:,}-row POST /api/invites/batch against {BULK_ROWS:,} raw single-row insert transactions, same run")
    tenant_id = server.tenant_id("client1")
    bulk_runs, raw_bulk_runs = [], []
    for _ in range(RUNS):
        bulk_runs.append(bulk_batch(server, token, tenant_id))
        raw_bulk_runs.append(raw_insert_rows(server.database, BULK_ROWS))
    results["bulk"], results["raw_bulk"] = bulk_runs, raw_bulk_runs
    server.stop()

    log("accepting invites, 256 at once, against cores ÷ one Argon2id hash; then the page beside them")
    per_run = 100 if QUICK else 400
    server, links = fresh_sqlite("accept", per_run * (RUNS + 1))
    page_links = work / "accept-page.links"
    seed(server.database, 1_000, page_links, tenants=2)
    server.start()
    hash_ms = float(subprocess.run([ARGON2, "5" if QUICK else "15"], capture_output=True, text=True, check=True).stdout)
    batches = [lines[n * per_run:(n + 1) * per_run] for lines in [links.read_text().splitlines()] for n in range(RUNS + 1)]
    results["accept"] = [accept_storm(server, batch) for batch in batches[:RUNS]]
    with ThreadPoolExecutor(1) as background:
        storm = background.submit(accept_storm, server, batches[RUNS])
        time.sleep(1)
        during = page_load(server, page_links, seconds=max(1, SECONDS - 1))
        storm.result()
    require_no_errors([during], "the invite page during accepts")
    results["page_during_accepts"] = [during]
    results["hash_ms"] = hash_ms
    results["accept_rss_mib"] = peak_rss_mib(server.process.pid)
    server.stop()

    log(f"the first page of pending invites with {PENDING_INVITES:,} pending")
    server, _ = fresh_sqlite("pending", PENDING_INVITES, tenants=100)
    server.start()
    token = server.sign_in()
    runs = [pending_list(server, token) for _ in range(RUNS)]
    crowded = [pending_list(server, token, connections=64)]
    require_no_errors(runs + crowded, "the pending list")
    results["pending_list"], results["pending_list_64"] = runs, crowded
    server.stop()

    log(f"scale: 1,000 invites against {SCALE_INVITES:,} invites in {SCALE_TENANTS:,} tenants")
    # Both servers run side by side and take turns, so that drift in the machine's speed
    # during the run falls on both alike.
    sides = {}
    for name, invites, tenants in (("small", 1_000, 10), ("large", SCALE_INVITES, SCALE_TENANTS)):
        server, links = fresh_sqlite(name, invites, tenants, sample=10_000)
        server.start()
        sides[name] = (server, links, server.sign_in())
    for key in ("page", "list"):
        for name in sides:
            results[f"scale_{name}_{key}"] = []
    for _ in range(RUNS + 2):
        for name, (server, links, token) in sides.items():
            results[f"scale_{name}_page"].append(page_load(server, links))
            results[f"scale_{name}_list"].append(pending_list(server, token))
    for name, (server, _, _) in sides.items():
        require_no_errors(results[f"scale_{name}_page"] + results[f"scale_{name}_list"], f"the {name} database")
        server.stop()


def measure_tether_postgres(results):
    url = os.environ.get("TETHER_BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    name = f"tether_bench_{os.getpid()}"
    admin = subprocess.run(["psql", "-At", url, "-c", f"CREATE DATABASE {name}"], capture_output=True, text=True)
    if admin.returncode != 0:
        log(f"PostgreSQL is not reachable at {url}: its column is left out ({admin.stderr.strip()})")
        return
    database = url.rsplit("/", 1)[0] + "/" + name
    try:
        log("PostgreSQL: the invite page and invite creation")
        server = Tether(database)
        server.prepare()
        links = work / "postgres.links"
        seed(database, 10_000, links)
        server.start()
        token = server.sign_in()
        tenant_id = server.tenant_id("client1")
        # The reference: the page's own query, and a one-row insert, through sqlx's PgPool
        # with as many connections as Tether's pool (examples/pg_reference.rs).
        reference_port = next(ports)
        reference = subprocess.Popen([PG_REFERENCE, database, f"127.0.0.1:{reference_port}", "16"])
        running.append(reference)
        reference_url = f"http://127.0.0.1:{reference_port}"
        wait_ready(f"{reference_url}/invite/none", accept=(404,))
        page_runs, create_runs, reference_page, reference_create = [], [], [], []
        for _ in range(RUNS):
            page_runs.append(page_load(server, links))
            reference_page.append(page_load_at(reference_url, reference_port, links))
            create_runs.append(create_load(server, token, "client1"))
            reference_create.append(create_load_at(reference_url, "none", tenant_id))
        require_no_errors(page_runs + create_runs, "Tether on PostgreSQL")
        require_no_errors(reference_page + reference_create, "the PostgreSQL reference")
        results["pg_page"], results["pg_create"] = page_runs, create_runs
        results["pg_reference_page"], results["pg_reference_create"] = reference_page, reference_create
        reference.terminate()
        reference.wait()
        server.stop()
    finally:
        subprocess.run(["psql", "-q", url, "-c", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"], capture_output=True)


def measure_peer(results, python):
    """The invite page and invite creation, Tether beside django-invitations, on databases of
    200 invites and then grown to PEER_GROWN."""
    peer_db = work / "peer.db"
    keys = work / "peer.keys"
    env = {**os.environ, "PEER_DATABASE": str(peer_db)}
    subprocess.run([python, PEER / "seed.py", "200", keys], env=env, check=True, capture_output=True)
    session = subprocess.run([python, PEER / "session.py"], env=env, check=True, capture_output=True, text=True).stdout
    cookie = session.split("COOKIE='", 1)[1].split("'", 1)[0]
    csrf = session.split("CSRF='", 1)[1].split("'", 1)[0]

    tether, links = fresh_sqlite("peer-side", 200)
    tether.start()
    token = tether.sign_in()
    peer_port = next(ports)
    peer = subprocess.Popen([PEER / "serve", str(peer_port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    running.append(peer)
    with open(keys) as first:
        wait_ready(f"http://127.0.0.1:{peer_port}/invitations/accept-invite/{first.readline().strip()}/")
    peer_url = f"http://127.0.0.1:{peer_port}"

    for size in ("200", "grown"):
        if size == "grown":
            log(f"growing both databases to {PEER_GROWN:,} invites")
            subprocess.run([python, PEER / "seed.py", str(PEER_GROWN - 200), keys, "--append"], env=env, check=True, capture_output=True)
            seed(tether.database, PEER_GROWN - 200)
        log(f"Tether beside django-invitations, {size} invites: the invite page")
        wrk(peer_url, PEER / "invite-page.lua", env={"KEYS": str(keys)}, seconds=1)  # the workers' warm-up
        tether_page, peer_page = [], []
        for _ in range(RUNS):
            tether_page.append(page_load(tether, links))
            peer_page.append(wrk(peer_url, PEER / "invite-page.lua", env={"KEYS": str(keys)}))
        log(f"Tether beside django-invitations, {size} invites: invite creation")
        tether_create, peer_create = [], []
        for _ in range(RUNS):
            tether_create.append(create_load(tether, token, "client1"))
            peer_run = wrk(peer_url, PEER / "send-invite.lua", env={"COOKIE": cookie, "CSRF": csrf, "RUN": os.urandom(4).hex()})
            if " 0 failed" not in peer_run["output"]:
                raise SystemExit(f"the peer refused invites:\n{peer_run['output']}")
            peer_create.append(peer_run)
        require_no_errors(tether_page + tether_create + peer_page, "the side-by-side run")
        results[f"peer_{size}"] = {"tether_page": tether_page, "peer_page": peer_page,
                                   "tether_create": tether_create, "peer_create": peer_create}
    peer.terminate()
    peer.wait()
    running.remove(peer)
    tether.stop()


def write_report(results):
    def rps(runs):
        return median(runs, "rps")

    def verdict(ok):
        return "holds" if ok else "**does not hold**"

    def latency(runs):
        return f"p50 {median(runs, 'p50_ms'):.2f} ms, p99 {median(runs, 'p99_ms'):.2f} ms"

    rows = []
    page, hello = results["page"], results["hello"]
    ratio = rps(page) / rps(hello)
    rows.append(("`GET /invite/{token}`, 10k links cycled, 64 connections",
                 f"{rps(page):,.0f} req/s; {latency(page)}",
                 f"bare axum hello: {rps(hello):,.0f} req/s → **{ratio:.0%}**",
                 f"≥ 40% and p99 < 10 ms: {verdict(ratio >= 0.4 and median(page, 'p99_ms') < 10)}"))
    create, raw = results["create"], results["raw_inserts"]
    ratio = rps(create) / statistics.median(raw)
    rows.append(("`POST /api/invites`, distinct emails, 64 connections",
                 f"{rps(create):,.0f} req/s; {latency(create)}",
                 f"raw single-row insert transactions (WAL, synchronous = FULL): {statistics.median(raw):,.0f}/s → **{ratio:.0%}**",
                 f"≥ 60%: {verdict(ratio >= 0.6)}"))
    bulk, raw_bulk = statistics.median(results["bulk"]), statistics.median(results["raw_bulk"])
    ratio = bulk / raw_bulk
    rows.append((f"bulk: a {BULK_ROWS:,}-row batch (`POST /api/invites/batch`)",
                 f"{bulk:,.0f} rows/s ({BULK_ROWS / bulk:.2f} s for the batch)",
                 f"the same number of raw single-row insert transactions: {raw_bulk:,.0f}/s → **{ratio:.0%}**",
                 f"≥ 50%: {verdict(ratio >= 0.5)}"))
    accept = results["accept"]
    ceiling = CORES / (results["hash_ms"] / 1000)
    ratio = rps(accept) / ceiling
    rows.append(("`POST /api/invite-links/{token}/accept`, 256 in flight",
                 f"{rps(accept):,.0f} req/s; {latency(accept)}",
                 f"{CORES} cores ÷ one Argon2id hash ({results['hash_ms']:.1f} ms): {ceiling:,.0f}/s → **{ratio:.0%}**",
                 f"≥ 85%: {verdict(ratio >= 0.85)}"))
    during = results["page_during_accepts"]
    rows.append(("the invite page while those 256 accepts run", f"{rps(during):,.0f} req/s; {latency(during)}", "",
                 "hashing never stalls page serving"))
    listing, crowded = results["pending_list"], results["pending_list_64"]
    rows.append((f"`GET /api/invites?status=pending` first page, {PENDING_INVITES:,} pending, 4 connections",
                 f"{rps(listing):,.0f} req/s; {latency(listing)}",
                 f"at 64 connections: {rps(crowded):,.0f} req/s; {latency(crowded)}",
                 f"p99 < 10 ms: {verdict(median(listing, 'p99_ms') < 10)}"))
    for what, key in (("invite page", "page"), ("pending list", "list")):
        small, large = results[f"scale_small_{key}"], results[f"scale_large_{key}"]
        slowdown = rps(small) / rps(large)
        rows.append((f"scale: the {what} with {SCALE_INVITES:,} invites in {SCALE_TENANTS:,} tenants",
                     f"{rps(large):,.0f} req/s; {latency(large)}",
                     f"1,000 invites: {rps(small):,.0f} req/s; {latency(small)} → **{slowdown:.2f}×** slower",
                     f"within 1.5×: {verdict(slowdown <= 1.5)}"))
    rows.append(("peak RSS under the page load", f"{results['page_rss_mib']:.1f} MiB", "",
                 f"≤ 64 MiB: {verdict(results['page_rss_mib'] <= 64)}"))
    rows.append(("peak RSS under 256 concurrent accepts", f"{results['accept_rss_mib']:.1f} MiB", "",
                 f"≤ 160 MiB: {verdict(results['accept_rss_mib'] <= 160)}"))
    rows.append(("start-up to the first `/readyz`, existing database", f"{results['startup_ms']:.0f} ms", "",
                 f"< 300 ms: {verdict(results['startup_ms'] < 300)}"))
    ratios = {}
    for size, label in (("200", "200 invites"), ("grown", f"{PEER_GROWN:,} invites")):
        side = results[f"peer_{size}"]
        page_ratio = rps(side["tether_page"]) / rps(side["peer_page"])
        create_ratio = rps(side["tether_create"]) / rps(side["peer_create"])
        ratios[size] = (page_ratio, create_ratio)
        if size == "200":
            bar_page = f"≥ 20×: {verdict(page_ratio >= 20)}"
            bar_create = f"≥ 5×: {verdict(create_ratio >= 5)}"
        else:
            bar_page = f"the gap widens as invites grow: {verdict(page_ratio > ratios['200'][0])}"
            bar_create = f"the gap widens as invites grow: {verdict(create_ratio > ratios['200'][1])}"
        rows.append((f"against django-invitations, {label}: invite page",
                     f"{rps(side['tether_page']):,.0f} req/s",
                     f"django-invitations: {rps(side['peer_page']):,.0f} req/s → **{page_ratio:.1f}×**", bar_page))
        rows.append((f"against django-invitations, {label}: invite creation",
                     f"{rps(side['tether_create']):,.0f} req/s",
                     f"django-invitations: {rps(side['peer_create']):,.0f} req/s → **{create_ratio:.1f}×**", bar_create))
    outbox, direct = statistics.median(results["mail_outbox"]), statistics.median(results["mail_direct"])
    ratio = outbox / direct
    rows.append((f"e-mail: the outbox delivering a backlog of {MAIL_BACKLOG:,} invite e-mails to a local SMTP server (aiosmtpd)",
                 f"{outbox:,.0f} messages/s",
                 f"the same messages straight through lettre, {MAIL_IN_FLIGHT} in flight: {direct:,.0f}/s → **{ratio:.0%}**",
                 f"≥ 80%: {verdict(ratio >= 0.8)}"))
    outbox, direct = statistics.median(results["hook_outbox"]), statistics.median(results["hook_direct"])
    ratio = outbox / direct
    rows.append((f"webhooks: the outbox delivering {HOOK_EVENTS:,} events to a local receiver answering 200 (every signature verified)",
                 f"{outbox:,.0f} events/s",
                 f"the same requests straight through reqwest, {HOOK_IN_FLIGHT} in flight: {direct:,.0f}/s → **{ratio:.0%}**",
                 f"≥ 50%: {verdict(ratio >= 0.5)}"))
    rows.append((f"e-mail: request sent → message accepted by the SMTP server, idle, {MAIL_LATENCY_SAMPLES} invites one at a time",
                 f"p50 {results['mail_latency_p50']:.1f} ms, p99 {results['mail_latency_p99']:.1f} ms", "",
                 f"p99 < 1 s: {verdict(results['mail_latency_p99'] < 1000)}"))
    without = results["create_mail_without"]
    for name, what in (("delivered", "delivered meanwhile to the local SMTP server"),
                       ("queued", "the SMTP server down, so every message waits")):
        side = results[f"create_mail_{name}"]
        cost = rps(without) / rps(side) - 1
        rows.append((f"`POST /api/invites` with `send_email`, {what}, 64 connections",
                     f"{rps(side):,.0f} req/s; {latency(side)}",
                     f"without `send_email`: {rps(without):,.0f} req/s; {latency(without)} → costs **{cost:+.0%}**",
                     f"≤ 15% more: {verdict(cost <= 0.15)}"))
    if "pg_reference_page" in results:
        for key, what, reference_what in (
                ("page", "`GET /invite/{token}` on PostgreSQL, 10k links cycled, 64 connections",
                 "the page's own query through sqlx's `PgPool`"),
                ("create", "`POST /api/invites` on PostgreSQL, distinct emails, 64 connections",
                 "a one-row insert through sqlx's `PgPool`")):
            ours, reference = results[f"pg_{key}"], results[f"pg_reference_{key}"]
            ratio = rps(ours) / rps(reference)
            rows.append((what, f"{rps(ours):,.0f} req/s; {latency(ours)}",
                         f"{reference_what}: {rps(reference):,.0f} req/s → **{ratio:.0%}**",
                         f"≥ 60%: {verdict(ratio >= 0.6)}"))
    table = "\n".join(f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows)

    pg = ""
    if "pg_page" in results:
        pg = f"""
### PostgreSQL beside SQLite

| measure | SQLite | PostgreSQL (local server) |
|---|---|---|
| `GET /invite/{{token}}`, 10k links, 64 connections | {rps(page):,.0f} req/s; {latency(page)} | {rps(results['pg_page']):,.0f} req/s; {latency(results['pg_page'])} |
| `POST /api/invites`, 64 connections | {rps(create):,.0f} req/s; {latency(create)} | {rps(results['pg_create']):,.0f} req/s; {latency(results['pg_create'])} |
"""
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
    rustc = subprocess.run(["rustc", "--version"], capture_output=True, text=True).stdout.strip()
    wrk_version = subprocess.run(["wrk", "--version"], capture_output=True, text=True)
    wrk_version = (wrk_version.stdout or wrk_version.stderr).splitlines()[0].split(" Copyright")[0]
    postgres = subprocess.run(["psql", "--version"], capture_output=True, text=True).stdout.strip()
    peer_versions = [line.strip() for line in (PEER / "requirements.txt").read_text().splitlines()
                     if "==" in line and not line.lstrip().startswith("#")]
    quick = " --quick (a smoke run of the scripts: too short to quote)" if QUICK else ""
    text = f"""# Benchmarks

Taken by `bench/run`{quick} on {datetime.date.today()}: {cpu}, {CORES} cores; {rustc};
{wrk_version}; {postgres}; the peer: {", ".join(peer_versions)} under gunicorn with
{CORES} sync workers. Tether is built with `--release` and runs on SQLite (WAL,
`synchronous = FULL`) unless the column says PostgreSQL. Each figure is the median of {RUNS}
run(s) of {SECONDS} s; every ratio is to a reference measured in the same run. The load
generator shares the machine's {CORES} cores with the server.

| measure | Tether | reference (same run) | bar |
|---|---|---|---|
{table}
{pg}"""
    text += "\n" + (BENCH / "analysis.md").read_text()
    (ROOT / "BENCHMARKS.md").write_text(text)
    print(text)


def main():
    python = sys.argv[sys.argv.index("--peer-python") + 1]
    results = {}
    try:
        measure_tether_sqlite(results)
        measure_email(results)
        measure_webhooks(results)
        measure_tether_postgres(results)
        measure_peer(results, python)
        write_report(results)
    finally:
        for process in running:
            process.terminate()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
