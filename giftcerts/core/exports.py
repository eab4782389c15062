"""CSV exports of the certificates list and of the sales figures.

Rows are produced batch by batch (see `search.iter_certificates`), so an export of a
million certificates holds one batch in memory. Amounts are exact decimal strings made
from minor units (never floats). Every text cell that a spreadsheet would read as a
formula (starting with = + - @, a tab or a carriage return) gets a leading apostrophe:
names, emails and messages are typed by customers, and "=HYPERLINK(...)" in a recipient
name must not become a live formula on an accountant's machine (CSV injection).

Codes are exported masked, like the list shows them: a file of every live code would be a
file of money.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from datetime import datetime

from sqlmodel import Session, select

from giftcerts.clock import to_local
from giftcerts.core import money, reports, search
from giftcerts.core.codes import mask_code
from giftcerts.models import Certificate, CertificateStatus, CertificateType, Workspace

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
BATCH_SIZE = 1000


def neutralise(value: object) -> str:
    """A cell as text that no spreadsheet will evaluate."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_TRIGGERS) else text


def _when(moment: datetime | None, tz_name: str) -> str:
    local = to_local(moment, tz_name)
    return local.replace(microsecond=0).isoformat() if local else ""


def type_names(session: Session, workspace_id: int) -> dict[int, str]:
    return {t.id: t.name for t in session.exec(
        select(CertificateType).where(CertificateType.workspace_id == workspace_id))}


def certificate_header(ws: Workspace) -> list[str]:
    tz = ws.timezone
    return ["ID", "Code (masked)", "Status", "Amount", "Currency", "Amount (minor units)", "Source", "Type",
            "Purchaser name", "Purchaser email", "Recipient name", "Recipient email",
            f"Created ({tz})", f"Activated ({tz})", f"Expires ({tz})", f"Redeemed ({tz})", f"Voided ({tz})",
            "Void reason"]


def certificate_cells(cert: Certificate, ws: Workspace, types: dict[int, str]) -> list[object]:
    tz = ws.timezone
    cells = [
        cert.id, mask_code(cert.code), CertificateStatus(cert.status).label,
        money.format_plain(cert.amount_cents, cert.currency), cert.currency, cert.amount_cents,
        cert.source, types.get(cert.certificate_type_id, "") if cert.certificate_type_id else "",
        cert.purchaser_name, cert.purchaser_email, cert.recipient_name, cert.recipient_email,
        _when(cert.created_at, tz), _when(cert.activated_at, tz), _when(cert.expires_at, tz),
        _when(cert.redeemed_at, tz), _when(cert.voided_at, tz), cert.void_reason or "",
    ]
    return cells


def csv_lines(rows: Iterable[list[object]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    for row in rows:
        writer.writerow([neutralise(c) for c in row])
    return buffer.getvalue().encode("utf-8")


def certificates_csv(open_session, ws: Workspace, *, query: str | None, status: str | None,
                     batch_size: int = BATCH_SIZE) -> Iterator[bytes]:
    """The filtered certificates list as CSV, one chunk per batch (UTF-8 with a BOM for Excel)."""
    with open_session() as session:
        types = type_names(session, ws.id)
    yield "\ufeff".encode() + csv_lines([certificate_header(ws)])
    for batch in search.iter_certificates(open_session, workspace_id=ws.id, query=query, status=status,
                                          batch_size=batch_size):
        yield csv_lines(certificate_cells(cert, ws, types) for cert in batch)


def _rate(part: int, whole: int) -> str:
    """A share as an exact percentage with two decimals (integer arithmetic, half up)."""
    if not whole:
        return ""
    hundredths = (part * 10000 * 2 + whole) // (2 * whole)
    return f"{hundredths // 100}.{hundredths % 100:02d}%"


def report_rows(ov: reports.Overview, ws: Workspace, *, type_label: str, source_label: str) -> list[list[str]]:
    """The Overview's figures as rows: what, how many, how much, and what the figure means."""
    cur = ws.currency
    plain = lambda cents: money.format_plain(cents, cur)  # noqa: E731
    days = ov.average_days_to_redemption
    p = ov.period
    rows: list[list[str]] = [
        ["Workspace", ws.name],
        ["Period", reports.PERIODS[p.kind], p.first_day.isoformat(), p.last_day.isoformat(), ws.timezone],
        ["Certificate type", type_label],
        ["Source", source_label],
        [],
        ["Figure", "Count", "Value", "Currency", "Explanation"],
        ["Revenue (sold)", ov.sold_count, plain(ov.sold_cents), cur, reports.CAPTIONS["revenue"]],
        ["Sold, since voided", ov.voided_later_count, plain(ov.voided_later_cents), cur,
         "Part of Revenue voided after the sale."],
        ["Redeemed (of sold)", ov.redeemed_count, plain(ov.redeemed_cents), cur, reports.CAPTIONS["redemption"]],
        ["Redemption rate by count", _rate(ov.redeemed_count, ov.sold_count), "", "", ""],
        ["Redemption rate by value", _rate(ov.redeemed_cents, ov.sold_cents), "", "", ""],
        ["Average days activation to redemption", "", "" if days is None else f"{days:.1f}", "",
         reports.CAPTIONS["days"]],
        ["Outstanding (now)", ov.outstanding_count, plain(ov.outstanding_cents), cur,
         reports.CAPTIONS["outstanding"]],
        ["Expiring in 30 days", ov.expiring_count, plain(ov.expiring_cents), cur, reports.CAPTIONS["expiring"]],
        ["Breakage", ov.breakage_count, plain(ov.breakage_cents), cur, reports.CAPTIONS["breakage"]],
        ["Voided", ov.voided_count, plain(ov.voided_cents), cur, reports.CAPTIONS["voided"]],
        ["Refunded", ov.refunded_count, plain(ov.refunded_cents), cur,
         "Card refunds recorded by payments; refunds made by voiding are under Voided."],
        [],
        [f"Revenue by {p.granularity} (starting)", "Count", "Value", "Currency"],
        *[[b.first_day.isoformat(), b.count, plain(b.value_cents), cur] for b in ov.series],
        [],
        ["Popular amounts", "Count", "Value", "Currency"],
        *[[plain(a.amount_cents), a.count, plain(a.value_cents), cur] for a in ov.amounts],
    ]
    return [[neutralise(c) for c in row] for row in rows]
