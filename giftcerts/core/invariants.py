"""What must always hold between certificates, redemptions, orders and the activity log, and a
scan that reports every place where it does not (`giftcerts check`, and the fault tests).

Each rule is one aggregate query, so a scan reads each table a few times whatever its size,
and only reads: it runs beside live traffic. The database's own constraints (the unique
applied redemption per certificate, the amount-due CHECK, the activity's composite foreign
key) enforce some of these already; they are checked here too, because a database restored
from a dump, migrated by hand or written around the application may lack them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import Session

from giftcerts.core.activity import ActivityKind
from giftcerts.models import (Activity, Certificate, CertificateStatus, Order, OrderStatus, Redemption,
                              RedemptionStatus)

C = Certificate.__table__
R = Redemption.__table__
O = Order.__table__  # noqa: E741
A = Activity.__table__
APPLIED = RedemptionStatus.APPLIED.value
RELEASED = RedemptionStatus.RELEASED.value
REDEEMED = CertificateStatus.REDEEMED.value


@dataclass(frozen=True)
class Finding:
    rule: str      # one of RULES' names
    subject: str   # "certificate 12", "order 7", "redemption 3", "activity 40"
    detail: str

    def __str__(self) -> str:
        return f"{self.rule}: {self.subject}: {self.detail}"


def _applied_per_certificate() -> sa.Subquery:
    return (sa.select(R.c.certificate_id, sa.func.count().label("n"))
            .where(R.c.status == APPLIED).group_by(R.c.certificate_id).subquery("applied"))


def _redeemed_without_one_redemption(session: Session, limit: int) -> Iterator[Finding]:
    applied = _applied_per_certificate()
    n = sa.func.coalesce(applied.c.n, 0)
    rows = session.execute(
        sa.select(C.c.id, n).select_from(C.outerjoin(applied, applied.c.certificate_id == C.c.id))
        .where(C.c.status == REDEEMED, n != 1).order_by(C.c.id).limit(limit))
    for cert_id, count in rows:
        yield Finding("redeemed_without_one_redemption", f"certificate {cert_id}",
                      f"status Redeemed with {count} applied redemptions (exactly 1 expected)")


def _several_applied_redemptions(session: Session, limit: int) -> Iterator[Finding]:
    applied = _applied_per_certificate()
    rows = session.execute(sa.select(applied.c.certificate_id, applied.c.n).where(applied.c.n > 1)
                           .order_by(applied.c.certificate_id).limit(limit))
    for cert_id, count in rows:
        yield Finding("several_applied_redemptions", f"certificate {cert_id}",
                      f"{count} applied redemptions (a certificate pays for one order at most)")


def _applied_but_not_redeemed(session: Session, limit: int) -> Iterator[Finding]:
    rows = session.execute(
        sa.select(R.c.id, R.c.certificate_id, C.c.status).select_from(R.join(C, C.c.id == R.c.certificate_id))
        .where(R.c.status == APPLIED, C.c.status != REDEEMED).order_by(R.c.id).limit(limit))
    for red_id, cert_id, status in rows:
        yield Finding("applied_redemption_not_redeemed", f"redemption {red_id}",
                      f"applied, but its certificate {cert_id} is {status}, not redeemed")


def _order_amount_due(session: Session, limit: int) -> Iterator[Finding]:
    paid = (sa.select(R.c.order_id, sa.func.sum(R.c.amount_cents).label("paid"))
            .where(R.c.status == APPLIED).group_by(R.c.order_id).subquery("paid"))
    applied = sa.func.coalesce(paid.c.paid, 0)
    rows = session.execute(
        sa.select(O.c.id, O.c.total_cents, O.c.amount_due_cents, applied)
        .select_from(O.outerjoin(paid, paid.c.order_id == O.c.id))
        .where(O.c.amount_due_cents != O.c.total_cents - applied).order_by(O.c.id).limit(limit))
    for order_id, total, due, paid_cents in rows:
        yield Finding("order_amount_due_mismatch", f"order {order_id}",
                      f"amount due {due} != total {total} - applied redemptions {paid_cents} "
                      f"(= {total - paid_cents})")


def _order_amount_due_out_of_range(session: Session, limit: int) -> Iterator[Finding]:
    rows = session.execute(
        sa.select(O.c.id, O.c.total_cents, O.c.amount_due_cents)
        .where(sa.or_(O.c.amount_due_cents < 0, O.c.amount_due_cents > O.c.total_cents)).order_by(O.c.id).limit(limit))
    for order_id, total, due in rows:
        yield Finding("order_amount_due_out_of_range", f"order {order_id}",
                      f"amount due {due} outside 0..{total} (paid more than the order is worth, or credited)")


def _redemptions_against_their_rows(session: Session, limit: int) -> Iterator[Finding]:
    """A redemption spends its certificate in full, on an order in the same workspace and
    currency, and both exist."""
    rows = session.execute(
        sa.select(R.c.id, R.c.workspace_id, R.c.amount_cents, R.c.order_id, R.c.certificate_id,
                  C.c.id, C.c.workspace_id, C.c.amount_cents, C.c.currency, O.c.id, O.c.workspace_id, O.c.currency)
        .select_from(R.outerjoin(C, C.c.id == R.c.certificate_id).outerjoin(O, O.c.id == R.c.order_id))
        .where(sa.or_(C.c.id.is_(None), O.c.id.is_(None), R.c.amount_cents != C.c.amount_cents,
                      R.c.workspace_id != C.c.workspace_id, R.c.workspace_id != O.c.workspace_id,
                      C.c.currency != O.c.currency))
        .order_by(R.c.id).limit(limit))
    for (red_id, red_ws, red_amount, order_ref, cert_ref, cert_id, cert_ws, cert_amount, cert_currency,
         order_id, order_ws, order_currency) in rows:
        subject = f"redemption {red_id}"
        if cert_id is None or order_id is None:
            missing = [f"certificate {cert_ref}" if cert_id is None else "",
                       f"order {order_ref}" if order_id is None else ""]
            yield Finding("redemption_missing_row", subject, " and ".join(filter(None, missing)) + " does not exist")
            continue
        if red_amount != cert_amount:
            yield Finding("redemption_amount_mismatch", subject,
                          f"amount {red_amount} != certificate {cert_id}'s amount {cert_amount}")
        if not red_ws == cert_ws == order_ws:
            yield Finding("redemption_workspace_mismatch", subject,
                          f"workspace {red_ws}, its certificate {cert_id}'s {cert_ws}, "
                          f"its order {order_id}'s {order_ws}")
        if cert_currency != order_currency:
            yield Finding("redemption_currency_mismatch", subject,
                          f"certificate {cert_id} in {cert_currency} paid order {order_id} in {order_currency}")


def _activity_without_certificate(session: Session, limit: int) -> Iterator[Finding]:
    """An entry belongs to an existing certificate of its own workspace."""
    rows = session.execute(
        sa.select(A.c.id, A.c.certificate_id, A.c.workspace_id, A.c.kind)
        .select_from(A.outerjoin(C, sa.and_(C.c.id == A.c.certificate_id, C.c.workspace_id == A.c.workspace_id)))
        .where(C.c.id.is_(None)).order_by(A.c.id).limit(limit))
    for act_id, cert_id, ws_id, kind in rows:
        yield Finding("activity_without_certificate", f"activity {act_id}",
                      f"{kind} entry for certificate {cert_id} in workspace {ws_id}, which has no such certificate")


def _redemptions_logged(session: Session, limit: int) -> Iterator[Finding]:
    """Every redemption has its Redeemed entry and every release its Released entry, and no
    entry is without its change: per certificate the counts match."""
    counts = sa.union_all(
        sa.select(R.c.certificate_id, sa.literal(1).label("spent"), sa.literal(0).label("freed"),
                  sa.literal(0).label("logged_spent"), sa.literal(0).label("logged_freed")),
        sa.select(R.c.certificate_id, sa.literal(0), sa.literal(1), sa.literal(0), sa.literal(0))
        .where(R.c.status == RELEASED),
        sa.select(A.c.certificate_id, sa.literal(0), sa.literal(0), sa.literal(1), sa.literal(0))
        .where(A.c.kind == ActivityKind.REDEEMED.value),
        sa.select(A.c.certificate_id, sa.literal(0), sa.literal(0), sa.literal(0), sa.literal(1))
        .where(A.c.kind == ActivityKind.RELEASED.value),
    ).subquery("counts")
    totals = [sa.func.sum(counts.c[name]) for name in ("spent", "freed", "logged_spent", "logged_freed")]
    rows = session.execute(
        sa.select(counts.c.certificate_id, *totals).group_by(counts.c.certificate_id)
        .having(sa.or_(totals[0] != totals[2], totals[1] != totals[3])).order_by(counts.c.certificate_id).limit(limit))
    for cert_id, spent, freed, logged_spent, logged_freed in rows:
        yield Finding("redemption_log_mismatch", f"certificate {cert_id}",
                      f"{spent} redemptions and {freed} releases, but {logged_spent} Redeemed and "
                      f"{logged_freed} Released activity entries")


def _status_stamps(session: Session, limit: int) -> Iterator[Finding]:
    """A status carries the dates that explain it."""
    S = CertificateStatus
    missing = sa.case(
        (sa.and_(C.c.status == S.REDEEMED.value, C.c.redeemed_at.is_(None)), "Redeemed without redeemed_at"),
        (sa.and_(C.c.status == S.VOIDED.value, C.c.voided_at.is_(None)), "Voided without voided_at"),
        (sa.and_(C.c.status.in_([S.ACTIVE.value, S.REDEEMED.value, S.EXPIRED.value]),
                 sa.or_(C.c.activated_at.is_(None), C.c.expires_at.is_(None))),
         "without activated_at or expires_at"),
        else_=None)
    rows = session.execute(sa.select(C.c.id, C.c.status, missing).where(missing.is_not(None))
                           .order_by(C.c.id).limit(limit))
    for cert_id, status, what in rows:
        if what.startswith("without"):
            what = f"{status.capitalize()} {what}"
        yield Finding("status_without_dates", f"certificate {cert_id}", what)


def _order_lifecycle(session: Session, limit: int) -> Iterator[Finding]:
    """An order's status agrees with its redemptions (giftcerts.core.orders): a cancelled order
    has released them all; a completed one has captured every one still applied; only a
    completion captures; and each closed status has its date."""
    open_, completed, cancelled = (s.value for s in (OrderStatus.OPEN, OrderStatus.COMPLETED, OrderStatus.CANCELLED))
    checks = [
        (sa.and_(O.c.status == cancelled, R.c.status == APPLIED), "applied on a cancelled order"),
        (sa.and_(O.c.status == completed, R.c.status == APPLIED, R.c.captured_at.is_(None)),
         "still held on a completed order"),
        (sa.and_(O.c.status == open_, R.c.captured_at.is_not(None), R.c.status == APPLIED),
         "captured on an order that is still open"),
    ]
    for condition, what in checks:
        rows = session.execute(sa.select(R.c.id, O.c.id).select_from(R.join(O, O.c.id == R.c.order_id))
                               .where(condition).order_by(R.c.id).limit(limit))
        for red_id, order_id in rows:
            yield Finding("order_lifecycle", f"redemption {red_id}", f"{what} (order {order_id})")
    undated = sa.or_(sa.and_(O.c.status == completed, O.c.completed_at.is_(None)),
                     sa.and_(O.c.status == cancelled, O.c.cancelled_at.is_(None)))
    for order_id, status in session.execute(sa.select(O.c.id, O.c.status).where(undated).order_by(O.c.id).limit(limit)):
        yield Finding("order_lifecycle", f"order {order_id}", f"{status} without the date it was {status}")


RULES: dict[str, Callable[[Session, int], Iterator[Finding]]] = {
    "order_lifecycle": _order_lifecycle,
    "redeemed_without_one_redemption": _redeemed_without_one_redemption,
    "several_applied_redemptions": _several_applied_redemptions,
    "applied_redemption_not_redeemed": _applied_but_not_redeemed,
    "order_amount_due_mismatch": _order_amount_due,
    "order_amount_due_out_of_range": _order_amount_due_out_of_range,
    "redemptions_against_their_rows": _redemptions_against_their_rows,
    "activity_without_certificate": _activity_without_certificate,
    "redemption_log_mismatch": _redemptions_logged,
    "status_without_dates": _status_stamps,
}


def scan(session: Session, *, limit: int = 100) -> list[Finding]:
    """Every broken invariant, at most `limit` findings per rule (a broken bulk import would
    otherwise print millions of lines); an empty list means the database is consistent."""
    findings: list[Finding] = []
    for rule in RULES.values():
        findings.extend(rule(session, limit))
    return findings
