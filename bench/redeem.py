"""Redemptions per second through the real app, against what the database itself can do.

    .venv/bin/python bench/redeem.py                        # PostgreSQL: 1, 16 and 64 clients, 5 s each
    .venv/bin/python bench/redeem.py --db sqlite            # SQLite, served exactly as `make run` serves it
    .venv/bin/python bench/redeem.py --clients 64 --seconds 10 --workers 2 --redis redis://127.0.0.1:6379/8

1. Creates a throwaway database — PostgreSQL (postgresql://postgres@127.0.0.1:5432, trust
   auth; GIFTCERTS_BENCH_PG overrides the admin URL) or a SQLite file — migrates it with
   giftcerts.migrate.upgrade, and seeds one workspace, an API key, and a pool of active
   certificates, each with an order of its own (bulk inserts, so seeding takes seconds).
2. Starts the app as in production: `reflex run --env prod --frontend-port P
   --backend-port P` from the repository, with REFLEX_DB_URL pointing at that database.
3. For each client count: each client holds one keep-alive HTTP/1.1 connection and sends
   POST /api/v1/redemptions (distinct code, its own order, an Idempotency-Key as a careful
   booking platform would) back to back for --seconds. Every answer must be 201. Prints
   redemptions/s, p50/p99 latency and CPU per redemption.
4. In the same run, with the same number of clients, the two limits around it:
   - the HTTP floor: GET /api/v1/health (a constant answer) on the same server;
   - the database ceiling: the same redemption as bare SQL, no Python in the loop — the
     conditional UPDATEs of the certificate and the order and the redemption and activity
     INSERTs in one transaction. On PostgreSQL that is `pgbench -n -M prepared -j 2 -c N`
     (a C client; Python threads would measure the GIL, not the database); on SQLite,
     which has one writer and no server, the same statements from one connection in
     BEGIN IMMEDIATE transactions.
5. Prints PASS/FAIL against the targets (exit status 1 on any FAIL):
   - SQLite: >= 1,000 redemptions/s and p99 < 50 ms at 16 clients;
   - PostgreSQL: >= 0.4 of the pgbench ceiling at 16 and 64 clients, p99 < 100 ms at 64,
     database CPU per redemption <= 1.3x the ceiling's.

The load generator is a minimal asyncio HTTP client (not httpx) so that it takes as
little as possible of the CPU it shares with the server and the database.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import secrets
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import timedelta
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from giftcerts import db, migrate  # noqa: E402
from giftcerts.clock import utcnow  # noqa: E402
from giftcerts.core import apikeys, workspaces  # noqa: E402
from giftcerts.core.codes import generate_code  # noqa: E402
from giftcerts.models import Certificate, Order  # noqa: E402

PG_ADMIN = os.environ.get("GIFTCERTS_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
AMOUNT = 5000
# Targets on a 2-core machine, Idempotency-Key on (see the docstring).
SQLITE_RATE, SQLITE_P99_MS, SQLITE_AT = 1000.0, 50.0, 16
PG_RATIO, PG_P99_MS, PG_DB_CPU_RATIO = 0.4, 100.0, 1.3


# --- database -----------------------------------------------------------------------------

def create_database(kind: str) -> tuple[str, str]:
    name = f"giftcerts_bench_{secrets.token_hex(4)}"
    if kind == "sqlite":
        return name, f"sqlite:///{Path(tempfile.gettempdir()) / (name + '.db')}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    return name, PG_ADMIN.rsplit("/", 1)[0] + "/" + name


def drop_database(name: str, url: str) -> None:
    db.dispose_all()
    if url.startswith("sqlite"):
        for suffix in ("", "-wal", "-shm"):
            Path(sqlite_path(url) + suffix).unlink(missing_ok=True)
        return
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def sqlite_path(url: str) -> str:
    return url.split("///", 1)[1]


def seed(url: str, count: int) -> tuple[int, str, list[tuple[str, int]], list[tuple[int, int]]]:
    """A workspace, an API key, and `count` (code, order id) pairs for the API plus as many
    (certificate id, order id) pairs for the ceiling."""
    with db.write_session(url) as s:
        ws = workspaces.create_workspace(s, slug="bench", name="Bench Tours", currency="USD", timezone="UTC")
        _, key = apikeys.create_api_key(s, ws, name="bench")
        ws_id = ws.id
    now = utcnow()
    total = 2 * count
    codes = set()
    while len(codes) < total:
        codes.add(generate_code())
    certs = [dict(workspace_id=ws_id, code=code, status="active", amount_cents=AMOUNT, currency="USD",
                  purchaser_name="Bench Buyer", purchaser_email="buyer@example.com", recipient_name="Bench Guest",
                  recipient_email="guest@example.com", message="", source="api", created_at=now,
                  activated_at=now, expires_at=now + timedelta(days=365)) for code in codes]
    orders = [dict(workspace_id=ws_id, reference=f"BENCH-{n}", total_cents=2 * AMOUNT, amount_due_cents=2 * AMOUNT,
                   currency="USD", customer_email="", status="open", created_at=now) for n in range(total)]
    with db.write_session(url) as s:
        cert_rows = s.execute(sa.insert(Certificate).returning(Certificate.id, Certificate.code, sort_by_parameter_order=True),
                              certs).all()
        order_ids = s.execute(sa.insert(Order).returning(Order.id, sort_by_parameter_order=True), orders).scalars().all()
    if url.startswith("sqlite"):
        with sqlite3.connect(sqlite_path(url)) as conn:
            conn.execute("ANALYZE")
    else:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")
    api_pairs = [(code, oid) for (_, code), oid in zip(cert_rows[:count], order_ids[:count])]
    sql_pairs = [(cid, oid) for (cid, _), oid in zip(cert_rows[count:], order_ids[count:])]
    return ws_id, key, api_pairs, sql_pairs


# --- CPU accounting -------------------------------------------------------------------------

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _proc_cpu(pid: int) -> tuple[int, float] | None:
    """(process group, CPU seconds) of a process, from /proc/<pid>/stat."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return int(fields[2]), (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def group_cpu(pgid: int) -> float:
    """CPU seconds used so far by the live processes of a process group (the app's server and workers)."""
    total = 0.0
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (found := _proc_cpu(int(entry))) and found[0] == pgid:
            total += found[1]
    return total


