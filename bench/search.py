"""Benchmark certificate search on a million-row table, on SQLite and PostgreSQL.

For each database the script:

1. creates a throwaway database (a temporary SQLite file, or a fresh PostgreSQL database
   on postgresql://postgres@127.0.0.1:5432 that is dropped at the end) and builds the
   schema with the project's Alembic migrations (`giftcerts.migrate.upgrade`);
2. creates three workspaces with `giftcerts.core.workspaces.create_workspace` and
   bulk-loads N synthetic certificates (PostgreSQL: binary COPY through psycopg, then
   VACUUM ANALYZE; SQLite: sqlite3 executemany in one transaction, then ANALYZE);
3. times, through the real `giftcerts.core.search.search_certificates` with sessions from
   `giftcerts.db.read_session`, a lookup by code, a page for a purchaser email, the first
   page of a status filter and a deep page (page >= 1000) of a status filter, next to a
   baseline primary-key lookup `SELECT * FROM certificates WHERE id = ?`;
4. prints median and p95 wall time per query, the ratio to the baseline, and PASS/FAIL
   against the targets (p95 < 5 ms by code, p95 < 20 ms per page, on PostgreSQL).
   The exit status is 1 when a PostgreSQL row misses its target.

The data set is generated once (seeded, so runs are repeatable) and loaded identically
into every database; each repetition uses a fresh session and a random target, and every
result is checked against the data set so that a fast wrong answer cannot pass.
`--explain` also prints the plan of every statement each query shape runs.

Usage:
    .venv/bin/python bench/search.py [--rows N] [--db sqlite|postgres|both] [--reps N]
                                     [--seed N] [--explain]
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import secrets
import sqlite3
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import psycopg
import sqlalchemy as sa
from sqlalchemy.dialects import sqlite as sqlite_dialect

from giftcerts import db, migrate
from giftcerts.core import workspaces
from giftcerts.core.codes import ALPHABET, CODE_LENGTH, format_code
from giftcerts.core.search import search_certificates
from giftcerts.models import Certificate, CertificateStatus

PG_ADMIN_URL = os.environ.get("GIFTCERTS_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
PAGE_SIZE = 25
DEEP_PAGE_MIN = 1000  # deep-page targets are drawn from page 1000 to the last page
WARMUP = 20  # untimed rounds before the measured ones
TARGET_CODE_MS = 5.0
TARGET_PAGE_MS = 20.0

# slug, name, currency, timezone, share of the certificates. The first one dominates.
WORKSPACES = (
    ("alpine-tours", "Alpine Tours", "USD", "America/Denver", 0.82),
    ("nordic-trails", "Nordic Trails", "EUR", "Europe/Oslo", 0.13),
    ("island-hops", "Island Hops", "GBP", "Europe/London", 0.05),
)

COLUMNS = (
    "id", "workspace_id", "code", "status", "amount_cents", "currency",
    "purchaser_name", "purchaser_email", "recipient_name", "recipient_email", "message",
    "source", "created_at", "activated_at", "expires_at", "redeemed_at", "voided_at",
    "void_reason",
)
C = {name: i for i, name in enumerate(COLUMNS)}
STATUSES = tuple(s.value for s in CertificateStatus)


# --------------------------------------------------------------------------- data set

FIRST_NAMES = (
    "anna", "ben", "carla", "david", "elena", "felix", "grace", "hugo", "ines", "jonas",
    "karin", "liam", "maria", "nils", "olga", "paul", "rosa", "sam", "tara", "victor",
    "wendy", "yusuf", "zoe", "marco", "sofia", "lukas", "emma", "noah", "chloe", "omar",
)
LAST_NAMES = (
    "smith", "muller", "garcia", "rossi", "dubois", "jensen", "novak", "kowalski", "silva",
    "nguyen", "ohara", "berg", "schmidt", "martin", "lopez", "fischer", "larsen", "costa",
    "weber", "moreau", "hansen", "bianchi", "kim", "patel", "walsh", "meyer", "lindqvist",
)
DOMAINS = (
    "gmail.com", "gmail.com", "gmail.com", "yahoo.com", "outlook.com", "hotmail.com",
    "icloud.com", "proton.me", "gmx.de", "web.de", "orange.fr", "libero.it", "mail.com",
)
MESSAGES = (
    "", "", "", "", "Happy birthday!", "Enjoy the mountains!", "Congratulations!",
    "For our anniversary trip.", "Merry Christmas from all of us.",
    "Thank you for everything this year - enjoy a day out on us.",
)
VOID_REASONS = ("Refunded", "Duplicate sale", "Payment disputed", "Customer request")
SOURCES = ("portal",) * 13 + ("manual",) * 6 + ("api",)


@dataclass
class Dataset:
    rows: list[tuple]  # in COLUMNS order, id ascending (ids 1..N)
    workspace_ids: list[int]
    # (workspace_id, status) -> ids, newest first: the expected pages of a status filter.
    by_status: dict[tuple[int, str], list[int]] = field(default_factory=dict)


def generate_codes(count: int, rng: random.Random) -> list[str]:
    """Unique 12-symbol codes over the project's alphabet (60 random bits each).

    Same distribution as `generate_code`, much faster: every random byte is mapped to
    ALPHABET[byte % 32] (256 is a multiple of 32, so each symbol stays uniform).
    """
    to_symbol = bytes(ord(ALPHABET[b % len(ALPHABET)]) for b in range(256))
    codes: dict[str, None] = {}  # insertion-ordered set
    while len(codes) < count:
        missing = count - len(codes)
        text = rng.randbytes(missing * CODE_LENGTH).translate(to_symbol).decode("ascii")
        for i in range(0, len(text), CODE_LENGTH):
            codes[text[i : i + CODE_LENGTH]] = None
    return list(codes)


def pick(rng: random.Random, seq):
    """`rng.choice(seq)`, several times faster; it matters over millions of draws."""
    return seq[int(rng.random() * len(seq))]


class People:
    """Names and lower-cased emails with a realistic repeat pattern, per workspace.

    Purchasers: ~3% of sales come from a few agencies/companies (hundreds of certificates
    each), ~27% from repeat customers (a handful each), the rest buy once. Recipients are
    mostly one-offs; some receive several, and ~8% of buyers buy for themselves.
    """

    def __init__(self, rng: random.Random, expected_rows: int):
        self.rng = rng
        self.serial = 0
        self.agencies = [self._agency(i) for i in range(max(2, expected_rows // 20_000))]
        self.repeat_buyers = [self.fresh() for _ in range(max(10, expected_rows * 27 // 300))]
        self.repeat_recipients = [self.fresh() for _ in range(max(10, expected_rows // 20))]

    def _agency(self, i: int) -> tuple[str, str]:
        name = f"{pick(self.rng, LAST_NAMES).capitalize()} Travel {i}"
        return name, f"bookings@{name.lower().replace(' ', '-')}.example"

    def fresh(self) -> tuple[str, str]:
        self.serial += 1
        first, last = pick(self.rng, FIRST_NAMES), pick(self.rng, LAST_NAMES)
        email = f"{first}.{last}{self.serial}@{pick(self.rng, DOMAINS)}"
        return f"{first.capitalize()} {last.capitalize()}", email

    def purchaser(self) -> tuple[str, str]:
        r = self.rng.random()
        if r < 0.03:
            return pick(self.rng, self.agencies)
        if r < 0.30:
            return pick(self.rng, self.repeat_buyers)
        return self.fresh()

    def recipient(self, purchaser: tuple[str, str]) -> tuple[str, str]:
        r = self.rng.random()
        if r < 0.08:
            return purchaser
        if r < 0.20:
            return pick(self.rng, self.repeat_recipients)
        return self.fresh()


def generate_dataset(rows: int, workspace_ids: list[int], seed: int) -> Dataset:
    """N certificates over three years up to now, ids in creation order.

    Statuses follow the lifecycle: ~1.5% pending (unpaid), ~2% voided, the rest active,
    then redeemed (~70%, some time within the year of validity) or expired once a year
    has passed without redemption.
    """
    rng = random.Random(seed)
    codes = generate_codes(rows, rng)
    shares = [share for *_, share in WORKSPACES]
    currencies = {ws_id: spec[2] for ws_id, spec in zip(workspace_ids, WORKSPACES)}
    people = {ws_id: People(rng, int(rows * share)) for ws_id, share in zip(workspace_ids, shares)}
    now = datetime.now(timezone.utc).replace(microsecond=0)
    start, span = now - timedelta(days=3 * 365), 3 * 365 * 86400 - 3600
    validity = timedelta(days=365)

    out: list[tuple] = []
    for i, ws_id in enumerate(rng.choices(workspace_ids, weights=shares, k=rows)):
        created = start + timedelta(seconds=span * (i + rng.random()) / rows)
        status, activated, expires, redeemed, voided, reason = "active", None, None, None, None, None
        r = rng.random()
        if r < 0.015:
            status = "pending"
        else:
            activated = created + timedelta(seconds=rng.random() * 900)
            expires = activated + validity
            if r < 0.035:
                status, reason = "voided", pick(rng, VOID_REASONS)
                voided = min(now, activated + timedelta(days=rng.random() * 30))
            elif rng.random() < 0.70:
                when = activated + timedelta(days=rng.random() * 365)
                if when <= now:
                    status, redeemed = "redeemed", when
            if status == "active" and expires <= now:
                status = "expired"
        if rng.random() < 0.7:  # a preset amount, or any whole amount within the bounds
            amount = pick(rng, (5000, 10000, 10000, 25000))
        else:
            amount = (25 + int(rng.random() * 976)) * 100
        buyer = people[ws_id].purchaser()
        recipient = people[ws_id].recipient(buyer)
        out.append((
            i + 1, ws_id, codes[i], status, amount, currencies[ws_id], buyer[0], buyer[1],
            recipient[0], recipient[1], pick(rng, MESSAGES), pick(rng, SOURCES), created,
            activated, expires, redeemed, voided, reason,
        ))

    data = Dataset(rows=out, workspace_ids=workspace_ids)
    for row in reversed(out):
        data.by_status.setdefault((row[C["workspace_id"]], row[C["status"]]), []).append(row[0])
    return data


# --------------------------------------------------------------------------- databases

def create_workspaces(url: str) -> list[int]:
    with db.write_session(url) as session:
        return [
            workspaces.create_workspace(session, slug=slug, name=name, currency=cur, timezone=tz).id
            for slug, name, cur, tz, _share in WORKSPACES
        ]


def _sqlite_timestamp(value: datetime | None) -> str | None:
    """What SQLAlchemy stores in SQLite for an aware UTC datetime, ~3x faster to compute."""
    return None if value is None else value.isoformat(" ", "microseconds")[:26]


def load_sqlite(url: str, data: Dataset) -> tuple[float, float]:
    """executemany in one transaction on a plain sqlite3 connection; then ANALYZE.

    Returns (load seconds, ANALYZE seconds).
    """
    # Store timestamps exactly as the app does (SQLAlchemy's text format); checked here.
    dialect = sqlite_dialect.dialect()
    sa_format = Certificate.__table__.c.created_at.type.dialect_impl(dialect).bind_processor(dialect)
    sample = data.rows[0][C["created_at"]]
    assert _sqlite_timestamp(sample) == sa_format(sample), (_sqlite_timestamp(sample), sa_format(sample))
    timestamps = [i for i, name in enumerate(COLUMNS) if name.endswith("_at")]

    def converted(row: tuple) -> tuple:
        values = list(row)
        for i in timestamps:
            values[i] = _sqlite_timestamp(values[i])
        return tuple(values)

    path = sa.engine.make_url(url).database
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA cache_size=-1000000")  # 1 GB page cache for this connection
        conn.execute("PRAGMA synchronous=OFF")
        t0 = time.perf_counter()
        conn.execute("BEGIN")
        conn.executemany(
            f"INSERT INTO certificates ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})",
            map(converted, data.rows),
        )
        conn.execute("COMMIT")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        t1 = time.perf_counter()
        conn.execute("ANALYZE")
        return t1 - t0, time.perf_counter() - t1
    finally:
        conn.close()


def load_postgres(url: str, data: Dataset) -> tuple[float, float]:
    """Binary COPY through psycopg; then VACUUM ANALYZE, the state autovacuum would reach.

    Returns (load seconds, VACUUM ANALYZE seconds).
    """
    with psycopg.connect(url) as conn:
        t0 = time.perf_counter()
        column_types = dict(conn.execute(
            "SELECT a.attname, t.typname FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid"
            " WHERE a.attrelid = 'certificates'::regclass AND a.attnum > 0 AND NOT a.attisdropped"
        ).fetchall())
        with conn.cursor() as cur:
            with cur.copy(f"COPY certificates ({', '.join(COLUMNS)}) FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types([column_types[name] for name in COLUMNS])
                for row in data.rows:
                    copy.write_row(row)
            # Ids were given explicitly: move the sequence past them, as real inserts would.
            cur.execute("SELECT setval(pg_get_serial_sequence('certificates', 'id'), max(id)) FROM certificates")
        conn.commit()
        t1 = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    return t1 - t0, time.perf_counter() - t1


@dataclass
class Target:
    name: str
    url: str
    load: Callable[[str, Dataset], tuple[float, float]]
    size: Callable[[], str]


@contextmanager
def sqlite_database() -> Iterator[Target]:
    with tempfile.TemporaryDirectory(prefix="giftcerts-bench-") as tmp:
        path = os.path.join(tmp, "bench.db")

        def size() -> str:
            return f"{os.path.getsize(path) / 2**20:.0f} MB"

        try:
            yield Target("sqlite", f"sqlite:///{path}", load_sqlite, size)
        finally:
            db.dispose_all()


@contextmanager
def postgres_database() -> Iterator[Target]:
    name = f"giftcerts_bench_{secrets.token_hex(4)}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name

    def size() -> str:
        with psycopg.connect(url) as conn:
            return conn.execute("SELECT pg_size_pretty(pg_database_size(current_database()))").fetchone()[0]

    try:
        yield Target("postgres", url, load_postgres, size)
    finally:
        db.dispose_all()
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# --------------------------------------------------------------------------- queries

@dataclass
class Query:
    """One measured query shape: `call(session, arg)` runs it, `check(result, arg)` verifies it."""

    label: str
    target_ms: float | None
    args: list
    call: Callable
    check: Callable


def build_queries(data: Dataset, reps: int, seed: int) -> list[Query]:
    """Random targets, drawn once and replayed identically on every database."""
    rng = random.Random(seed + 1)
    rows = data.rows
    n = reps + WARMUP
    big_ws = data.workspace_ids[0]

    def pick_rows() -> list[tuple]:
        return [rows[rng.randrange(len(rows))] for _ in range(n)]

    # Baseline: primary key.
    pk_args = [row[0] for row in pick_rows()]

    def pk_call(session, row_id):
        return session.execute(sa.text("SELECT * FROM certificates WHERE id = :id"), {"id": row_id}).one()

    def pk_check(result, row_id):
        assert result.id == row_id

    # By code: formatted XXXX-XXXX-XXXX, a quarter of the time typed in lower case.
    code_args = []
    for row in pick_rows():
        text = format_code(row[C["code"]])
        code_args.append((row[C["workspace_id"]], text.lower() if rng.random() < 0.25 else text, row[0]))

    def code_call(session, arg):
        ws_id, text, _ = arg
        return search_certificates(session, workspace_id=ws_id, query=text, limit=PAGE_SIZE)

    def code_check(page, arg):
        assert [c.id for c in page.items] == [arg[2]], (arg, page.items)

    # Purchaser email: a random certificate's purchaser, so repeat buyers come up often.
    email_args = [(row[C["workspace_id"]], row[C["purchaser_email"]]) for row in pick_rows()]
    wanted = set(email_args)
    matches: dict[tuple[int, str], list[int]] = defaultdict(list)
    for row in reversed(rows):
        ws_id = row[C["workspace_id"]]
        for key in {(ws_id, row[C["purchaser_email"]]), (ws_id, row[C["recipient_email"]])}:
            if key in wanted:
                matches[key].append(row[0])

    def email_call(session, arg):
        return search_certificates(session, workspace_id=arg[0], query=arg[1], limit=PAGE_SIZE)

    def email_check(page, arg):
        assert [c.id for c in page.items] == matches[arg][:PAGE_SIZE], arg

    # First page of a status filter: random status, workspace weighted like the data.
    first_args = [(row[C["workspace_id"]], rng.choice(STATUSES)) for row in pick_rows()]

    def status_call(session, arg):
        ws_id, status, cursor, _ = arg
        return search_certificates(session, workspace_id=ws_id, status=status, cursor=cursor, limit=PAGE_SIZE)

    def status_check(page, arg):
        ws_id, status, _, start = arg
        expected = data.by_status.get((ws_id, status), [])[start : start + PAGE_SIZE]
        assert [c.id for c in page.items] == expected, arg

    # Deep page: big workspace, a status with >= 1000 pages, a random page from 1000 to the
    # last. Page p starts after (p - 1) * 25 rows; its cursor is the last id of page p - 1.
    deep_statuses = [
        s for s in STATUSES if len(data.by_status.get((big_ws, s), ())) > (DEEP_PAGE_MIN - 1) * PAGE_SIZE
    ]
    deep_args = []
    for _ in range(n if deep_statuses else 0):
        status = rng.choice(deep_statuses)
        ids = data.by_status[(big_ws, status)]
        last_page = (len(ids) + PAGE_SIZE - 1) // PAGE_SIZE
        skipped = (rng.randint(DEEP_PAGE_MIN, last_page) - 1) * PAGE_SIZE
        deep_args.append((big_ws, status, str(ids[skipped - 1]), skipped))

    queries = [
        Query("baseline: SELECT * WHERE id = ?", None, pk_args, pk_call, pk_check),
        Query("lookup by code", TARGET_CODE_MS, code_args, code_call, code_check),
        Query("purchaser email, first page", TARGET_PAGE_MS, email_args, email_call, email_check),
        Query("status filter, first page", TARGET_PAGE_MS, [(*a, None, 0) for a in first_args],
              status_call, status_check),
    ]
    if deep_args:
        queries.append(Query(f"status filter, page >= {DEEP_PAGE_MIN}", TARGET_PAGE_MS, deep_args,
                             status_call, status_check))
    else:
        print(f"(no status has {DEEP_PAGE_MIN} pages at this size: deep-page query skipped)")
    return queries


@dataclass
class Result:
    database: str
    query: Query
    median_ms: float
    p95_ms: float
    driver_ms: float  # median time inside the driver's execute: network + server


class DriverTimer:
    """Accumulates the wall time spent inside DBAPI `cursor.execute` calls."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._started = 0.0

    def before(self, *_args) -> None:
        self._started = time.perf_counter()

    def after(self, *_args) -> None:
        self.seconds += time.perf_counter() - self._started

    @contextmanager
    def installed(self) -> Iterator[DriverTimer]:
        sa.event.listen(sa.Engine, "before_cursor_execute", self.before)
        sa.event.listen(sa.Engine, "after_cursor_execute", self.after)
        try:
            yield self
        finally:
            sa.event.remove(sa.Engine, "before_cursor_execute", self.before)
            sa.event.remove(sa.Engine, "after_cursor_execute", self.after)


