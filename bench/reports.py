"""Benchmark the Overview's queries on a million certificates, on SQLite and PostgreSQL.

For each database the script:

1. creates a throwaway database (a temporary SQLite file, or a fresh PostgreSQL database
   on postgresql://postgres@127.0.0.1:5432 that is dropped at the end) and builds the
   schema with the project's Alembic migrations;
2. creates two workspaces (America/New_York; 90% / 10% of the rows) with two certificate
   types each, and bulk-loads N certificates over the last three years entirely inside the
   database (PostgreSQL: INSERT ... SELECT over generate_series; SQLite: INSERT ... SELECT
   over a recursive CTE), plus one activity per certificate; then VACUUM ANALYZE / ANALYZE.
   Statuses follow the lifecycle: ~1.5% pending, ~3.5% voided, ~70% of the rest redeemed
   within their year of validity, expired after a year unredeemed, else active;
3. times, through the real `giftcerts.core.reports.overview` in a fresh
   `giftcerts.db.read_session` per call, the figures for the last 365 days (monthly chart),
   the same filtered by certificate type and by source, this month (daily chart), and the
   live change marker (`reports.change_marker`), next to a baseline primary-key lookup;
4. checks the year's figures against values computed in Python from the same formulas
   (a fast wrong answer cannot pass), and prints median and p95 per query, the ratio to the
   baseline and PASS/FAIL for the target: the year's Overview under 300 ms (median) on
   PostgreSQL. The exit status is 1 when PostgreSQL misses it.

Usage:
    .venv/bin/python bench/reports.py [--rows N] [--db sqlite|postgres|both] [--reps N] [--explain]
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import psycopg
import sqlalchemy as sa

from giftcerts import db, migrate
from giftcerts.core import reports, workspaces
from giftcerts.models import CertificateType, Workspace

PG_ADMIN_URL = os.environ.get("GIFTCERTS_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
TARGET_MS = 300.0
TZ = "America/New_York"
SPAN = 3 * 365 * 86400
DAY = 86400
AMOUNTS = (5000, 10000, 10000, 25000, 7500, 15000, 20000, 50000, 10000)  # chosen by n % 9 (hashed)


# --------------------------------------------------------------------------- data set, in SQL

def _formulas(n: str) -> dict[str, str]:
    """Column expressions of certificate number `n` (1..N), identical on both databases.

    Hashes are multiplicative (n * prime mod m), so the data set is deterministic and
    `expected()` can recompute it in Python."""
    return {
        "h1": f"(({n} * 7919) % 1000)",
        "h2": f"(({n} * 104729) % 1000)",
        "h3": f"(({n} * 1299709) % 365)",
        "h4": f"(({n} * 15485863) % 30)",
        "h5": f"(({n} * 32452843) % 9)",
    }


def load_sql(dialect: str, rows: int, now_s: int, ws_ids: list[int], type_ids: dict[int, list[int]]) -> str:
    base = now_s - SPAN
    f = _formulas("n")
    least = "LEAST" if dialect == "postgres" else "MIN"

    def ts(seconds: str) -> str:
        if dialect == "postgres":
            return f"to_timestamp({seconds})"
        return f"(strftime('%Y-%m-%d %H:%M:%S', {seconds}, 'unixepoch') || '.000000')"

    big, small = ws_ids
    amount = "CASE " + " ".join(f"WHEN {f['h5']} = {i} THEN {a}" for i, a in enumerate(AMOUNTS)) + " END"
    ws = f"CASE WHEN n % 10 = 0 THEN {small} ELSE {big} END"
    type_id = (f"CASE WHEN n % 3 = 0 THEN NULL WHEN n % 10 = 0 THEN "
               f"(CASE WHEN n % 3 = 1 THEN {type_ids[small][0]} ELSE {type_ids[small][1]} END) "
               f"ELSE (CASE WHEN n % 3 = 1 THEN {type_ids[big][0]} ELSE {type_ids[big][1]} END) END")
    source = "CASE WHEN n % 20 < 13 THEN 'portal' WHEN n % 20 < 19 THEN 'manual' ELSE 'api' END"
    # Seconds since the epoch of each moment (NULL when it did not happen).
    created = f"({base} + (CAST(n AS BIGINT) * {SPAN}) / {rows})"
    pending = f"({f['h1']} < 15)"
    voided = f"({f['h1']} >= 15 AND {f['h1']} < 50)"
    activated = f"({created} + 60)"
    redeemed_s = f"({activated} + {f['h3']} * {DAY} + 3600)"
    redeemed = f"(NOT {pending} AND NOT {voided} AND {f['h2']} < 700 AND {redeemed_s} <= {now_s})"
    expires = f"({activated} + 365 * {DAY})"
    status = (f"CASE WHEN {pending} THEN 'pending' WHEN {voided} THEN 'voided' WHEN {redeemed} THEN 'redeemed' "
              f"WHEN {expires} <= {now_s} THEN 'expired' ELSE 'active' END")
    select = f"""
        SELECT n, {ws}, {'lpad(n::text, 12, ' + "'0'" + ')' if dialect == 'postgres' else "printf('%012d', n)"},
               {status}, {amount}, 'USD', 'Bench Buyer', 'buyer' || n || '@example.com', 'Bench Recipient',
               'recipient' || n || '@example.com', '', {source}, {ts(created)},
               CASE WHEN {pending} THEN NULL ELSE {ts(activated)} END,
               CASE WHEN {pending} THEN NULL ELSE {ts(expires)} END,
               CASE WHEN {redeemed} THEN {ts(redeemed_s)} END,
               CASE WHEN {voided} THEN {ts(f"{least}({activated} + {f['h4']} * {DAY}, {now_s})")} END,
               CASE WHEN {voided} THEN 'Customer refund' END,
               {type_id}
    """
    columns = ("id, workspace_id, code, status, amount_cents, currency, purchaser_name, purchaser_email, "
               "recipient_name, recipient_email, message, source, created_at, activated_at, expires_at, "
               "redeemed_at, voided_at, void_reason, certificate_type_id")
    if dialect == "postgres":
        return f"INSERT INTO certificates ({columns}) {select} FROM generate_series(CAST(1 AS BIGINT), {rows}) AS g(n)"
    return (f"WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < {rows}) "
            f"INSERT INTO certificates ({columns}) {select} FROM g")


ACTIVITIES_SQL = ("INSERT INTO activities (workspace_id, certificate_id, kind, actor, created_at, details) "
                  "SELECT workspace_id, id, 'Created', 'bench', created_at, '' FROM certificates ORDER BY id")


def expected(rows: int, now_s: int, ws_id_index: int, start_s: float, end_s: float) -> dict[str, int]:
    """The year's headline figures for the big workspace, recomputed in Python."""
    base = now_s - SPAN
    sold = sold_cents = redeemed = redeemed_cents = outstanding = outstanding_cents = 0
    for n in range(1, rows + 1):
        if (n % 10 == 0) != (ws_id_index == 1):
            continue
        h1, h2, h3, h5 = (n * 7919) % 1000, (n * 104729) % 1000, (n * 1299709) % 365, (n * 32452843) % 9
        if h1 < 15:
            continue
        amount = AMOUNTS[h5]
        activated = base + (n * SPAN) // rows + 60
        is_voided = h1 < 50
        is_redeemed = not is_voided and h2 < 700 and activated + h3 * DAY + 3600 <= now_s
        expires = activated + 365 * DAY
        if start_s <= activated < end_s:
            sold += 1
            sold_cents += amount
            if is_redeemed:
                redeemed += 1
                redeemed_cents += amount
        if not is_voided and not is_redeemed and expires > now_s:
            outstanding += 1
            outstanding_cents += amount
    return {"sold_count": sold, "sold_cents": sold_cents, "redeemed_count": redeemed,
            "redeemed_cents": redeemed_cents, "outstanding_count": outstanding,
            "outstanding_cents": outstanding_cents}