class DatabaseCpu(threading.Thread):
    """CPU seconds of the PostgreSQL server processes serving one database, sampled every
    50 ms from /proc/<pid>/stat: connections that open and close during a run (pool overflow,
    the ceiling's threads) are counted up to their last sample."""

    def __init__(self, url: str):
        super().__init__(daemon=True)
        self.name_ = url.rsplit("/", 1)[1]
        self.first: dict[int, float] = {}
        self.last: dict[int, float] = {}
        self.stopping = threading.Event()
        self.admin = psycopg.connect(PG_ADMIN, autocommit=True)
        self.admin_pid = self.admin.info.backend_pid
        self._sample(initial=True)

    def _sample(self, initial: bool = False) -> None:
        pids = [r[0] for r in self.admin.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s",
                                                 (self.name_,))]
        for pid in pids:
            if pid != self.admin_pid and (found := _proc_cpu(pid)):
                self.first.setdefault(pid, found[1] if initial else 0.0)
                self.last[pid] = found[1]

    def run(self) -> None:
        while not self.stopping.wait(0.05):
            self._sample()

    def stop(self) -> float:
        self.stopping.set()
        self.join()
        self._sample()
        self.admin.close()
        return sum(self.last[pid] - self.first[pid] for pid in self.last)


class CpuMeter:
    """CPU time of the app, the database and this process (the load generator) over a run.

    Unlike requests per second, CPU time per request hardly depends on what else the
    machine is doing, so it is the figure to compare between runs on a shared machine.
    """

    def __init__(self, url: str, app_pgid: int | None, children: bool = False):
        self.url, self.app_pgid, self.children = url, app_pgid, children

    def __enter__(self):
        # SQLite has no server: its work is inside the app's (or this process's) CPU.
        self.database = None if self.url.startswith("sqlite") else DatabaseCpu(self.url)
        if self.database:
            self.database.start()
        self.children_start = os.times().children_user + os.times().children_system
        self.start = (group_cpu(self.app_pgid) if self.app_pgid else 0.0, time.process_time())
        return self

    def __exit__(self, *exc):
        end = (group_cpu(self.app_pgid) if self.app_pgid else 0.0, time.process_time())
        client = end[1] - self.start[1]
        if self.children:  # a load generator run as a child process (pgbench)
            client += os.times().children_user + os.times().children_system - self.children_start
        self.used = [end[0] - self.start[0], self.database.stop() if self.database else 0.0, client]

    def per_request(self, count: int) -> dict:
        app, database, client = (1000 * x / max(count, 1) for x in self.used)
        return {"app_cpu": app, "db_cpu": database, "client_cpu": client}


