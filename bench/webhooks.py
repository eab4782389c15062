"""Webhook events delivered per second by the outbox's worker, against the same client's limit.

Seeds N certificates into a workspace with one endpoint subscribed to `certificate.created`
(the actions are switched off, so the worker only dispatches and delivers), starts a local
receiver on loopback that verifies every signature, and drains the outbox with one worker
(or --workers threads, each a `Worker`) while timing it. In the same run the ceiling is
measured: the same HTTP client code (`giftcerts.notify.webhooks.send`, new connection per
event, signing included) posting the same bodies to the same receiver without the database.
Prints events/s for both and their ratio; every event must arrive exactly once, correctly
signed, or the run fails.

    .venv/bin/python bench/webhooks.py                 # SQLite, 1000 events
    .venv/bin/python bench/webhooks.py --db postgres --count 2000 --workers 2
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

os.environ["GIFTCERTS_WEBHOOKS_ALLOW_PRIVATE"] = "on"  # the receiver is on loopback

import sqlalchemy as sa  # noqa: E402

from giftcerts import db, migrate  # noqa: E402
from giftcerts.core import lifecycle, webhooks, workspaces  # noqa: E402
from giftcerts.jobs.worker import Worker  # noqa: E402
from giftcerts.models import Action, CertificateSource  # noqa: E402
from giftcerts.notify import webhooks as sender  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from redeem_cpu import throwaway_database  # noqa: E402


class Receiver:
    def __init__(self, secret_holder: dict):
        self.seen: Counter = Counter()
        self.bad = 0
        lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
                ok = webhooks.verify(secret_holder["secret"], body, self.headers.get(webhooks.SIGNATURE_HEADER, ""))
                with lock:
                    if ok:
                        receiver.seen[json.loads(body)["id"]] += 1
                    else:
                        receiver.bad += 1
                self.send_response(200 if ok else 400)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()

    secret_holder: dict = {}
    receiver = Receiver(secret_holder)
    with throwaway_database(args.db) as (url, _):
        with db.write_session(url) as s:
            ws = workspaces.create_workspace(s, slug="bench", name="Bench Tours", currency="USD", timezone="UTC")
            s.execute(sa.update(Action).where(Action.workspace_id == ws.id).values(enabled=False))
            endpoint, secret = webhooks.create_endpoint(s, workspace_id=ws.id, url=receiver.url,
                                                        events=["certificate.created"])
            secret_holder["secret"] = secret
            for n in range(args.count):
                lifecycle.issue_certificate(s, ws, purchaser_name="Bench Buyer", purchaser_email=f"b{n}@example.com",
                                            recipient_name="Bench Guest", recipient_email=f"g{n}@example.com",
                                            amount="100", source=CertificateSource.API, paid=False, actor="bench")
        started = time.perf_counter()
        cpu0 = time.process_time()

        def drain():
            w = Worker(url)
            while w.run_one():
                pass

        threads = [threading.Thread(target=drain) for _ in range(args.workers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu0
        delivered = sum(receiver.seen.values())
        with db.read_session(url) as s:
            bodies = [row[0] for row in s.execute(sa.text("SELECT body FROM webhook_deliveries ORDER BY id"))]

        # the ceiling: the same sender and bodies, no database
        receiver.seen.clear()
        c0 = time.perf_counter()
        for body in bodies:
            event = json.loads(body)
            sender.send(receiver.url, body, secret, event_id=event["id"], event_type=event["type"])
        ceiling = time.perf_counter() - c0

    ok = delivered == args.count and receiver.bad == 0 and len(bodies) == args.count
    rate, limit = args.count / elapsed, len(bodies) / ceiling
    print(f"{args.db}: {args.count:,} events, {args.workers} worker(s); every event once and signed: "
          f"{'yes' if ok else 'NO'} (delivered {delivered:,}, bad signatures {receiver.bad})")
    print(f"  outbox -> receiver   {rate:8.0f} events/s   {1000 * cpu / args.count:6.2f} ms CPU per event "
          f"(dispatch + delivery, this process)")
    print(f"  sender alone         {limit:8.0f} events/s   (same client, same bodies, no database)")
    print(f"  ratio                {rate / limit:8.2f}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