# --------------------------------------------------------------------------- databases

@dataclass
class Target:
    name: str
    url: str


@contextmanager
def sqlite_database() -> Iterator[Target]:
    with tempfile.TemporaryDirectory(prefix="giftcerts-bench-") as tmp:
        try:
            yield Target("sqlite", f"sqlite:///{os.path.join(tmp, 'bench.db')}")
        finally:
            db.dispose_all()


@contextmanager
def postgres_database() -> Iterator[Target]:
    name = f"giftcerts_bench_{secrets.token_hex(4)}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield Target("postgres", PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name)
    finally:
        db.dispose_all()
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def setup(target: Target, rows: int, now: datetime) -> list[int]:
    migrate.upgrade(target.url)
    with db.write_session(target.url) as session:
        ws_ids = [workspaces.create_workspace(session, slug=slug, name=slug.title(), currency="USD", timezone=TZ).id
                  for slug in ("alpine-tours", "island-hops")]
        type_ids = {}
        for ws_id in ws_ids:
            kinds = [CertificateType(workspace_id=ws_id, name=name) for name in ("Safari credit", "Winter tours")]
            session.add_all(kinds)
            session.flush()
            type_ids[ws_id] = [k.id for k in kinds]
    t0 = time.perf_counter()
    sql = load_sql(target.name, rows, int(now.timestamp()), ws_ids, type_ids)
    if target.name == "postgres":
        with psycopg.connect(target.url, autocommit=True) as conn:
            conn.execute(sql)
            conn.execute(ACTIVITIES_SQL)
            conn.execute("SELECT setval(pg_get_serial_sequence('certificates', 'id'), max(id)) FROM certificates")
            t1 = time.perf_counter()
            conn.execute("VACUUM ANALYZE")
    else:
        import sqlite3
        conn = sqlite3.connect(sa.engine.make_url(target.url).database, isolation_level=None)
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("BEGIN")
        conn.execute(sql)
        conn.execute(ACTIVITIES_SQL)
        conn.execute("COMMIT")
        t1 = time.perf_counter()
        conn.execute("ANALYZE")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.close()
    print(f"[{target.name}] loaded {rows:,} certificates and {rows:,} activities in {t1 - t0:.1f} s "
          f"({rows / (t1 - t0):,.0f} rows/s); ANALYZE {time.perf_counter() - t1:.1f} s")
    return ws_ids