# --- the app ------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_app(url: str, port: int, workers: int | None, log_path: Path, redis: str | None = None) -> subprocess.Popen:
    base = f"http://localhost:{port}"
    path = [str(p) for p in (ROOT / ".tools/node_modules/.bin", Path("/work/tools/node_modules/.bin"),
                             Path(sys.executable).parent) if p.exists()]
    env = {**os.environ, "REFLEX_DB_URL": url, "PORT": str(port), "GIFTCERTS_PUBLIC_URL": base,
           "REFLEX_TELEMETRY_ENABLED": "false", "REFLEX_USE_SYSTEM_BUN": "1",
           "PATH": os.pathsep.join([*path, os.environ.get("PATH", "")])}
    if workers:
        env["GRANIAN_WORKERS"] = str(workers)
    if redis:  # Reflex's state and the guess budgets, shared by the workers
        env["REFLEX_REDIS_URL"] = redis
    log = open(log_path, "w")
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "reflex"), "run", "--env", "prod", "--frontend-port", str(port),
         "--backend-port", str(port)],
        env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the app exited with {proc.returncode}; see {log_path}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                sock.sendall(f"GET /api/v1/health HTTP/1.1\r\nHost: localhost:{port}\r\nConnection: close\r\n\r\n"
                             .encode())
                if sock.recv(64).startswith(b"HTTP/1.1 200"):
                    return proc
        except OSError:
            pass
        time.sleep(1)
    stop_app(proc)
    raise SystemExit(f"the app did not start in time; see {log_path}")


def stop_app(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)


# --- load ---------------------------------------------------------------------------------

class Pool:
    def __init__(self, items):
        self.items = iter(items)
        self.taken = 0  # every item taken is used for one request that completes

    def take(self):
        item = next(self.items, None)
        self.taken += item is not None
        return item


def _redeem_request(port: int, key: str, pool: Pool, idempotency: bool) -> bytes:
    pair = pool.take()
    if pair is None:
        raise SystemExit("the pool of certificates ran out: use a larger --pool")
    code, order_id = pair
    body = json.dumps({"code": code, "order_id": order_id}).encode()
    extra = f"Idempotency-Key: {uuid.uuid4()}\r\n" if idempotency else ""
    return (f"POST /api/v1/redemptions HTTP/1.1\r\nHost: localhost:{port}\r\n"
            f"Authorization: Bearer {key}\r\nContent-Type: application/json\r\n{extra}"
            f"Content-Length: {len(body)}\r\n\r\n").encode() + body


