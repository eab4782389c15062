"""Benchmark the expiry sweep on PostgreSQL: 1,000,000 Active certificates past their date.

1. creates a throwaway PostgreSQL database (dropped at the end), migrates it, creates three
   workspaces (different timezones) with `create_workspace`, and bulk-loads N Active
   certificates already past `expires_at` with one INSERT ... SELECT generate_series;
2. times the sweep exactly as the worker runs it: `expiry.expire_backlog`, i.e.
   `expire_due(session, batch_size=B)` in its own transaction, repeated until nothing is due,
   by SWEEPERS connections at once (each certificate: conditional UPDATE to Expired + one
   "Expired" activity entry);
3. checks the result (N expired, N activity rows, nothing Active and due), runs the sweep once
   more to show it is idempotent (0 rows), and times a baseline in the same database: one bare
   `UPDATE certificates SET status = ... ` over the same N rows (no activity log, no batching);
4. prints the figures, the ratio to the baseline and PASS/FAIL against the target (<= 30 s).

Usage:
    .venv/bin/python bench/expiry.py [--rows N] [--batch B] [--sweepers K]
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psycopg  # noqa: E402
import sqlalchemy as sa  # noqa: E402
from sqlmodel import select  # noqa: E402

from giftcerts import db, migrate  # noqa: E402
from giftcerts.clock import utcnow  # noqa: E402
from giftcerts.core import activity, lifecycle, workspaces  # noqa: E402
from giftcerts.models import Activity, Workspace  # noqa: E402
from giftcerts.core.expiry import SWEEP_BATCH, SWEEPERS, expire_backlog  # noqa: E402

ADMIN = os.environ.get("GIFTCERTS_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
TARGET_S = 30.0

LOAD = sa.text("""
INSERT INTO certificates (workspace_id, code, status, amount_cents, currency, purchaser_name, purchaser_email,
                          recipient_name, recipient_email, message, source, created_at, activated_at, expires_at)
SELECT (ARRAY[:w1, :w2, :w3])[1 + g % 3], upper(lpad(to_hex(g), 12, '0')), 'active', 5000 + (g % 20) * 500, 'USD',
       'Pat Buyer', 'buyer' || g || '@example.com', 'Robin Traveller', 'robin' || g || '@example.com', '', 'manual',
       now() - interval '400 days', now() - interval '400 days',
       now() - interval '1 day' - (g % 86400) * interval '1 second'
FROM generate_series(1, :n) AS g
""")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=SWEEP_BATCH, help=f"rows per transaction (the worker uses {SWEEP_BATCH})")
    parser.add_argument("--sweepers", type=int, default=SWEEPERS,
                        help=f"sweepers at once (the worker uses {SWEEPERS} on this machine)")
    args = parser.parse_args()

    name = f"giftcerts_bench_expiry_{secrets.token_hex(4)}"
    with psycopg.connect(ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = ADMIN.rsplit("/", 1)[0] + "/" + name
    try:
        migrate.upgrade(url)
        with db.write_session(url) as s:
            ids = [workspaces.create_workspace(s, slug=f"ws{i}", name=f"Operator {i}", timezone=tz).id
                   for i, tz in enumerate(["UTC", "America/New_York", "Pacific/Auckland"])]
        start = time.perf_counter()
        with db.write_session(url) as s:
            s.execute(LOAD, {"n": args.rows, "w1": ids[0], "w2": ids[1], "w3": ids[2]})
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE certificates")
        print(f"loaded {args.rows:,} due certificates in {time.perf_counter() - start:.1f} s")

        now = utcnow()
        start = time.perf_counter()
        moved = expire_backlog(url, now=now, batch_size=args.batch, sweepers=args.sweepers)
        sweep = time.perf_counter() - start

        with db.read_session(url) as s:
            expired = s.execute(sa.text("SELECT count(*) FROM certificates WHERE status = 'expired'")).scalar()
            logged = s.execute(sa.text("SELECT count(*) FROM activities WHERE kind = 'Expired'")).scalar()
            entry = s.exec(select(Activity).where(Activity.kind == "Expired").limit(1)).one()
            sample = activity.describe(entry, s.get(Workspace, entry.workspace_id).timezone)
        assert moved == expired == args.rows and logged == args.rows, (moved, expired, logged)
        with db.write_session(url) as s:
            assert lifecycle.expire_due(s, now=now, batch_size=args.batch) == 0  # idempotent

        start = time.perf_counter()
        with db.write_session(url) as s:
            s.execute(sa.text("UPDATE certificates SET status = 'active' WHERE status = 'expired'"))
        baseline = time.perf_counter() - start

        print(f"sweep: {args.rows:,} certificates expired in {sweep:.1f} s ({args.rows / sweep:,.0f}/s), "
              f"{args.sweepers} sweeper(s), transactions of {args.batch}, one activity entry each (e.g. \"{sample}\")")
        print(f"baseline: one bare UPDATE of the same {args.rows:,} rows in {baseline:.1f} s "
              f"(sweep = {sweep / baseline:.1f}x baseline)")
        ok = sweep <= TARGET_S
        print(f"{'PASS' if ok else 'FAIL'}: sweep of {args.rows:,} certificates in {sweep:.1f} s "
              f"(target <= {TARGET_S:.0f} s)")
        return 0 if ok else 1
    finally:
        db.dispose_all()
        with psycopg.connect(ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    sys.exit(main())