# --------------------------------------------------------------------------- measuring

@dataclass
class Row:
    database: str
    label: str
    median_ms: float
    p95_ms: float
    target_ms: float | None


def timed(url: str, call, reps: int, warmup: int = 3) -> tuple[float, float, object]:
    samples, result = [], None
    for i in range(reps + warmup):
        with db.read_session(url) as session:
            t0 = time.perf_counter()
            result = call(session)
            elapsed = (time.perf_counter() - t0) * 1000
        if i >= warmup:
            samples.append(elapsed)
    samples.sort()
    return statistics.median(samples), samples[round(0.95 * (len(samples) - 1))], result


def measure(target: Target, rows: int, reps: int, now: datetime, show_plans: bool) -> list[Row]:
    ws_ids = setup(target, rows, now)
    with db.read_session(target.url) as session:
        ws = session.get(Workspace, ws_ids[0])
        type_id = session.execute(sa.select(CertificateType.id).where(CertificateType.workspace_id == ws.id)
                                  .order_by(CertificateType.id)).scalars().first()
    today = now.astimezone(reports.ZoneInfo(TZ)).date()
    year = reports.resolve_period("custom", TZ, now=now, start=(today - timedelta(days=364)).isoformat(),
                                  end=today.isoformat())
    month = reports.resolve_period("month", TZ, now=now)

    def overview(period, filters=reports.Filters()):
        return lambda session: reports.overview(session, ws, period, filters, now=now)

    shapes = [
        ("baseline: SELECT * WHERE id = ?", None,
         lambda s: s.execute(sa.text("SELECT * FROM certificates WHERE id = :id"), {"id": rows // 2}).one()),
        ("change marker (live poll)", None, lambda s: reports.change_marker(s, ws.id)),
        ("overview, last 365 days", TARGET_MS, overview(year)),
        ("overview, 365 days, one type", None, overview(year, reports.Filters(type_id=type_id))),
        ("overview, 365 days, source=api", None, overview(year, reports.Filters(source="api"))),
        ("overview, this month", None, overview(month)),
    ]
    out = []
    for label, target_ms, call in shapes:
        median, p95, result = timed(target.url, call, reps)
        out.append(Row(target.name, label, median, p95, target_ms))
        if label == "overview, last 365 days":
            want = expected(rows, int(now.timestamp()), 0, year.start.timestamp(), year.end.timestamp())
            got = {k: getattr(result, k) for k in want}
            assert got == want, (got, want)
            assert sum(b.count for b in result.series) == result.sold_count
            print(f"[{target.name}] year figures checked: {result.sold_count:,} sold, "
                  f"{result.redeemed_count:,} redeemed, {result.outstanding_count:,} outstanding")
    if show_plans:
        explain(target, overview(year))
    return out


def explain(target: Target, call) -> None:
    statements = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        statements.append((statement, parameters))

    sa.event.listen(sa.Engine, "before_cursor_execute", capture)
    try:
        with db.read_session(target.url) as session:
            call(session)
    finally:
        sa.event.remove(sa.Engine, "before_cursor_execute", capture)
    prefix = "EXPLAIN QUERY PLAN " if target.name == "sqlite" else "EXPLAIN (ANALYZE, BUFFERS) "
    with db.engine(target.url).connect() as conn:
        for statement, parameters in statements:
            if statement.lstrip().upper().startswith("SELECT"):
                print("\n" + statement)
                for line in conn.exec_driver_sql(prefix + statement, parameters).fetchall():
                    print("   ", " | ".join(str(v) for v in line))


def print_table(rows: list[Row]) -> bool:
    header = f"{'database':<9} {'query':<34} {'median ms':>9} {'p95 ms':>8} {'x base':>8}  {'target':<9} result"
    print("\n" + header + "\n" + "-" * len(header))
    ok = True
    base = {r.database: r.median_ms for r in rows if r.label.startswith("baseline")}
    for r in rows:
        verdict, target = "-", "-"
        if r.target_ms is not None:
            target = f"< {r.target_ms:g} ms"
            passed = r.median_ms < r.target_ms
            verdict = "PASS" if passed else "FAIL"
            ok = ok and (passed or r.database != "postgres")
        print(f"{r.database:<9} {r.label:<34} {r.median_ms:>9.1f} {r.p95_ms:>8.1f} "
              f"{r.median_ms / base[r.database]:>8.0f}  {target:<9} {verdict}")
    print("""
Each overview call is reports.overview() in a fresh read_session: four aggregate queries
(sales of the period grouped by local chart bucket and amount, outstanding by run-off,
breakage, voids) for the big workspace (90% of the rows). "x base" is
the ratio to the primary-key lookup measured in the same run. Target (PostgreSQL): the
365-day overview under 300 ms (median); SQLite is shown for information.""")
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--reps", type=int, default=15)
    parser.add_argument("--explain", action="store_true")
    args = parser.parse_args(argv)
    now = datetime.now(timezone.utc).replace(microsecond=0)
    results: list[Row] = []
    targets = {"sqlite": [sqlite_database], "postgres": [postgres_database],
               "both": [postgres_database, sqlite_database]}[args.db]
    for target_cm in targets:
        with target_cm() as target:
            results += measure(target, args.rows, args.reps, now, args.explain)
    return 0 if print_table(results) else 1


if __name__ == "__main__":
    sys.exit(main())
