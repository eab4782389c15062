"""CPU time of the widget's Apply against the API's redemption, in the same run.

    .venv/bin/python bench/widget_cpu.py                 # SQLite (what `make run` serves), 5 rounds of 300
    .venv/bin/python bench/widget_cpu.py --db postgres

Both go through the one redemption path; the widget adds its own work around it (its widget
session, the guess budgets, re-reading the checkout to show it, the message to the booking
page). This measures, one request at a time and in-process like bench/redeem_cpu.py:

- API: POST /api/v1/redemptions (distinct code, its own order, an Idempotency-Key) into the
  API's ASGI app;
- widget: the real `WidgetState.apply` event handler, called as Reflex calls it, on a page
  state whose URL carries a widget session for the code's own order — everything but
  Reflex's websocket framing and delta encoding.

It prints app CPU per redemption (`time.process_time`, min and median over the rounds) for
each and the ratio widget/API against the target (<= 1.5). Exit status 1 when it fails.
Every redemption must succeed.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import os
import statistics
import sys
import time
from pathlib import Path


ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from redeem_cpu import call, seed, throwaway_database  # noqa: E402

from giftcerts import db  # noqa: E402

TARGET = 1.5


def widget_sessions(url: str, order_ids: list[int]) -> list[str]:
    from giftcerts.core import redemption, workspaces

    with db.write_session(url) as s:
        ws = workspaces.find_workspace(s, "bench")
        return [redemption.create_widget_session(s, ws, order_id=oid)[1] for oid in order_ids]


_tab = {}


def apply_in_widget(token: str, code: str) -> None:
    """One Apply, through the widget page's own event handler, in one tab's state (kept, as
    the server keeps a tab's; only the page's URL changes)."""
    import reflex as rx
    from reflex.istate.data import RouterData

    from giftcerts.ui.widget.redeem import WidgetState

    if "root" not in _tab:
        _tab["root"] = rx.State(_reflex_internal_init=True)
    root = _tab["root"]
    root.router = RouterData.from_router_data({
        "query": {"session": token}, "pathname": "/widget/redeem", "asPath": f"/widget/redeem?session={token}",
        "headers": {"origin": "http://localhost:3000"}, "ip": "203.0.113.9",
    })
    state = root.get_substate(WidgetState.get_full_name().split("."))
    result = WidgetState.event_handlers["apply"].fn(state, {"code": code})
    if inspect.isgenerator(result):
        list(result)
    if not state.notice.startswith("Gift certificate"):
        raise SystemExit(f"the widget did not apply {code}: {state.error!r}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["postgres", "sqlite"], default="sqlite")
    parser.add_argument("-n", type=int, default=1500, help="measured redemptions per side (default 1500)")
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    with throwaway_database(args.db) as (url, _):
        per_side = args.n + args.warmup
        key, pairs = seed(url, 2 * per_side)
        api_pairs, widget_pairs = pairs[:per_side], pairs[per_side:]
        tokens = widget_sessions(url, [oid for _, oid in widget_pairs])

        import giftcerts.giftcerts  # noqa: F401  (registers every page State, as the server does)
        from starlette.applications import Starlette

        from giftcerts.api.routes import routes
        app = Starlette(routes=routes())

        async def api_batch(batch):
            for code, order_id in batch:
                status, body = await call(app, key, code, order_id)
                if status != 201:
                    raise SystemExit(f"expected 201, got {status}: {body[:300]!r}")

        def widget_batch(batch):
            for (code, _), token in batch:
                apply_in_widget(token, code)

        widget_items = list(zip(widget_pairs, tokens))
        asyncio.run(api_batch(api_pairs[:args.warmup]))
        widget_batch(widget_items[:args.warmup])
        n = args.n // args.rounds
        api_ms, widget_ms = [], []
        for r in range(args.rounds):  # alternate, so that both see the same machine
            lo, hi = args.warmup + r * n, args.warmup + (r + 1) * n
            cpu0 = time.process_time()
            asyncio.run(api_batch(api_pairs[lo:hi]))
            api_ms.append(1000 * (time.process_time() - cpu0) / n)
            cpu0 = time.process_time()
            widget_batch(widget_items[lo:hi])
            widget_ms.append(1000 * (time.process_time() - cpu0) / n)
        load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
        print(f"{args.db}: {args.rounds} rounds of {n} redemptions per side, one at a time, in-process "
              f"(load average {load})")
        print(f"{'':>6}  {'API app CPU ms':>14}  {'widget app CPU ms':>17}  {'widget/API':>10}")
        for label, pick in (("min", min), ("median", statistics.median)):
            api, widget = pick(api_ms), pick(widget_ms)
            print(f"{label:>6}  {api:>14.2f}  {widget:>17.2f}  {widget / api:>10.2f}")
        ratio = min(widget_ms) / min(api_ms)
        ok = ratio <= TARGET
        print(f"\n{'PASS' if ok else 'FAIL'}  widget Apply <= {TARGET}x the API's CPU per redemption   {ratio:.2f}x")
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