async def _client(port: int, make_request, stop_at: float, warm_until: float, latencies: list[float],
                  statuses: dict[int, int]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.perf_counter() < stop_at:
            request = make_request()
            started = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            await reader.readexactly(length)
            finished = time.perf_counter()
            status = int(head[9:12])
            if started >= warm_until:
                latencies.append(finished - started)
                statuses[status] = statuses.get(status, 0) + 1
    finally:
        writer.close()


def run_http(port: int, make_request, clients: int, seconds: float, warmup: float) -> dict:
    latencies: list[float] = []
    statuses: dict[int, int] = {}

    async def main():
        now = time.perf_counter()
        await asyncio.gather(*(_client(port, make_request, now + warmup + seconds, now + warmup, latencies, statuses)
                               for _ in range(clients)))
    began = time.perf_counter()
    asyncio.run(main())
    return summarise(latencies, time.perf_counter() - began - warmup, statuses)


def run_api(port: int, key: str, pairs, clients: int, seconds: float, warmup: float, idempotency: bool) -> dict:
    pool = Pool(pairs)
    result = run_http(port, lambda: _redeem_request(port, key, pool, idempotency), clients, seconds, warmup)
    return {**result, "all": pool.taken}


def run_floor(port: int, clients: int, seconds: float, warmup: float) -> dict:
    """The HTTP floor: a constant answer from the same server, through the same client."""
    request = f"GET /api/v1/health HTTP/1.1\r\nHost: localhost:{port}\r\n\r\n".encode()
    result = run_http(port, lambda: request, clients, seconds, warmup)
    return {**result, "all": sum(result["statuses"].values())}


# The redemption without the app: the same four writes, in one transaction.
CEILING_SQL = {
    "cert": "UPDATE certificates SET status = 'redeemed', redeemed_at = {now} "
            "WHERE id = {cert} AND workspace_id = {ws} AND status = 'active' AND expires_at > {now}",
    "order": "UPDATE orders SET amount_due_cents = amount_due_cents - {amount} "
             "WHERE id = {order} AND status = 'open' AND amount_due_cents >= {amount}",
    "redemption": "INSERT INTO redemptions (workspace_id, order_id, certificate_id, amount_cents, status, created_at) "
                  "VALUES ({ws}, {order}, {cert}, {amount}, 'applied', {now})",
    "activity": "INSERT INTO activities (workspace_id, certificate_id, kind, actor, created_at, details) "
                "VALUES ({ws}, {cert}, 'Redeemed', 'bench', {now}, 'Order')",
}


class Ceiling:
    """Hands out the ceiling's (certificate, order) pairs — consecutive ids — a block per run,
    and checks afterwards that every transaction of the run redeemed a certificate of its own."""

    def __init__(self, url: str, ws_id: int, pairs: list[tuple[int, int]]):
        self.url, self.ws_id, self.next = url, ws_id, 0
        self.cert0, self.order0 = pairs[0]
        if any(pair != (self.cert0 + k, self.order0 + k) for k, pair in enumerate(pairs)):
            raise SystemExit("the ceiling's certificates and orders were not given consecutive ids")
        self.size = len(pairs)

    def take(self, count: int) -> tuple[int, int]:
        """Mark `count` pairs from the start of the free block used; their certificate ids."""
        first, self.next = self.next, self.next + count
        if self.next > self.size:
            raise SystemExit("the pool of certificates ran out: use a larger --pool")
        return self.cert0 + first, self.cert0 + self.next - 1

    def redeemed(self, first: int, last: int) -> int:
        with db.read_session(self.url) as s:
            return s.execute(sa.text("SELECT count(*) FROM certificates WHERE id BETWEEN :a AND :b "
                                     "AND status = 'redeemed'"), {"a": first, "b": last}).scalar_one()


def run_pgbench(url: str, ceiling: Ceiling, clients: int, seconds: float) -> dict:
    """`pgbench -n -M prepared -j 2 -c N -T S`: client c's i-th transaction redeems pair
    c + i*N of the free block, so no two transactions touch the same certificate or order."""
    if not shutil.which("pgbench"):
        raise SystemExit("pgbench is missing (Debian: apt-get install postgresql-client)")
    names = {k: f":{k}" for k in ("cert", "order", "ws", "amount")}
    script = ("\\set cert :cert0 + :client_id + :i * :nclients\n\\set order :order0 + :client_id + :i * :nclients\n"
              "\\set i :i + 1\nBEGIN;\n"
              + "".join(sql.format(now="now()", **names) + ";\n" for sql in CEILING_SQL.values()) + "COMMIT;\n")
    block = ceiling.next
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "redeem.sql").write_text(script)
        defines = {"cert0": ceiling.cert0 + block, "order0": ceiling.order0 + block, "i": 0, "nclients": clients,
                   "ws": ceiling.ws_id, "amount": AMOUNT}
        command = ["pgbench", "-n", "-M", "prepared", "-j", str(min(2, clients)), "-c", str(clients),
                   "-T", str(max(1, round(seconds))), "-f", "redeem.sql", "-l", "--log-prefix", "tx",
                   *(arg for k, v in defines.items() for arg in ("-D", f"{k}={v}")),
                   url.replace("postgresql+psycopg://", "postgresql://")]
        done = subprocess.run(command, cwd=tmp, capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"pgbench failed:\n{done.stdout}\n{done.stderr}")
        rows = [line.split() for log in Path(tmp).glob("tx.*") for line in log.read_text().splitlines() if line.strip()]
    latencies = [int(row[2]) / 1e6 for row in rows]
    per_client = [sum(1 for row in rows if row[0] == str(c)) for c in range(clients)]
    match = re.search(r"tps = ([0-9.]+) \(without initial connection time\)", done.stdout)
    result = summarise(latencies, max(1, round(seconds)), {200: len(latencies)})
    if match:
        result["rate"] = float(match.group(1))
    # Client c's transactions took pairs c, c+N, c+2N, ... of the block.
    first, last = ceiling.take(max(per_client) * clients)
    result["all"] = len(latencies)
    result["failures"] = len(latencies) - ceiling.redeemed(first, last)
    return result