def measure(database: str, url: str, queries: list[Query]) -> list[Result]:
    """Time every query shape, round-robin so that noise hits them all alike.

    Each call gets a fresh session (as a request would); the first WARMUP rounds are not
    counted. Returns median and p95 wall time, and the median time inside the driver.
    """
    total: dict[str, list[float]] = defaultdict(list)
    driver: dict[str, list[float]] = defaultdict(list)
    gc.collect()
    with DriverTimer().installed() as timer:
        for i in range(len(queries[0].args)):
            for query in queries:
                arg = query.args[i]
                with db.read_session(url) as session:
                    timer.seconds = 0.0
                    t0 = time.perf_counter()
                    result = query.call(session, arg)
                    elapsed = time.perf_counter() - t0
                    in_driver = timer.seconds
                    query.check(result, arg)
                if i >= WARMUP:
                    total[query.label].append(elapsed * 1000)
                    driver[query.label].append(in_driver * 1000)
    results = []
    for query in queries:
        samples = sorted(total[query.label])
        p95 = samples[round(0.95 * (len(samples) - 1))]
        results.append(Result(database, query, statistics.median(samples), p95,
                              statistics.median(driver[query.label])))
    return results


def explain(url: str, query: Query, name: str) -> None:
    """Print the plan of every statement one call of `query` executes."""
    statements: list[tuple[str, object]] = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        statements.append((statement, parameters))

    sa.event.listen(sa.Engine, "before_cursor_execute", capture)
    try:
        with db.read_session(url) as session:
            query.call(session, query.args[0])
    finally:
        sa.event.remove(sa.Engine, "before_cursor_execute", capture)
    prefix = "EXPLAIN QUERY PLAN " if name == "sqlite" else "EXPLAIN (ANALYZE, BUFFERS) "
    print(f"\n-- {name}: {query.label}  (arg {query.args[0]!r})")
    with db.engine(url).connect() as conn:
        for statement, parameters in statements:
            if not statement.lstrip().upper().startswith("SELECT"):
                continue
            print(statement)
            for line in conn.exec_driver_sql(prefix + statement, parameters).fetchall():
                print("   ", " | ".join(str(v) for v in line))


