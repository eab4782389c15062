"""Races through the checkout widget, at the websocket of the app in production mode (the
`app_server` fixture: `reflex run --env prod`, SQLite): many booking checkouts apply codes at
the same moment, and the outcome is the API's — one code is spent once, an order is never paid
past its total. Each checkout is its own browser tab with its own widget session."""

from __future__ import annotations

import asyncio
import itertools

from sqlmodel import select

from giftcerts import db
from giftcerts.core import activity, redemption, workspaces
from giftcerts.models import Order, Redemption
from giftcerts.web.routes import WIDGET
from tests.factories import make_certificate
from tests.reflex_client import Tab

_runs = itertools.count(1)


def _apply_event() -> str:
    from giftcerts.ui.widget.redeem import WidgetState

    return f"{WidgetState.get_full_name()}.apply"


def _checkouts(app_server, *, certificates: list[str], orders: list[int], sessions_per_order: int = 1):
    """Certificates (amounts as typed), orders (totals in cents) and a widget session for each
    checkout tab: `sessions_per_order` tabs on each order."""
    run = next(_runs)
    with db.write_session(app_server["db_url"]) as s:
        ws = workspaces.find_workspace(s, app_server["workspace"])
        codes = [make_certificate(s, ws, amount=amount).code for amount in certificates]
        made = [redemption.create_order(s, ws, reference=f"WIDGET-RACE-{run}-{n}", total_cents=total)
                for n, total in enumerate(orders)]
        tokens = [(order.id, redemption.create_widget_session(s, ws, order_id=order.id)[1])
                  for order in made for _ in range(sessions_per_order)]
    return codes, tokens


def _all_apply_at_once(base: str, attempts: list[tuple[str, str]]) -> list[str]:
    """Each (widget session token, code) in its own tab: every tab loads the widget first, then
    all press Apply at the same moment. What each tab was told, in order."""
    async def main():
        tabs = [Tab(base) for _ in attempts]
        await asyncio.gather(*(tab.open(WIDGET, query={"session": token})
                               for tab, (token, _) in zip(tabs, attempts)))
        try:
            for tab in tabs:
                tab.frames.clear()
            await asyncio.gather(*(tab.emit(_apply_event(), {"form": {"code": code}})
                                   for tab, (_, code) in zip(tabs, attempts)))
            await asyncio.gather(*(tab.settle() for tab in tabs))
            return [_told(tab.frames) for tab in tabs]
        finally:
            await asyncio.gather(*(tab.close() for tab in tabs))
    return asyncio.run(main())


def _told(frames: list[dict]) -> str:
    """The widget's last notice or error in a tab's frames."""
    said = ""
    for frame in frames:
        for delta in (frame.get("delta") or {}).values():
            for name, value in delta.items():
                if (name.startswith("notice") or name.startswith("error")) and value:
                    said = value
    return said


def test_one_code_applied_in_forty_checkouts_at_once_is_spent_once(app_server):
    (code,), tokens = _checkouts(app_server, certificates=["50"], orders=[90000] * 40)
    told = _all_apply_at_once(app_server["base"], [(token, code) for _, token in tokens])
    applied = [t for t in told if t.startswith("Gift certificate") and "applied" in t]
    assert len(applied) == 1, told
    assert all("already been used" in t for t in told if t not in applied), told
    with db.read_session(app_server["db_url"]) as s:
        reds = s.exec(select(Redemption).join(Order, Order.id == Redemption.order_id)
                      .where(Order.id.in_([order_id for order_id, _ in tokens]))).all()
        assert len(reds) == 1
        kinds = [a.kind for a in activity.history(s, workspace_id=reds[0].workspace_id,
                                                  certificate_id=reds[0].certificate_id)]
        assert kinds.count("Redeemed") == 1


def test_twenty_certificates_applied_to_one_order_at_once_never_pay_more_than_its_total(app_server):
    codes, tokens = _checkouts(app_server, certificates=["50"] * 20, orders=[25000], sessions_per_order=20)
    told = _all_apply_at_once(app_server["base"], [(token, code) for (_, token), code in zip(tokens, codes)])
    assert sum(1 for t in told if t.startswith("Gift certificate") and "applied" in t) == 5, told
    order_id = tokens[0][0]
    with db.read_session(app_server["db_url"]) as s:
        assert s.get(Order, order_id).amount_due_cents == 0
        reds = s.exec(select(Redemption).where(Redemption.order_id == order_id)).all()
        assert len(reds) == 5 and sum(r.amount_cents for r in reds) == 25000
