"""Redemptions per second through the real app, against what the database itself can do.

    .venv/bin/python bench/redeem.py                       # 1, 16 and 64 clients, 5 s each
    .venv/bin/python bench/redeem.py --clients 64 --seconds 10 --workers 2 --redis redis://127.0.0.1:6379/8

1. Creates a throwaway PostgreSQL database (postgresql://postgres@127.0.0.1:5432, trust
   auth; GIFTCERTS_BENCH_PG overrides the admin URL), migrates it with
   giftcerts.migrate.upgrade, and seeds one workspace, an API key, and a pool of active
   certificates, each with an order of its own (bulk inserts, so seeding takes seconds).
2. Starts the app as in production: `reflex run --env prod --frontend-port P
   --backend-port P` from the repository, with REFLEX_DB_URL pointing at that database.
3. For 1, 16 and 64 concurrent clients: each client holds one keep-alive HTTP/1.1
   connection and sends POST /api/v1/redemptions (distinct code, its own order, an
   Idempotency-Key as a careful booking platform would) back to back for --seconds.
   Every answer must be 201. Prints redemptions/s and p50/p99 latency.
4. The ceiling: the same redemption as SQL only — the conditional UPDATE of the
   certificate, the conditional UPDATE of the order, the redemption and activity INSERTs,
   one transaction — from N threads on N psycopg connections, same pool shape, same N.
5. Prints the ratio and PASS/FAIL against the targets at 64 clients: >= 1,000
   redemptions/s, p99 < 50 ms, >= 0.5 of the ceiling. Exit status 1 on any FAIL.

The load generator is a minimal asyncio HTTP client (not httpx) so that it takes as
little as possible of the CPU it shares with the server and the database.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import signal
import socket
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
TARGET_RATE = 1000.0
TARGET_P99_MS = 50.0
TARGET_RATIO = 0.5
AMOUNT = 5000


# --- database -----------------------------------------------------------------------------

def create_database() -> tuple[str, str]:
    name = f"giftcerts_bench_{secrets.token_hex(4)}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    return name, PG_ADMIN.rsplit("/", 1)[0] + "/" + name


def drop_database(name: str) -> None:
    db.dispose_all()
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


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

    def __init__(self, url: str, app_pgid: int | None):
        self.url, self.app_pgid = url, app_pgid

    def __enter__(self):
        self.database = DatabaseCpu(self.url)
        self.database.start()
        self.start = (group_cpu(self.app_pgid) if self.app_pgid else 0.0, time.process_time())
        return self

    def __exit__(self, *exc):
        end = (group_cpu(self.app_pgid) if self.app_pgid else 0.0, time.process_time())
        self.used = [end[0] - self.start[0], self.database.stop(), end[1] - self.start[1]]

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


async def _client(port: int, key: str, pool: Pool, stop_at: float, warm_until: float, latencies: list[float],
                  statuses: dict[int, int], idempotency: bool) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.perf_counter() < stop_at:
            pair = pool.take()
            if pair is None:
                raise SystemExit("the pool of certificates ran out: use a larger --pool")
            code, order_id = pair
            body = json.dumps({"code": code, "order_id": order_id}).encode()
            extra = f"Idempotency-Key: {uuid.uuid4()}\r\n" if idempotency else ""
            request = (f"POST /api/v1/redemptions HTTP/1.1\r\nHost: localhost:{port}\r\n"
                       f"Authorization: Bearer {key}\r\nContent-Type: application/json\r\n{extra}"
                       f"Content-Length: {len(body)}\r\n\r\n").encode() + body
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


def run_api(port: int, key: str, pairs, clients: int, seconds: float, warmup: float, idempotency: bool) -> dict:
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    pool = Pool(pairs)

    async def main():
        now = time.perf_counter()
        await asyncio.gather(*(_client(port, key, pool, now + warmup + seconds, now + warmup, latencies, statuses,
                                       idempotency) for _ in range(clients)))
    began = time.perf_counter()
    asyncio.run(main())
    elapsed = time.perf_counter() - began - warmup
    return {**summarise(latencies, elapsed, statuses), "all": pool.taken}


def run_sql(url: str, ws_id: int, pairs, threads: int, seconds: float, warmup: float) -> dict:
    """The floor of the work: the four statements of a redemption, nothing else."""
    pool = Pool(pairs)
    lock = threading.Lock()
    latencies: list[float] = []
    failures = [0]
    start = time.perf_counter()
    warm_until, stop_at = start + warmup, start + warmup + seconds
    conninfo = url.replace("postgresql+psycopg://", "postgresql://")

    errors: list[str] = []

    def worker():
        with psycopg.connect(conninfo) as conn:
            mine = []
            while time.perf_counter() < stop_at:
                with lock:
                    pair = pool.take()
                if pair is None:
                    errors.append("the pool of certificates ran out: use a larger --pool")
                    return
                cert_id, order_id = pair
                began = time.perf_counter()
                with conn.transaction():
                    done = conn.execute(
                        "UPDATE certificates SET status = 'redeemed', redeemed_at = now() "
                        "WHERE id = %s AND workspace_id = %s AND status = 'active' AND expires_at > now()",
                        (cert_id, ws_id)).rowcount
                    taken = conn.execute(
                        "UPDATE orders SET amount_due_cents = amount_due_cents - %s "
                        "WHERE id = %s AND status = 'open' AND amount_due_cents >= %s",
                        (AMOUNT, order_id, AMOUNT)).rowcount
                    conn.execute(
                        "INSERT INTO redemptions (workspace_id, order_id, certificate_id, amount_cents, status, "
                        "created_at) VALUES (%s, %s, %s, %s, 'applied', now())", (ws_id, order_id, cert_id, AMOUNT))
                    conn.execute(
                        "INSERT INTO activities (workspace_id, certificate_id, kind, actor, created_at, details) "
                        "VALUES (%s, %s, 'Redeemed', 'bench', now(), 'Order')", (ws_id, cert_id))
                ended = time.perf_counter()
                if done != 1 or taken != 1:
                    failures[0] += 1
                if began >= warm_until:
                    mine.append(ended - began)
            with lock:
                latencies.extend(mine)

    pool_threads = [threading.Thread(target=worker) for _ in range(threads)]
    for t in pool_threads:
        t.start()
    for t in pool_threads:
        t.join()
    if errors:
        raise SystemExit(errors[0])
    elapsed = time.perf_counter() - start - warmup
    result = summarise(latencies, elapsed, {200: len(latencies)})
    result["failures"] = failures[0]
    result["all"] = pool.taken
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
    parser.add_argument("--clients", default="1,16,64", help="comma-separated client counts (default 1,16,64)")
    parser.add_argument("--seconds", type=float, default=5.0, help="measured seconds per level (default 5)")
    parser.add_argument("--warmup", type=float, default=1.0, help="unmeasured seconds before each level")
    parser.add_argument("--pool", type=int, default=40_000, help="certificates seeded for each side")
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

    name, url = create_database()
    log_path = Path(tempfile.gettempdir()) / f"{name}-app.log"
    proc = None
    try:
        t0 = time.perf_counter()
        migrate.upgrade(url)
        ws_id, key, api_pairs, sql_pairs = seed(url, args.pool)
        print(f"database {name}: migrated and seeded {2 * args.pool:,} certificates and orders "
              f"in {time.perf_counter() - t0:.1f} s")
        port = free_port()
        t0 = time.perf_counter()
        proc = start_app(url, port, args.workers, log_path, args.redis)
        print(f"app: reflex run --env prod on port {port} (workers: {args.workers or 'default'}, "
              f"redis: {args.redis or 'no'}), "
              f"up in {time.perf_counter() - t0:.1f} s; log {log_path}")
        load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
        print(f"cpus: {os.cpu_count()} (load average before the run: {load}); idempotency key: {'no' if args.no_idempotency_key else 'yes'}; "
              f"{args.seconds:g} s measured per level after {args.warmup:g} s warm-up\n")

        api_iter, sql_iter = iter(api_pairs), iter(sql_pairs)
        rows = []
        for n in levels:
            with CpuMeter(url, proc.pid) as meter:
                api = run_api(port, key, api_iter, n, args.seconds, args.warmup, not args.no_idempotency_key)
            api.update(meter.per_request(api["all"]))
            bad = {s: c for s, c in api["statuses"].items() if s != 201}
            if bad:
                print(f"  !! {n} clients: non-201 answers {bad}; see {log_path}")
            with CpuMeter(url, None) as meter:
                ceiling = run_sql(url, ws_id, sql_iter, n, args.seconds, args.warmup)
            ceiling.update(meter.per_request(ceiling["all"]))
            if ceiling["failures"]:
                print(f"  !! ceiling at {n}: {ceiling['failures']} conditional updates matched no row")
            rows.append((n, api, ceiling))

        print(f"{'clients':>7}  {'API red/s':>9}  {'p50 ms':>7}  {'p99 ms':>7}   {'SQL red/s':>9}  {'p50 ms':>7}  "
              f"{'p99 ms':>7}   {'API/SQL':>7}")
        for n, api, ceiling in rows:
            print(f"{n:>7}  {api['rate']:>9.0f}  {api['p50']:>7.1f}  {api['p99']:>7.1f}   {ceiling['rate']:>9.0f}  "
                  f"{ceiling['p50']:>7.1f}  {ceiling['p99']:>7.1f}   {api['rate'] / ceiling['rate']:>7.2f}")
        print("\nCPU ms per redemption (robust to other load on the machine; the rates above are not):")
        print(f"{'clients':>7}  {'API: app':>8}  {'db':>5}  {'client':>6}  {'total':>5}   {'SQL: db':>7}  {'client':>6}  "
              f"{'total':>5}")
        for n, api, ceiling in rows:
            print(f"{n:>7}  {api['app_cpu']:>8.2f}  {api['db_cpu']:>5.2f}  {api['client_cpu']:>6.2f}  "
                  f"{api['app_cpu'] + api['db_cpu'] + api['client_cpu']:>5.2f}   {ceiling['db_cpu']:>7.2f}  "
                  f"{ceiling['client_cpu']:>6.2f}  {ceiling['db_cpu'] + ceiling['client_cpu']:>5.2f}")

        load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
        print(f"load average after the run: {load}")
        with db.read_session(url) as s:
            applied = s.execute(sa.text("SELECT count(*) FROM redemptions")).scalar_one()
        served = sum(api["statuses"].get(201, 0) for _, api, _ in rows)
        print(f"\nredemptions in the database: {applied:,} (API 201s measured: {served:,}, plus warm-up and ceiling)")

        n, api, ceiling = max(rows, key=lambda row: row[0])
        checks = [
            (f"{n} clients: >= {TARGET_RATE:,.0f} redemptions/s", api["rate"] >= TARGET_RATE, f"{api['rate']:,.0f}/s"),
            (f"{n} clients: p99 < {TARGET_P99_MS:.0f} ms", api["p99"] < TARGET_P99_MS, f"{api['p99']:.1f} ms"),
            (f"{n} clients: >= {TARGET_RATIO} of the SQL ceiling", api["rate"] / ceiling["rate"] >= TARGET_RATIO,
             f"{api['rate'] / ceiling['rate']:.2f}"),
            ("every API answer was 201", all(set(a["statuses"]) <= {201} for _, a, _ in rows), ""),
        ]
        print()
        for label, ok, value in checks:
            print(f"{'PASS' if ok else 'FAIL'}  {label:<42} {value}")
        return 0 if all(ok for _, ok, _ in checks) else 1
    finally:
        if proc is not None:
            stop_app(proc)
        if args.keep:
            print(f"kept database: {url}")
        else:
            drop_database(name)


if __name__ == "__main__":
    sys.exit(main())
