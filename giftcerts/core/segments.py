"""Segments: the customers and markets a certificate type may be restricted to.

A segment is either a customer group, whose members are email addresses or email
domains, or a market, identified by a market code (the portal's entry link `?market=XX` or
the visitor's own choice). A visitor may buy a restricted type when they belong to at least
one of its segments. Which types that offers a visitor is decided in
giftcerts.core.certificate_types.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import sqlalchemy as sa
from email_validator import EmailNotValidError, validate_email
from sqlmodel import Session, select

from giftcerts.core.errors import ValidationError
from giftcerts.core.scoped import get_in_workspace
from giftcerts.core.validation import clean_text
from giftcerts.models import (CertificateType, CertificateTypeSegment, Segment, SegmentKind, SegmentMember,
                              Workspace)

MARKET_CODE = re.compile(r"^[A-Z0-9][A-Z0-9-]{0,9}$")
DOMAIN = re.compile(r"^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
MAX_MEMBERS = 5000


@dataclass(frozen=True)
class Visitor:
    """Who is looking at the portal: the purchaser email entered so far and the market chosen."""

    email: str = ""
    market: str = ""


# --- segments --------------------------------------------------------------------------------

def normalize_market(code: str | None) -> str:
    """`us`, ` US ` -> `US`; anything that cannot be a market code -> ''."""
    text = (code or "").strip().upper()
    return text if MARKET_CODE.match(text) else ""


def parse_members(text: str | None, errors: dict[str, str], field: str = "members") -> list[tuple[str, str]]:
    """One entry per line (or comma): `ana@example.com` is an address, `example.com` or
    `@example.com` a whole email domain. Stored lower-case, without duplicates."""
    found: list[tuple[str, str]] = []
    for raw in re.split(r"[\s,;]+", text or ""):
        entry = raw.strip().lower()
        if not entry:
            continue
        if "@" in entry.lstrip("@"):
            try:
                member = ("email", validate_email(entry, check_deliverability=False).normalized.lower())
            except EmailNotValidError:
                errors[field] = f"“{raw[:60]}” is not an email address or a domain."
                return []
        else:
            domain = entry.lstrip("@")
            try:
                domain = domain.encode("idna").decode("ascii")
            except UnicodeError:
                domain = ""
            if not DOMAIN.match(domain):
                errors[field] = f"“{raw[:60]}” is not an email address or a domain (like example.com)."
                return []
            member = ("domain", domain)
        if member not in found:
            found.append(member)
    if len(found) > MAX_MEMBERS:
        errors[field] = f"A customer group can have at most {MAX_MEMBERS} entries."
        return []
    return found


def get_segment(session: Session, workspace_id: int, segment_id) -> Segment:
    return get_in_workspace(session, Segment, workspace_id, segment_id, not_found="Segment not found.")


def list_segments(session: Session, workspace_id: int) -> list[Segment]:
    return list(session.exec(select(Segment).where(Segment.workspace_id == workspace_id)
                             .order_by(Segment.kind, Segment.name)))


def members(session: Session, segment: Segment) -> list[SegmentMember]:
    return list(session.exec(select(SegmentMember).where(SegmentMember.segment_id == segment.id)
                             .order_by(SegmentMember.kind.desc(), SegmentMember.value)))


def members_text(session: Session, segment: Segment) -> str:
    return "\n".join(m.value for m in members(session, segment))


def save_segment(session: Session, workspace: Workspace, *, segment_id=None, name: str | None, kind: str | None,
                 market_code: str | None = "", members_text: str | None = "") -> Segment:
    """Create or change a segment; every problem is reported at once."""
    errors: dict[str, str] = {}
    name = clean_text(name)
    if not name:
        errors["name"] = "Enter a name for the segment."
    elif len(name) > 100:
        errors["name"] = "The name must be at most 100 characters."
    try:
        kind_value = SegmentKind(kind or "").value
    except ValueError:
        errors["kind"] = "Choose a customer group or a market."
        kind_value = SegmentKind.CUSTOMER_GROUP.value
    segment = get_segment(session, workspace.id, segment_id) if segment_id else None
    if segment is not None and segment.kind != kind_value:
        errors["kind"] = "A segment's kind cannot change; create a new segment instead."
    code = None
    entries: list[tuple[str, str]] = []
    if kind_value == SegmentKind.MARKET.value:
        code = normalize_market(market_code)
        if not code:
            errors["market_code"] = "Enter a market code of 1 to 10 letters or digits, such as US or DE."
        elif session.exec(select(Segment.id).where(Segment.workspace_id == workspace.id, Segment.market_code == code,
                                                   Segment.id != (segment.id if segment else 0))).first():
            errors["market_code"] = f"Another segment already uses the market code {code}."
    else:
        entries = parse_members(members_text, errors)
    if name and session.exec(select(Segment.id).where(Segment.workspace_id == workspace.id, Segment.name == name,
                                                      Segment.id != (segment.id if segment else 0))).first():
        errors["name"] = f"A segment named “{name}” already exists."
    if errors:
        raise ValidationError(errors)
    if segment is None:
        segment = Segment(workspace_id=workspace.id, name=name, kind=kind_value, market_code=code)
    else:
        segment.name, segment.market_code = name, code
    session.add(segment)
    session.flush()
    if kind_value == SegmentKind.CUSTOMER_GROUP.value:
        session.execute(sa.delete(SegmentMember).where(SegmentMember.segment_id == segment.id))
        session.add_all([SegmentMember(workspace_id=workspace.id, segment_id=segment.id, kind=k, value=v)
                         for k, v in entries])
        session.flush()
    return segment


def delete_segment(session: Session, workspace: Workspace, *, segment_id) -> None:
    """Remove a segment. Types it restricted lose that restriction (and may become open to all,
    so the caller warns first: see `types_restricted_by`)."""
    segment = get_segment(session, workspace.id, segment_id)
    session.execute(sa.delete(CertificateTypeSegment).where(CertificateTypeSegment.segment_id == segment.id))
    session.execute(sa.delete(SegmentMember).where(SegmentMember.segment_id == segment.id))
    session.delete(segment)
    session.flush()


def types_restricted_by(session: Session, segment: Segment) -> list[CertificateType]:
    return list(session.exec(select(CertificateType).join(
        CertificateTypeSegment, CertificateTypeSegment.certificate_type_id == CertificateType.id)
        .where(CertificateTypeSegment.segment_id == segment.id).order_by(CertificateType.name)))


def markets(session: Session, workspace_id: int) -> list[Segment]:
    return list(session.exec(select(Segment).where(Segment.workspace_id == workspace_id,
                                                   Segment.kind == SegmentKind.MARKET.value)
                             .order_by(Segment.name)))


def _domains(email: str) -> list[str]:
    """`ana@mail.corp.com` -> ['mail.corp.com', 'corp.com']: a group listing corp.com includes subdomains."""
    domain = email.rsplit("@", 1)[-1]
    parts = domain.split(".")
    return [".".join(parts[i:]) for i in range(len(parts) - 1)]


def visitor_segments(session: Session, workspace_id: int, visitor: Visitor) -> set[int]:
    """The ids of the segments this visitor belongs to."""
    found: set[int] = set()
    email = (visitor.email or "").strip().lower()
    if email and "@" in email:
        rows = session.exec(select(SegmentMember.segment_id).where(
            SegmentMember.workspace_id == workspace_id,
            sa.or_(sa.and_(SegmentMember.kind == "email", SegmentMember.value == email),
                   sa.and_(SegmentMember.kind == "domain", SegmentMember.value.in_(_domains(email))))))
        found.update(rows)
    market = normalize_market(visitor.market)
    if market:
        found.update(session.exec(select(Segment.id).where(Segment.workspace_id == workspace_id,
                                                           Segment.market_code == market)))
    return found