# --------------------------------------------------------------------------- main

def run(target_cm, data: Dataset, reps: int, seed: int, show_plans: bool) -> list[Result]:
    with target_cm() as target:
        print(f"\n[{target.name}] migrating {target.url}")
        migrate.upgrade(target.url)
        ws_ids = create_workspaces(target.url)
        if ws_ids != data.workspace_ids:
            raise SystemExit(f"expected workspace ids {data.workspace_ids}, got {ws_ids}")
        load_s, analyze_s = target.load(target.url, data)
        print(f"[{target.name}] loaded {len(data.rows):,} certificates in {load_s:.1f} s "
              f"({len(data.rows) / load_s:,.0f} rows/s), ANALYZE {analyze_s:.1f} s, "
              f"database size {target.size()}")
        queries = build_queries(data, reps, seed)
        t0 = time.perf_counter()
        results = measure(target.name, target.url, queries)
        print(f"[{target.name}] measured {len(queries)} queries x {reps} calls in {time.perf_counter() - t0:.1f} s")
        if show_plans:
            for query in queries:
                explain(target.url, query, target.name)
        return results


def print_table(results: list[Result]) -> bool:
    """Print the results; True when every PostgreSQL row meets its target."""
    header = (f"{'database':<9} {'query':<33} {'median ms':>9} {'p95 ms':>7} {'driver ms':>9} "
              f"{'x base':>6} {'x base':>6}  {'target':<8} {'result'}")
    subheader = f"{'':<9} {'':<33} {'':>9} {'':>7} {'(median)':>9} {'(med)':>6} {'(p95)':>6}  (p95)"
    print("\n" + header + "\n" + subheader + "\n" + "-" * len(header))
    ok = True
    baselines = {r.database: r for r in results if r.query.target_ms is None}
    for r in results:
        base = baselines[r.database]
        if r.query.target_ms is None:
            target, verdict = "-", "-"
        else:
            target = f"< {r.query.target_ms:g} ms"
            passed = r.p95_ms < r.query.target_ms
            verdict = "PASS" if passed else "FAIL"
            ok = ok and (passed or r.database != "postgres")
        print(f"{r.database:<9} {r.query.label:<33} {r.median_ms:>9.2f} {r.p95_ms:>7.2f} {r.driver_ms:>9.2f} "
              f"{r.median_ms / base.median_ms:>6.1f} {r.p95_ms / base.p95_ms:>6.1f}  {target:<8} {verdict}")
    print(f"""
Targets (PostgreSQL): lookup by code p95 < {TARGET_CODE_MS:g} ms, any page p95 < {TARGET_PAGE_MS:g} ms; SQLite
rows are judged against the same targets for information only.
Each time is one search_certificates() call (or the baseline SELECT) in a fresh
read_session: pool checkout (with pre-ping on PostgreSQL), BEGIN, SQL, ORM loading;
warm cache. "driver ms" is the part spent inside the driver's execute (BEGIN and the
query: network round trips + server); the rest is Python (SQLAlchemy, ORM) and the pool
checkout, whose pre-ping is one more round trip on PostgreSQL. "x base" is the ratio to
the primary-key baseline of the same database.""")
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="certificates to load (default 1,000,000)")
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--reps", type=int, default=200, help="measured calls per query (default 200)")
    parser.add_argument("--seed", type=int, default=2024, help="seed for the data set and the targets")
    parser.add_argument("--explain", action="store_true", help="print the query plan of each query shape")
    args = parser.parse_args(argv)
    if args.rows < 1 or args.reps < 1:
        parser.error("--rows and --reps must be positive")

    t0 = time.perf_counter()
    # A fresh database numbers the workspaces 1, 2, 3; `run` checks that it did.
    data = generate_dataset(args.rows, list(range(1, len(WORKSPACES) + 1)), args.seed)
    by_status = Counter(row[C["status"]] for row in data.rows)
    by_ws = Counter(row[C["workspace_id"]] for row in data.rows)
    gc.collect()
    gc.freeze()  # the data set is permanent: keep it out of the collector's timed passes
    print(f"generated {len(data.rows):,} certificates in {time.perf_counter() - t0:.1f} s")
    print("  per workspace:", ", ".join(f"{ws}: {n:,}" for ws, n in sorted(by_ws.items())))
    print("  per status:   ", ", ".join(f"{s}: {by_status[s]:,}" for s in STATUSES))

    targets = {"sqlite": [sqlite_database], "postgres": [postgres_database],
               "both": [sqlite_database, postgres_database]}[args.db]
    results = []
    for target_cm in targets:
        results += run(target_cm, data, args.reps, args.seed, args.explain)
    return 0 if print_table(results) else 1


if __name__ == "__main__":
    sys.exit(main())