def run_sqlite_ceiling(url: str, ceiling: Ceiling, seconds: float, warmup: float) -> dict:
    """SQLite has one writer and no server: the same statements from one connection, each
    redemption in its own BEGIN IMMEDIATE transaction, with the app's pragmas."""
    conn = sqlite3.connect(sqlite_path(url), isolation_level=None)
    for pragma in ("journal_mode=WAL", "busy_timeout=30000", "foreign_keys=ON", "synchronous=NORMAL"):
        conn.execute(f"PRAGMA {pragma}")
    names = {k: f":{k}" for k in ("cert", "order", "ws", "amount")}
    statements = [sql.format(now="CURRENT_TIMESTAMP", **names) for sql in CEILING_SQL.values()]
    block, latencies, k = ceiling.next, [], 0
    start = time.perf_counter()
    warm_until, stop_at = start + warmup, start + warmup + seconds
    while (began := time.perf_counter()) < stop_at:
        if block + k >= ceiling.size:
            raise SystemExit("the pool of certificates ran out: use a larger --pool")
        params = {"cert": ceiling.cert0 + block + k, "order": ceiling.order0 + block + k,
                  "ws": ceiling.ws_id, "amount": AMOUNT}
        conn.execute("BEGIN IMMEDIATE")
        for sql in statements:
            conn.execute(sql, params)
        conn.execute("COMMIT")
        k += 1
        if began >= warm_until:
            latencies.append(time.perf_counter() - began)
    conn.close()
    result = summarise(latencies, time.perf_counter() - start - warmup, {200: len(latencies)})
    first, last = ceiling.take(k)
    result["all"] = k
    result["failures"] = k - ceiling.redeemed(first, last)
    return result


def summarise(latencies: list[float], elapsed: float, statuses: dict[int, int]) -> dict:
    ordered = sorted(latencies)

    def pct(p):
        return 1000 * ordered[min(len(ordered) - 1, int(p * len(ordered)))] if ordered else float("nan")
    return {"count": len(ordered), "rate": len(ordered) / elapsed, "p50": pct(0.50), "p99": pct(0.99),
            "mean": 1000 * statistics.fmean(ordered) if ordered else float("nan"), "statuses": statuses}


# --- main ---------------------------------------------------------------------------------

