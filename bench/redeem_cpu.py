"""CPU time per redemption through the API, robust to a busy machine.

    .venv/bin/python bench/redeem_cpu.py                    # PostgreSQL, 5 rounds of 400 redemptions
    .venv/bin/python bench/redeem_cpu.py --db sqlite -n 500
    .venv/bin/python bench/redeem_cpu.py --profile          # also print the top functions (cProfile)

Wall-clock throughput (bench/redeem.py) depends on what else runs on the machine; CPU
time spent per request does not (much). This calls the API's ASGI app in-process — the
Starlette routes that `giftcerts.giftcerts` mounts in Reflex, without Reflex's own
middleware or the HTTP server — with one request at a time, exactly like one client of
bench/redeem.py (POST /api/v1/redemptions, distinct code, its own order, an
Idempotency-Key), and reports per request:

- app CPU: `time.process_time()` of this process (all its threads) over the run, divided
  by the number of requests; the request is built and read with a few dict operations, so
  nearly all of it is the app;
- database CPU (PostgreSQL only): user+system time of the server processes serving this
  database, from /proc/<pid>/stat, over the same run;
- statements: SQL statements sent per request (psycopg cursor executes on PostgreSQL,
  sqlite3's trace callback on SQLite; neither counts BEGIN/COMMIT);
- wall ms: mean elapsed time per request (this one depends on the machine's load).

The run is split into rounds (default 5) and the minimum and median per column are
printed: on a shared machine the minimum is the least disturbed figure. Every answer must
be 201. The database is a throwaway one (dropped at the end).
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager
import asyncio
import cProfile
import json
import os
import pstats
import secrets
import statistics
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402
from sqlalchemy import event  # noqa: E402

from giftcerts import db, migrate  # noqa: E402
from giftcerts.clock import utcnow  # noqa: E402
from giftcerts.core import apikeys, workspaces  # noqa: E402
from giftcerts.core.codes import generate_code  # noqa: E402
from giftcerts.models import Certificate, Order  # noqa: E402

PG_ADMIN = os.environ.get("GIFTCERTS_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
AMOUNT = 5000
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def seed(url: str, count: int) -> tuple[str, list[tuple[str, int]]]:
    with db.write_session(url) as s:
        ws = workspaces.create_workspace(s, slug="bench", name="Bench Tours", currency="USD", timezone="UTC")
        _, key = apikeys.create_api_key(s, ws, name="bench")
        ws_id = ws.id
    now = utcnow()
    codes: set[str] = set()
    while len(codes) < count:
        codes.add(generate_code())
    certs = [dict(workspace_id=ws_id, code=code, status="active", amount_cents=AMOUNT, currency="USD",
                  purchaser_name="Bench Buyer", purchaser_email="buyer@example.com", recipient_name="Bench Guest",
                  recipient_email="guest@example.com", message="", source="api", created_at=now,
                  activated_at=now, expires_at=now + timedelta(days=365)) for code in sorted(codes)]
    orders = [dict(workspace_id=ws_id, reference=f"BENCH-{n}", total_cents=2 * AMOUNT, amount_due_cents=2 * AMOUNT,
                   currency="USD", customer_email="", status="open", created_at=now) for n in range(count)]
    with db.write_session(url) as s:
        s.execute(sa.insert(Certificate), certs)
        s.execute(sa.insert(Order), orders)
    with db.read_session(url) as s:
        codes_in_order = s.execute(sa.select(Certificate.code).order_by(Certificate.id)).scalars().all()
        order_ids = s.execute(sa.select(Order.id).order_by(Order.id)).scalars().all()
    return key, list(zip(codes_in_order, order_ids))


async def call(app, key: str, code: str, order_id: int, idempotency: bool = True) -> tuple[int, bytes]:
    """One POST /api/v1/redemptions straight into the ASGI app."""
    body = json.dumps({"code": code, "order_id": order_id}).encode()
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
        "path": "/api/v1/redemptions", "raw_path": b"/api/v1/redemptions", "root_path": "", "query_string": b"",
        "headers": [(b"host", b"localhost"), (b"authorization", f"Bearer {key}".encode()),
                    (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                    *([(b"idempotency-key", str(uuid.uuid4()).encode())] if idempotency else [])],
        "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 80),
    }
    sent = False
    status, chunks = 0, []

    async def receive():
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    async def send(message):
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    return status, b"".join(chunks)


def server_cpu(url: str) -> float:
    """CPU seconds used so far by the PostgreSQL processes connected to this database."""
    name = url.rsplit("/", 1)[1]
    total = 0.0
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        pids = [r[0] for r in admin.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", (name,))]
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime
    return total


@contextmanager
def throwaway_database(kind: str) -> Iterator[tuple[str, bool]]:
    """A new, migrated database (PostgreSQL, or a SQLite file), set as REFLEX_DB_URL, dropped
    afterwards: (its URL, whether it is PostgreSQL)."""
    name = None
    if kind == "postgres":
        name = f"giftcerts_bench_{secrets.token_hex(4)}"
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        url = PG_ADMIN.rsplit("/", 1)[0] + "/" + name
    else:
        url = f"sqlite:///{tempfile.mkdtemp()}/bench.db"
    os.environ["REFLEX_DB_URL"] = url
    try:
        migrate.upgrade(url)
        yield url, name is not None
    finally:
        db.dispose_all()
        if name:
            with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["postgres", "sqlite"], default="postgres")
    parser.add_argument("-n", type=int, default=2000, help="measured redemptions (default 2000)")
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5, help="measure in this many rounds; print min and median")
    parser.add_argument("--no-idempotency-key", action="store_true", help="send no Idempotency-Key header")
    parser.add_argument("--profile", action="store_true", help="profile the worker-thread part (dispatch.execute) and print its top 40 functions")
    args = parser.parse_args()

    with throwaway_database(args.db) as (url, on_postgres):
        key, pairs = seed(url, args.n + args.warmup)
        if on_postgres:
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute("VACUUM ANALYZE")

        from starlette.applications import Starlette

        from giftcerts.api.routes import routes
        app = Starlette(routes=routes())

        statements = [0]
        if on_postgres:  # count at the driver: some hot statements bypass SQLAlchemy
            execute = psycopg.Cursor.execute

            def counting(self, *a, **kw):
                statements[0] += 1
                return execute(self, *a, **kw)
            psycopg.Cursor.execute = counting
        else:
            # at the driver too (the hot statements bypass SQLAlchemy); BEGIN/COMMIT not counted
            db.dispose_all()

            def counted(sql: str) -> None:
                if not sql.startswith(("BEGIN", "COMMIT", "ROLLBACK", "PRAGMA")):
                    statements[0] += 1

            @event.listens_for(db.engine(url), "connect")
            def _trace(dbapi_connection, _record):
                dbapi_connection.set_trace_callback(counted)

        async def run(batch):
            for code, order_id in batch:
                status, body = await call(app, key, code, order_id, not args.no_idempotency_key)
                if status != 201:
                    raise SystemExit(f"expected 201, got {status}: {body[:300]!r}")

        warm, measured = pairs[:args.warmup], pairs[args.warmup:]
        asyncio.run(run(warm))
        statements[0] = 0
        profiler = cProfile.Profile() if args.profile else None
        if profiler:  # the database work runs in worker threads, which cProfile follows only if told
            from giftcerts.api import dispatch
            inner = dispatch.execute

            def profiled(*a, **kw):
                profiler.enable()
                try:
                    return inner(*a, **kw)
                finally:
                    profiler.disable()
            dispatch.execute = profiled
        n = args.n // args.rounds
        results = []
        for r in range(args.rounds):  # the smallest round is the least disturbed by other load
            batch = measured[r * n:(r + 1) * n]
            statements[0] = 0
            server0 = server_cpu(url) if on_postgres else 0.0
            cpu0, wall0 = time.process_time(), time.perf_counter()
            asyncio.run(run(batch))
            cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
            server = (server_cpu(url) - server0) if on_postgres else float("nan")
            results.append((1000 * cpu / n, 1000 * server / n, statements[0] / n, 1000 * wall / n))
        load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
        print(f"{args.db}: {args.rounds} rounds of {n} redemptions, one at a time, in-process ASGI, idempotency key: "
              f"{'no' if args.no_idempotency_key else 'yes'} (load average {load})")
        print(f"{'':>6}  {'app CPU ms':>10}  {'db CPU ms':>9}  {'statements':>10}  {'wall ms':>7}")
        for label, pick in (("min", min), ("median", statistics.median)):
            app_cpu, db_cpu, count, wall = (pick(column) for column in zip(*results))
            print(f"{label:>6}  {app_cpu:>10.2f}  {db_cpu:>9.2f}  {count:>10.1f}  {wall:>7.2f}")
        if profiler:
            pstats.Stats(profiler).sort_stats(os.environ.get("PROFILE_SORT", "cumulative")).print_stats(int(os.environ.get("PROFILE_LINES", "40")))
        return 0


if __name__ == "__main__":
    sys.exit(main())