def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=("postgres", "sqlite"), default="postgres",
                        help="the database the app runs on (default postgres; sqlite is what `make run` serves)")
    parser.add_argument("--clients", default="1,16,64", help="comma-separated client counts (default 1,16,64)")
    parser.add_argument("--seconds", type=float, default=5.0, help="measured seconds per level (default 5)")
    parser.add_argument("--warmup", type=float, default=1.0, help="unmeasured seconds before each level")
    parser.add_argument("--pool", type=int, default=60_000, help="certificates seeded for each side")
    parser.add_argument("--redis", default=None, metavar="URL",
                        help="REFLEX_REDIS_URL for the app (needed for --workers > 1), e.g. redis://127.0.0.1:6379/8")
    parser.add_argument("--workers", type=int, default=None,
                        help="app worker processes (GRANIAN_WORKERS); default: Reflex's choice (1 without Redis)")
    parser.add_argument("--no-idempotency-key", action="store_true", help="send no Idempotency-Key header")
    parser.add_argument("--keep", action="store_true", help="keep the database and print its URL")
    args = parser.parse_args()
    levels = [int(n) for n in args.clients.split(",")]
    if (args.workers or 1) > 1 and not args.redis:
        parser.error("several workers need --redis: the guess budgets (and Reflex's state) must be shared")
    if (args.workers or 1) > 1 and args.db == "sqlite":
        parser.error("SQLite is served by one process (its writer lock is in-process): drop --workers")
    sqlite = args.db == "sqlite"

    name, url = create_database(args.db)
    log_path = Path(tempfile.gettempdir()) / f"{name}-app.log"
    proc = None
    try:
        t0 = time.perf_counter()
        migrate.upgrade(url)
        ws_id, key, api_pairs, sql_pairs = seed(url, args.pool)
        ceiling_pairs = Ceiling(url, ws_id, sql_pairs)
        print(f"database {name} ({args.db}): migrated and seeded {2 * args.pool:,} certificates and orders "
              f"in {time.perf_counter() - t0:.1f} s")
        port = free_port()
        t0 = time.perf_counter()
        proc = start_app(url, port, args.workers, log_path, args.redis)
        print(f"app: reflex run --env prod on port {port} (workers: {args.workers or 'default'}, "
              f"redis: {args.redis or 'no'}), up in {time.perf_counter() - t0:.1f} s; log {log_path}")
        load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
        ceiling_name = "SQLite, 1 connection, BEGIN IMMEDIATE" if sqlite else "pgbench -M prepared -j 2"
        print(f"cpus: {os.cpu_count()} (load average before the run: {load}); idempotency key: "
              f"{'no' if args.no_idempotency_key else 'yes'}; {args.seconds:g} s measured per level after "
              f"{args.warmup:g} s warm-up; ceiling: {ceiling_name}\n")

        api_iter = iter(api_pairs)
        rows = []
        for n in levels:
            with CpuMeter(url, proc.pid) as meter:
                floor = run_floor(port, n, args.seconds, args.warmup)
            floor.update(meter.per_request(floor["all"]))
            with CpuMeter(url, proc.pid) as meter:
                api = run_api(port, key, api_iter, n, args.seconds, args.warmup, not args.no_idempotency_key)
            api.update(meter.per_request(api["all"]))
            bad = {s: c for s, c in api["statuses"].items() if s != 201}
            if bad:
                print(f"  !! {n} clients: non-201 answers {bad}; see {log_path}")
            if sqlite and rows:  # one writer, whatever the number of clients: measured once
                ceiling = rows[0][3]
            else:
                with CpuMeter(url, None, children=not sqlite) as meter:
                    if sqlite:
                        ceiling = run_sqlite_ceiling(url, ceiling_pairs, args.seconds, args.warmup)
                    else:
                        ceiling = run_pgbench(url, ceiling_pairs, n, args.seconds)
                ceiling.update(meter.per_request(ceiling["all"]))
            if ceiling["failures"]:
                print(f"  !! ceiling at {n}: {ceiling['failures']} transactions redeemed no certificate")
            rows.append((n, floor, api, ceiling))

        print(f"{'clients':>7}  {'HTTP floor/s':>12}  {'API red/s':>9}  {'p50 ms':>7}  {'p99 ms':>7}   "
              f"{'ceiling/s':>9}  {'p50 ms':>7}  {'p99 ms':>7}   {'API/ceiling':>11}")
        for n, floor, api, ceiling in rows:
            print(f"{n:>7}  {floor['rate']:>12.0f}  {api['rate']:>9.0f}  {api['p50']:>7.1f}  {api['p99']:>7.1f}   "
                  f"{ceiling['rate']:>9.0f}  {ceiling['p50']:>7.1f}  {ceiling['p99']:>7.1f}   "
                  f"{api['rate'] / ceiling['rate']:>11.2f}")
        where = " (SQLite runs inside the app: its work is in app CPU)" if sqlite else ""
        print(f"\nCPU ms per request{where}; robust to other load on the machine, the rates above are not:")
        print(f"{'clients':>7}  {'floor: app':>10}  {'API: app':>8}  {'db':>5}  {'client':>6}   "
              f"{'ceiling: db':>11}  {'client':>6}   {'API db/ceiling db':>17}")
        for n, floor, api, ceiling in rows:
            ratio = api["db_cpu"] / ceiling["db_cpu"] if ceiling["db_cpu"] else float("nan")
            print(f"{n:>7}  {floor['app_cpu']:>10.2f}  {api['app_cpu']:>8.2f}  {api['db_cpu']:>5.2f}  "
                  f"{api['client_cpu']:>6.2f}   {ceiling['db_cpu']:>11.2f}  {ceiling['client_cpu']:>6.2f}   "
                  f"{ratio:>17.2f}")

        load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
        print(f"load average after the run: {load}")
        with db.read_session(url) as s:
            applied = s.execute(sa.text("SELECT count(*) FROM redemptions")).scalar_one()
        served = sum(api["statuses"].get(201, 0) for _, _, api, _ in rows)
        print(f"\nredemptions in the database: {applied:,} (API 201s measured: {served:,}, plus warm-up and ceiling)")

        by_clients = {n: (api, ceiling) for n, _, api, ceiling in rows}
        checks = [("every API answer was 201", all(set(api["statuses"]) <= {201} for _, _, api, _ in rows), "")]
        if sqlite:
            if SQLITE_AT in by_clients:
                api, _ = by_clients[SQLITE_AT]
                checks += [
                    (f"{SQLITE_AT} clients: >= {SQLITE_RATE:,.0f} redemptions/s", api["rate"] >= SQLITE_RATE,
                     f"{api['rate']:,.0f}/s"),
                    (f"{SQLITE_AT} clients: p99 < {SQLITE_P99_MS:.0f} ms", api["p99"] < SQLITE_P99_MS,
                     f"{api['p99']:.1f} ms"),
                ]
        else:
            for n in (16, 64):
                if n not in by_clients:
                    continue
                api, ceiling = by_clients[n]
                checks.append((f"{n} clients: >= {PG_RATIO} of the pgbench ceiling",
                               api["rate"] / ceiling["rate"] >= PG_RATIO, f"{api['rate'] / ceiling['rate']:.2f}"))
                ratio = api["db_cpu"] / ceiling["db_cpu"] if ceiling["db_cpu"] else float("inf")
                checks.append((f"{n} clients: db CPU <= {PG_DB_CPU_RATIO}x the ceiling's", ratio <= PG_DB_CPU_RATIO,
                               f"{ratio:.2f}x"))
            if 64 in by_clients:
                api, _ = by_clients[64]
                checks.append((f"64 clients: p99 < {PG_P99_MS:.0f} ms", api["p99"] < PG_P99_MS, f"{api['p99']:.1f} ms"))
        print()
        for label, ok, value in checks:
            print(f"{'PASS' if ok else 'FAIL'}  {label:<44} {value}")
        return 0 if all(ok for _, ok, _ in checks) else 1
    finally:
        if proc is not None:
            stop_app(proc)
        if args.keep:
            print(f"kept database: {url}")
        else:
            drop_database(name, url)


if __name__ == "__main__":
    sys.exit(main())
